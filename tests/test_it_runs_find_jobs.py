"""C-FIND jobs end to end (API → a real Celery worker → pynetdicom) against DCMTK dcmqrscp
and wlmscpfs, the console's own listener, Orthanc and pynetdicom peers written here; their
matches compared with DCMTK findscu running the job's own command line, with Orthanc's REST
API and with the archive."""

from __future__ import annotations

import csv
import io
import json
import shlex
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
)

from archive.indexing import store_file
from archive.models import InstanceSource, Series, Study
from console.tokens import issue_token
from netjobs.dicom.status import DimseStatus
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    Association,
    AssociationOutcome,
    DimseMessage,
    ItemOutcome,
    Job,
    JobItem,
    JobStatus,
)
from tests.archive_helpers import make_object
from tests.conftest import logged_in, wait_for_job
from tests.listener_helpers import dcmtk, make_listener
from tests.peers import (
    DCMTK_ENV,
    _running,
    dcmtk_qrscp,
    echo_until_ready,
    free_port,
    orthanc,
    require_tool,
)

pytestmark = pytest.mark.django_db(transaction=True)

STUDY_A, STUDY_B, STUDY_C = (f"1.2.826.0.1.3680043.8.498.7{n}" for n in (1, 2, 3))
SERIES_A1, SERIES_A2 = "1.2.826.0.1.3680043.8.498.711", "1.2.826.0.1.3680043.8.498.712"


# --- helpers ------------------------------------------------------------------------------

def api(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'test').raw}"})


def submit(user: User, kind: str, params: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = api(user).post("/api/jobs", {"kind": kind, "params": params},
                              content_type="application/json")
    assert response.status_code == status, response.content
    return dict(response.json())


def run_job(user: User, params: dict[str, Any], seconds: float = 60) -> Job:
    return wait_for_job(Job.objects.get(pk=submit(user, "find", params)["id"]), seconds)


def command(user: User, job: Job, tool_set: str) -> list[str]:
    body = api(user).get(f"/api/jobs/{job.pk}").json()
    (line,) = [c["command"] for c in body["commands"] if c["tool_set"] == tool_set]
    return shlex.split(line)


def findscu_oracle(argv: list[str], out: Path) -> list[dict[str, str]]:
    """Run the job's own DCMTK command line with -X: the responses as flat rows."""
    out.mkdir()
    done = subprocess.run([require_tool(argv[0]), "-X", "-od", str(out), *argv[1:]],
                          env=DCMTK_ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return [keyword_values(dcmread(path, force=True))
            for path in sorted(out.glob("rsp*.dcm"))]


def keyword_values(ds: Dataset, prefix: str = "") -> dict[str, str]:
    """Each element as pydicom decodes it, sequence items as Sequence/Keyword (Sequence[i]/
    after the first): the same reading for findscu's files and the job's stored JSON, none
    of the console's."""
    values: dict[str, str] = {}
    for element in ds:
        if not element.keyword:
            continue
        if element.VR != "SQ":
            values[prefix + element.keyword] = str(element.value)
            continue
        values[prefix + element.keyword] = f"{len(element.value)} item(s)"
        for index, item in enumerate(element.value):
            inner = element.keyword + (f"[{index}]" if index else "")
            values.update(keyword_values(item, f"{prefix}{inner}/"))
    return values


def job_rows(job: Job) -> list[dict[str, str]]:
    return [keyword_values(Dataset.from_json(json.loads(item.message)))
            for item in JobItem.objects.filter(job=job)]


def by(key: str, rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row[key]: row for row in rows}


def studies(folder: Path) -> list[Path]:
    """Four instances: two series of a CT study, an MR study, and a CT study of 2023."""
    folder.mkdir(exist_ok=True)
    rows = [("DOE^JOHN", "P1", "20240105", "CT", "ACC1", STUDY_A, SERIES_A1),
            ("DOE^JOHN", "P1", "20240105", "CT", "ACC1", STUDY_A, SERIES_A2),
            ("DOE^JANE", "P2", "20240210", "MR", "ACC2", STUDY_B, None),
            ("SMITH^ANNA", "P3", "20231231", "CT", "ACC3", STUDY_C, None)]
    return [make_object(folder, patient_name=name, patient_id=pid, study_date=date,
                        modality=modality, accession=accession, study_uid=study,
                        series_uid=series, description=f"{modality} study")
            for name, pid, date, modality, accession, study, series in rows]


def load(port: int, called: str, files: list[Path]) -> None:
    sent = dcmtk("storescu", "-aec", called, "127.0.0.1", str(port), *map(str, files))
    assert sent.returncode == 0, sent.stdout + sent.stderr


# --- peers written for these tests ---------------------------------------------------------

@dataclass
class SlowFindScp:
    port: int
    pending_sent: int = 0
    cancel_seen: threading.Event = field(default_factory=threading.Event)


@contextmanager
def slow_find_scp(matches: int, delay: float) -> Iterator[SlowFindScp]:
    """A pynetdicom Study Root Find SCP answering ``matches`` matches, one every ``delay``
    seconds, that honours C-CANCEL."""
    scp = SlowFindScp(free_port())

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        for n in range(matches):
            if event.is_cancelled:
                scp.cancel_seen.set()
                yield DimseStatus.CANCEL, None
                return
            time.sleep(delay)
            answer = Dataset()
            answer.QueryRetrieveLevel = "STUDY"
            answer.PatientName = f"SLOW^{n:03d}"
            answer.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.9.{n}"
            scp.pending_sent += 1
            yield DimseStatus.PENDING, answer

    ae = AE(ae_title="SLOWFIND")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    server = ae.start_server(("127.0.0.1", scp.port), block=False,
                             evt_handlers=[(evt.EVT_C_FIND, on_find)])
    assert server is not None
    try:
        yield scp
    finally:
        server.shutdown()


@contextmanager
def worklist_scp(workdir: Path, entries: list[Dataset], ae_title: str = "WLM") -> Iterator[int]:
    """DCMTK wlmscpfs serving ``entries`` as worklist files."""
    folder = workdir / "worklists" / ae_title
    folder.mkdir(parents=True)
    (folder / "lockfile").touch()
    for n, entry in enumerate(entries):
        entry.save_as(folder / f"entry{n}.wl", implicit_vr=True, little_endian=True)
    port = free_port()
    argv = [require_tool("wlmscpfs"), "-v", "-dfp", str(workdir / "worklists"), str(port)]
    with _running(argv, ae_title, port, workdir / "wlmscpfs.log"):
        echo_until_ready(ae_title, port)
        yield port


def worklist_entry(name: str, modality: str, date: str) -> Dataset:
    entry = Dataset()
    entry.SpecificCharacterSet = "ISO_IR 100"
    entry.PatientName = name
    entry.PatientID = name.split("^")[0][:8]
    entry.PatientBirthDate = "19700101"
    entry.PatientSex = "O"
    entry.AccessionNumber = f"A{date}{modality}"
    entry.StudyInstanceUID = generate_uid()
    entry.RequestedProcedureID = f"RP{modality}"
    entry.RequestedProcedureDescription = f"{modality} exam"
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = "MODALITY1"
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledProcedureStepStartTime = "090000"
    step.ScheduledProcedureStepID = f"SPS{modality}"
    step.ScheduledProcedureStepDescription = f"{modality} step"
    step.ScheduledPerformingPhysicianName = ""
    entry.ScheduledProcedureStepSequence = [step]
    return entry


# --- DCMTK dcmqrscp ------------------------------------------------------------------------

def test_find_on_dcmqrscp_matches_findscu_and_offers_downloads_and_retrieves(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with dcmtk_qrscp(tmp_path) as peer:
        load(peer.port, peer.ae_title, studies(tmp_path / "files"))
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = run_job(operator, {"ae": ae.pk, "level": "STUDY",
                                 "matching_keys": {"PatientName": "DOE^*"},
                                 "return_keys": ["PatientID", "StudyDate", "AccessionNumber",
                                                 "StudyDescription"]})
        oracle = findscu_oracle(command(operator, job, "DCMTK"), tmp_path / "oracle")

    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = job_rows(job)
    assert set(by("StudyInstanceUID", rows)) == {STUDY_A, STUDY_B}
    assert by("StudyInstanceUID", rows) == by("StudyInstanceUID", oracle)
    assert by("StudyInstanceUID", rows)[STUDY_A]["AccessionNumber"] == "ACC1"
    assert job.result["matches"] == 2 and job.result["status"] == DimseStatus.SUCCESS
    assert job.counters == {"matches": 2}
    assert set(JobItem.objects.filter(job=job).values_list("status", "outcome")) == {
        (DimseStatus.PENDING, ItemOutcome.SUCCEEDED)}
    record = Association.objects.get(job=job)
    assert record.outcome == AssociationOutcome.RELEASED
    statuses = list(record.dimse_messages.filter(command="C-FIND-RSP")
                    .order_by("pk").values_list("status", flat=True))
    assert statuses == [DimseStatus.PENDING, DimseStatus.PENDING, DimseStatus.SUCCESS]

    # the downloads hold the same rows
    csv_body = api(operator).get(f"/api/jobs/{job.pk}/downloads/csv")
    assert csv_body.status_code == 200 and csv_body["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(csv_body.content.decode("utf-8-sig"))))
    assert {r["StudyInstanceUID"]: r["PatientName"] for r in table} == {
        STUDY_A: "DOE^JOHN", STUDY_B: "DOE^JANE"}
    assert list(table[0])[:5] == ["PatientName", "PatientID", "StudyDate", "AccessionNumber",
                                  "StudyDescription"]
    client = logged_in(operator)
    json_body = client.get(f"/jobs/{job.pk}/download/json/")
    assert json_body.status_code == 200
    datasets = [Dataset.from_json(item) for item in json.loads(json_body.content)]
    assert {str(ds.StudyInstanceUID) for ds in datasets} == {STUDY_A, STUDY_B}

    # the job page: a results table whose rows start a prefilled move or get
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="find-results"' in page and "DOE^JANE" in page
    for row in table:  # dates readable on the page, as the peer sent them in the CSV
        raw = row["StudyDate"]
        assert len(raw) == 8 and f"<td>{raw[:4]}-{raw[4:6]}-{raw[6:]}</td>" in page
    move_link = f"/jobs/new/move/?ae={ae.pk}&amp;model=study_root&amp;level=STUDY" \
                f"&amp;study_instance_uid={STUDY_A}"
    assert move_link in page
    form = client.get(move_link.replace("&amp;", "&")).content.decode()
    assert f'value="{STUDY_A}"' in form and 'value="STUDY" selected' in form
    assert f"/jobs/new/get/?ae={ae.pk}" in page


def test_find_at_the_series_level_needs_the_study_and_matches_findscu(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with dcmtk_qrscp(tmp_path) as peer:
        load(peer.port, peer.ae_title, studies(tmp_path / "files"))
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        refused = submit(operator, "find", {"ae": ae.pk, "level": "SERIES"}, status=422)
        assert "StudyInstanceUID" in json.dumps(refused)
        job = run_job(operator, {"ae": ae.pk, "model": "patient_root", "level": "SERIES",
                                 "matching_keys": {"PatientID": "P1",
                                                   "StudyInstanceUID": STUDY_A}})
        oracle = findscu_oracle(command(operator, job, "DCMTK"), tmp_path / "oracle")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert set(by("SeriesInstanceUID", job_rows(job))) == {SERIES_A1, SERIES_A2}
    assert by("SeriesInstanceUID", job_rows(job)) == by("SeriesInstanceUID", oracle)


# --- the console's own listener ------------------------------------------------------------

def test_find_on_the_consoles_own_listener_matches_the_archive(
    celery_worker_process: Path, operator: User, remote_ae: Any, manager: ListenerManager,
    tmp_path: Path
) -> None:
    for path in studies(tmp_path / "files"):
        store_file(path, source=InstanceSource.PATH_IMPORT)
    listener = make_listener(query_retrieve=True)
    manager.reconcile()
    ae = remote_ae(ae_title="CONSOLE", port=listener.port)
    dated = run_job(operator, {"ae": ae.pk, "level": "STUDY",
                               "matching_keys": {"StudyDate": "20240101-20241231",
                                                 "ModalitiesInStudy": "CT"}})
    assert dated.status == JobStatus.SUCCEEDED, dated.error
    expected = Study.objects.filter(study_date__year=2024, modalities_in_study__contains="CT")
    assert {r["StudyInstanceUID"] for r in job_rows(dated)} == set(
        expected.values_list("study_instance_uid", flat=True)) == {STUDY_A}

    series = run_job(operator, {"ae": ae.pk, "level": "SERIES",
                                "matching_keys": {"StudyInstanceUID": STUDY_A}})
    assert series.status == JobStatus.SUCCEEDED, series.error
    assert {r["SeriesInstanceUID"] for r in job_rows(series)} == set(
        Series.objects.filter(study__study_instance_uid=STUDY_A)
        .values_list("series_instance_uid", flat=True))
    patients = run_job(operator, {"ae": ae.pk, "model": "patient_root", "level": "PATIENT",
                                  "matching_keys": {"PatientName": "doe*"}})
    assert patients.status == JobStatus.SUCCEEDED, patients.error
    assert {r["PatientID"] for r in job_rows(patients)} == {"P1", "P2"}
    page = logged_in(operator).get(f"/jobs/{patients.pk}/").content.decode()
    assert f"/jobs/new/move/?ae={ae.pk}&amp;model=patient_root&amp;level=PATIENT" \
           "&amp;patient_id=P1" in page


# --- Orthanc -------------------------------------------------------------------------------

def test_find_on_orthanc_matches_its_rest_api(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    caller = ("DICOMCONSOLE", "127.0.0.1", free_port())
    with orthanc(tmp_path, {"console": caller}) as peer:
        load(peer.dicom_port, peer.ae_title, studies(tmp_path / "files"))
        ae = remote_ae(ae_title=peer.ae_title, port=peer.dicom_port)
        job = run_job(operator, {"ae": ae.pk, "level": "STUDY",
                                 "matching_keys": {"StudyDate": "20240101-"},
                                 "return_keys": ["PatientName", "StudyDate",
                                                 "AccessionNumber"]})
        found = peer.rest("POST", "/tools/find", {"Level": "Study", "Expand": True,
                                                  "Query": {"StudyDate": "20240101-"}})
        oracle = findscu_oracle(command(operator, job, "DCMTK"), tmp_path / "oracle")
    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = by("StudyInstanceUID", job_rows(job))
    assert set(rows) == {s["MainDicomTags"]["StudyInstanceUID"] for s in found} == {
        STUDY_A, STUDY_B}
    assert rows == by("StudyInstanceUID", oracle)
    assert rows[STUDY_B]["AccessionNumber"] == "ACC2"


# --- Modality Worklist (DCMTK wlmscpfs) ----------------------------------------------------

def test_worklist_find_with_sequence_keys_matches_findscu(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    entries = [worklist_entry("ALPHA^ONE", "CT", "20250301"),
               worklist_entry("BRAVO^TWO", "MR", "20250301"),
               worklist_entry("CHARLIE^THREE", "CT", "20250402")]
    with worklist_scp(tmp_path, entries) as port:
        ae = remote_ae(ae_title="WLM", port=port)
        assert "no query level" in json.dumps(submit(
            operator, "find", {"ae": ae.pk, "model": "modality_worklist", "level": "STUDY"},
            status=422))
        job = run_job(operator, {"ae": ae.pk, "model": "modality_worklist", "matching_keys": {
            "ScheduledProcedureStepSequence[0].Modality": "CT",
            "ScheduledProcedureStepSequence/ScheduledProcedureStepStartDate": "20250301-"}})
        oracle = findscu_oracle(command(operator, job, "DCMTK"), tmp_path / "oracle")
    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = by("PatientName", job_rows(job))
    assert set(rows) == {"ALPHA^ONE", "CHARLIE^THREE"}
    assert rows == by("PatientName", oracle)
    assert rows["ALPHA^ONE"]["ScheduledProcedureStepSequence/ScheduledProcedureStepID"] == \
        "SPSCT"
    assert "QueryRetrieveLevel" not in job.params["matching_keys"]
    assert job.params["level"] is None
    # worklist rows have nothing to retrieve
    assert "/jobs/new/move/" not in logged_in(operator).get(f"/jobs/{job.pk}/").content.decode()
    (dcm4che,) = command(operator, job, "dcm4che")[:1]
    assert dcm4che == "findscu"
    assert "ScheduledProcedureStepSequence/Modality=CT" in command(operator, job, "dcm4che")


# --- failures ------------------------------------------------------------------------------

def test_bad_keys_levels_and_models_are_422(operator: User, remote_ae: Any) -> None:
    ae = remote_ae()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"matching_keys": {"PatientNam": "X"}}, "'PatientNam' is not a keyword"),
        ({"return_keys": ["StudyDate", "Nonsense"]}, "'Nonsense' is not a keyword"),
        ({"matching_keys": {"PixelData": ""}}, "binary data"),
        ({"matching_keys": {"PatientName/PatientID": "1"}}, "is not a sequence"),
        ({"matching_keys": {"QueryRetrieveLevel": "STUDY"}}, "set by the console"),
        ({"matching_keys": {"NumberOfFrames": "many"}}, "takes numbers"),
        ({"matching_keys": {"ScheduledProcedureStepSequence": "CT"}}, "is a sequence"),
        ({"model": "study_root", "level": "PATIENT"}, "has no PATIENT level"),
        ({"model": "patient_root", "level": "STUDY"}, "needs PatientID"),
        ({"level": "IMAGE", "matching_keys": {"StudyInstanceUID": "1.2"}},
         "needs SeriesInstanceUID"),
        ({"max_matches": 5001}, "less than or equal to 5000"),
    ]
    for extra, message in cases:
        body = submit(operator, "find", {"ae": ae.pk, **extra}, status=422)
        assert message in json.dumps(body), (extra, body)
    assert not Job.objects.exists()


def test_find_with_nothing_listening_fails_clearly(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    ae = remote_ae(port=free_port())
    job = run_job(operator, {"ae": ae.pk, "matching_keys": {"PatientID": "P1"}})
    assert job.status == JobStatus.FAILED
    assert "Nothing is listening on 127.0.0.1" in job.error
    assert Association.objects.get(job=job).outcome == AssociationOutcome.CONNECTION_FAILED
    assert not JobItem.objects.filter(job=job).exists()


def test_find_with_a_wrong_called_ae_title_is_rejected(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with dcmtk_qrscp(tmp_path) as peer:
        ae = remote_ae(ae_title="NOT_QRSCP", port=peer.port)
        job = run_job(operator, {"ae": ae.pk})
    assert job.status == JobStatus.FAILED
    assert "does not accept the called AE title" in job.error
    assert Association.objects.get(job=job).outcome == AssociationOutcome.REJECTED


def test_find_on_a_peer_without_the_model_says_so(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with slow_find_scp(matches=1, delay=0) as scp:  # Study Root only
        ae = remote_ae(ae_title="SLOWFIND", port=scp.port)
        job = run_job(operator, {"ae": ae.pk, "model": "patient_root", "level": "PATIENT"})
    assert job.status == JobStatus.FAILED
    assert "does not support Patient Root Query/Retrieve Information Model - FIND" in job.error


def test_cancel_sends_c_cancel_and_keeps_exactly_the_matches_received(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    with slow_find_scp(matches=200, delay=0.1) as scp:
        ae = remote_ae(ae_title="SLOWFIND", port=scp.port)
        job = Job.objects.get(pk=submit(operator, "find", {"ae": ae.pk})["id"])
        wait_for_job(job, 30, until=lambda j: j.counters.get("matches", 0) >= 3)
        assert api(operator).post(f"/api/jobs/{job.pk}/cancel").status_code == 200
        job = wait_for_job(job, 30)
        assert scp.cancel_seen.wait(5)
    assert job.status == JobStatus.CANCELLED, job.error
    assert 3 <= job.result["matches"] < 200
    assert job.result["matches"] == scp.pending_sent == JobItem.objects.filter(job=job).count()
    assert job.counters["matches"] == job.result["matches"]
    assert job.result["status"] == DimseStatus.CANCEL
    messages = DimseMessage.objects.filter(association__job=job)
    assert messages.filter(command="C-CANCEL-RQ", direction="sent").count() == 1
    assert messages.filter(command="C-FIND-RSP", status=DimseStatus.CANCEL).count() == 1


def test_matches_beyond_the_bound_are_cancelled_and_noted(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    with slow_find_scp(matches=60, delay=0.02) as scp:
        ae = remote_ae(ae_title="SLOWFIND", port=scp.port)
        job = run_job(operator, {"ae": ae.pk, "max_matches": 10})
        assert scp.cancel_seen.wait(5)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert JobItem.objects.filter(job=job).count() == job.result["matches_kept"] == 10
    assert "Only the first 10 matches are kept" in job.result["note"]
    body = api(operator).get(f"/api/jobs/{job.pk}/downloads/csv").content.decode("utf-8-sig")
    assert len(body.strip().splitlines()) == 11  # header + the kept matches


def test_exactly_as_many_matches_as_the_bound_are_all_kept_without_a_cancel(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    with slow_find_scp(matches=10, delay=0.0) as scp:
        ae = remote_ae(ae_title="SLOWFIND", port=scp.port)
        job = run_job(operator, {"ae": ae.pk, "max_matches": 10})
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert not scp.cancel_seen.is_set() and "note" not in job.result
    assert JobItem.objects.filter(job=job).count() == job.result["matches"] == 10
    assert not DimseMessage.objects.filter(association__job=job,
                                           command="C-CANCEL-RQ").exists()


# --- the form ------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=False)  # the jobs are only created, never enqueued
def test_the_find_form_turns_fields_into_matching_and_return_keys(
    operator: User, remote_ae: Any, django_capture_on_commit_callbacks: Any
) -> None:
    ae = remote_ae(ae_title="PACS")
    client = logged_in(operator)
    assert "/jobs/new/find/" in client.get("/jobs/new/").content.decode()
    fields = {"ae": ae.pk, "model": "study_root", "level": "STUDY", "patient_name": "DOE^*",
              "study_date_from": "2024-01-01", "study_date_to": "2024-01-31",
              "modality": "CT", "more_keys": "StudyDescription=*HEAD*\nReferringPhysicianName",
              "return_keys": "PatientBirthDate, NumberOfStudyRelatedInstances"}
    refused = client.post("/jobs/new/find/", {**fields, "more_keys": "Bogus=1"})
    assert refused.status_code == 422
    assert "line 1: &#x27;Bogus&#x27; is not a keyword" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post("/jobs/new/find/", fields)
    job = Job.objects.get()
    assert started.status_code == 302 and started["Location"] == job.get_absolute_url()
    assert job.params["matching_keys"] == {
        "PatientName": "DOE^*", "StudyDate": "20240101-20240131", "ModalitiesInStudy": "CT",
        "StudyDescription": "*HEAD*", "ReferringPhysicianName": ""}
    assert job.params["return_keys"] == ["PatientBirthDate", "NumberOfStudyRelatedInstances"]
    assert job.summary == ("C-FIND STUDY in Study Root on PACS@127.0.0.1:11112: PatientName=DOE^*, "
                           "StudyDate=20240101-20240131, ModalitiesInStudy=CT, "
                           "StudyDescription=*HEAD*, ReferringPhysicianName=")
    with django_capture_on_commit_callbacks(execute=False):
        client.post("/jobs/new/find/", {"ae": ae.pk, "model": "modality_worklist",
                                        "level": "STUDY", "modality": "MR",
                                        "study_date_from": "2025-03-01",
                                        "study_date_to": "2025-03-01"})
    worklist = Job.objects.latest("pk")
    assert worklist.params["level"] is None
    assert worklist.params["matching_keys"] == {
        "ScheduledProcedureStepSequence/ScheduledProcedureStepStartDate": "20250301",
        "ScheduledProcedureStepSequence/Modality": "MR"}
