"""The listener's C-FIND SCP over the archive, queried by DCMTK findscu (Patient and Study
Root, each level, wildcards, ranges, UID lists) and checked against the archive."""

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.indexing import store_file
from archive.models import InstanceSource
from netjobs.listeners.manager import ListenerManager
from netjobs.models import Association, DimseMessage, Listener
from tests.archive_helpers import make_object
from tests.peers import DCMTK_ENV, free_port, require_tool

pytestmark = pytest.mark.django_db(transaction=True)
STUDY_A, STUDY_B = "1.2.826.0.1.3680043.8.498.100", "1.2.826.0.1.3680043.8.498.200"


@pytest.fixture
def port(settings: Any, tmp_path: Path) -> Iterator[int]:
    settings.STORAGE_ROOT = tmp_path / "storage"
    rows = [("Doe^John", "P1", "20240105", "CT", "ACC1", STUDY_A),
            ("Doe^John", "P1", "20240105", "CT", "ACC1", STUDY_A),
            ("Smith^Anna", "P2", "20231231", "MR", "ACC2", STUDY_B)]
    for name, pid, date, modality, accession, study in rows:
        store_file(make_object(tmp_path, patient_name=name, patient_id=pid, study_date=date,
                               modality=modality, accession=accession, study_uid=study),
                   source=InstanceSource.UPLOAD)
    listener = Listener.objects.create(name="qr", ae_title="CONSOLE", port=free_port())
    manager = ListenerManager(owner="test")
    manager.reconcile()
    try:
        yield listener.port
    finally:
        for listener_id in list(manager.running):
            manager.running.pop(listener_id).stop()


def findscu(port: int, root: str, *keys: str) -> list[dict[str, str]]:
    """Run findscu; each response identifier as {keyword: value}."""
    done = subprocess.run([require_tool("findscu"), "-v", root, "-aec", "CONSOLE",
                           "127.0.0.1", str(port), *[a for k in keys for a in ("-k", k)]],
                          env=DCMTK_ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answers: list[dict[str, str]] = []
    for line in (done.stdout + done.stderr).splitlines():
        if "Find Response:" in line and "Pending" in line:
            answers.append({})
        match = re.search(r"\(([0-9a-f]{4},[0-9a-f]{4})\) \w\w (?:\[(.*?)\]|\((no value)).*"
                          r"#.*\s(\w+)$", line)
        if match and answers:
            answers[-1][match[4]] = (match[2] or "").rstrip("\x00 ")  # UI pads with NUL
    return answers


def test_study_root_study_level_with_wildcards_and_ranges(port: int) -> None:
    found = findscu(port, "-S", "QueryRetrieveLevel=STUDY", "PatientName=doe*",
                    "StudyInstanceUID", "StudyDate", "ModalitiesInStudy",
                    "NumberOfStudyRelatedInstances")
    assert len(found) == 1
    assert found[0]["StudyInstanceUID"] == STUDY_A
    assert found[0]["StudyDate"] == "20240105" and found[0]["ModalitiesInStudy"] == "CT"
    assert found[0]["NumberOfStudyRelatedInstances"] == "2"
    in_range = findscu(port, "-S", "QueryRetrieveLevel=STUDY", "StudyDate=20231201-20231231",
                       "PatientName")
    assert [a["PatientName"] for a in in_range] == ["Smith^Anna"]
    everything = findscu(port, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                         "AccessionNumber=ACC?")
    assert {a["StudyInstanceUID"] for a in everything} == {STUDY_A, STUDY_B}
    uid_list = findscu(port, "-S", "QueryRetrieveLevel=STUDY",
                       f"StudyInstanceUID={STUDY_B}\\1.2.3.4")
    assert [a["StudyInstanceUID"] for a in uid_list] == [STUDY_B]


def test_patient_root_each_level(port: int) -> None:
    patients = findscu(port, "-P", "QueryRetrieveLevel=PATIENT", "PatientID", "PatientName")
    assert {a["PatientID"] for a in patients} == {"P1", "P2"}
    series = findscu(port, "-P", "QueryRetrieveLevel=SERIES", "PatientID=P1",
                     f"StudyInstanceUID={STUDY_A}", "SeriesInstanceUID", "Modality")
    assert len(series) == 2 and {a["Modality"] for a in series} == {"CT"}
    images = findscu(port, "-P", "QueryRetrieveLevel=IMAGE", "PatientID=P1",
                     "SOPInstanceUID", "InstanceNumber")
    assert len(images) == 2


def test_a_patient_level_query_in_study_root_is_refused(port: int) -> None:
    from netjobs.dicom.status import DimseStatus
    from tests.listener_helpers import settled
    assert findscu(port, "-S", "QueryRetrieveLevel=PATIENT", "PatientID") == []
    listener = Listener.objects.get(port=port)
    settled(listener, 1)  # findscu exits 0 on a refusal too: the response says it
    statuses = list(DimseMessage.objects.filter(
        association__listener=listener, command="C-FIND-RSP").values_list("status", flat=True))
    assert statuses == [DimseStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS]


def test_find_responses_honour_cancel_and_bad_identifiers(db: Any, settings: Any,
                                                          tmp_path: Path) -> None:
    from pydicom.dataset import Dataset

    from netjobs.dicom.status import DimseStatus
    from netjobs.listeners.handlers import find_responses

    settings.STORAGE_ROOT = tmp_path / "storage"
    for index in range(3):
        store_file(make_object(tmp_path, patient_name=f"P^{index}", patient_id=f"C{index}",
                               study_date="20240101", modality="OT"),
                   source=InstanceSource.UPLOAD)
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientID = ""
    calls = iter([False, True, True, True])
    statuses = [status for status, _ in find_responses(query, "PATIENT", lambda: next(calls))]
    assert statuses == [DimseStatus.PENDING, DimseStatus.CANCEL]
    everything = list(find_responses(query, "PATIENT", lambda: False))
    assert [s for s, _ in everything] == [DimseStatus.PENDING] * 3
    assert {answer.PatientID for _, answer in everything} == {"C0", "C1", "C2"}
    query.QueryRetrieveLevel = "WORLD"
    assert [s for s, _ in find_responses(query, "PATIENT", lambda: False)] == [
        DimseStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS]
    query.QueryRetrieveLevel = "STUDY"
    query.StudyDate = "notadate-"
    assert [s for s, _ in find_responses(query, "STUDY", lambda: False)] == [
        DimseStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS]



def test_gdcmscu_find_is_answered_with_the_matches(port: int) -> None:
    """Debian's gdcmscu 3.0.21 aborts at the end of every association it opens, even a
    C-ECHO to DCMTK's storescp ("ProtocolStream as nullptr is invalid"), before it prints
    what it received. What the console answered is in its association record."""
    subprocess.run([require_tool("gdcmscu"), "--find", "--studyroot", "--study",
                    "--call", "CONSOLE", "--aetitle", "GDCM", "--key", "8,52=STUDY",
                    "--key", "10,10=doe*", "--key", "20,d=", "127.0.0.1", str(port)],
                   capture_output=True, timeout=60)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not Association.objects.filter(
            calling_ae_title="GDCM", ended_at__isnull=False).exists():
        time.sleep(0.05)
    record = Association.objects.get(calling_ae_title="GDCM")
    responses = list(record.dimse_messages.filter(command="C-FIND-RSP").order_by("pk")
                     .values_list("status", flat=True))
    assert responses == [0xFF00, 0x0000]  # one match (STUDY_A), then success
    assert record.dimse_messages.filter(command="C-FIND-RQ").count() == 1
