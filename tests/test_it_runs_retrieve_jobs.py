"""C-MOVE and C-GET jobs end to end (API → a real Celery worker → pynetdicom): from DCMTK
dcmqrscp, Orthanc, the console's own Q/R listener and pynetdicom peers written here, to DCMTK
storescp, to the console's own Storage listener, and into the archive; checked against the
bytes that were loaded, DCMTK movescu/getscu running the job's own command line, and the
peers' own counts."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelGet,
)

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from archive.storage import absolute_path
from console.tokens import issue_token
from netjobs.dicom.status import DimseStatus
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    AEKind,
    ApplicationEntity,
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
    RunningPeer,
    _running,
    dcmtk_storescp,
    echo_until_ready,
    free_port,
    orthanc,
    require_tool,
)

pytestmark = pytest.mark.django_db(transaction=True)

STUDY_A, STUDY_B = "1.2.826.0.1.3680043.8.498.81", "1.2.826.0.1.3680043.8.498.82"
SERIES_A1, SERIES_A2 = "1.2.826.0.1.3680043.8.498.811", "1.2.826.0.1.3680043.8.498.812"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


# --- helpers ------------------------------------------------------------------------------

def api(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'test').raw}"})


def submit(user: User, kind: str, params: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = api(user).post("/api/jobs", {"kind": kind, "params": params},
                              content_type="application/json")
    assert response.status_code == status, response.content
    return dict(response.json())


def run_job(user: User, kind: str, params: dict[str, Any], seconds: float = 60) -> Job:
    return wait_for_job(Job.objects.get(pk=submit(user, kind, params)["id"]), seconds)


def command(user: User, job: Job, tool_set: str) -> list[str]:
    body = api(user).get(f"/api/jobs/{job.pk}").json()
    (line,) = [c["command"] for c in body["commands"] if c["tool_set"] == tool_set]
    return shlex.split(line)


def after_meta(data: bytes) -> bytes:
    """The data set bytes of a Part 10 file (what travels in a C-STORE)."""
    meta_length = int.from_bytes(data[140:144], "little")  # (0002,0000) group length value
    return data[144 + meta_length:]


def uid_of(path: Path) -> str:
    return str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def worker_file(instance: Instance) -> Path:
    """Where the Celery worker (which archives what a C-GET receives) keeps a file."""
    return Path(os.environ["STORAGE_ROOT"]).resolve() / instance.file_path


def objects(folder: Path) -> dict[str, Path]:
    """SOP Instance UID → file: study A (two series, three instances) and study B."""
    folder.mkdir(exist_ok=True)
    rows = [("DOE^JOHN", "P1", STUDY_A, SERIES_A1), ("DOE^JOHN", "P1", STUDY_A, SERIES_A1),
            ("DOE^JOHN", "P1", STUDY_A, SERIES_A2), ("ROE^RITA", "P2", STUDY_B, None)]
    paths = [make_object(folder, patient_name=name, patient_id=pid, study_date="20240105",
                         modality="OT", study_uid=study, series_uid=series, rows=64)
             for name, pid, study, series in rows]
    return {uid_of(path): path for path in paths}


def in_study(files: dict[str, Path], study: str, series: str | None = None) -> dict[str, Path]:
    return {uid: path for uid, path in files.items()
            if (ds := dcmread(path, stop_before_pixels=True)).StudyInstanceUID == study
            and (series is None or ds.SeriesInstanceUID == series)}


def load(port: int, called: str, files: dict[str, Path]) -> None:
    sent = dcmtk("storescu", "-aec", called, "127.0.0.1", str(port), *map(str, files.values()))
    assert sent.returncode == 0, sent.stdout + sent.stderr


@contextmanager
def qrscp(workdir: Path, destinations: dict[str, int],
          ae_title: str = "QRSCP") -> Iterator[RunningPeer]:
    """DCMTK dcmqrscp knowing ``destinations`` (AE title: port on 127.0.0.1) for C-MOVE."""
    port = free_port()
    db = workdir / "qrdb"
    db.mkdir(parents=True, exist_ok=True)
    hosts = "".join(f"dest{n} = ({title}, 127.0.0.1, {dest_port})\n"
                    for n, (title, dest_port) in enumerate(destinations.items()))
    config = workdir / "dcmqrscp.cfg"
    config.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
        f"HostTable BEGIN\n{hosts}HostTable END\n\nVendorTable BEGIN\nVendorTable END\n\n"
        f"AETable BEGIN\n{ae_title} {db} RW (50, 1024mb) ANY\nAETable END\n")
    argv = [require_tool("dcmqrscp"), "-v", "-c", str(config)]
    with _running(argv, ae_title, port, workdir / "dcmqrscp.log") as peer:
        echo_until_ready(ae_title, port)
        yield peer


def destination(ae_title: str, port: int, **fields: Any) -> ApplicationEntity:
    values: dict[str, Any] = {"kind": AEKind.REMOTE, "ae_title": ae_title,
                              "host": "127.0.0.1", "port": port,
                              "accepts_move_destination": True}
    values.update(fields)
    return ApplicationEntity.objects.create(**values)


# --- peers written for these tests ---------------------------------------------------------

@dataclass
class SlowPeer:
    port: int
    handled: list[str] = field(default_factory=list)
    cancel_seen: threading.Event = field(default_factory=threading.Event)


@contextmanager
def slow_storage_scp(delay: float) -> Iterator[SlowPeer]:
    """A pynetdicom Storage SCP that takes ``delay`` seconds per instance."""
    peer = SlowPeer(free_port())

    def on_store(event: Any) -> int:
        time.sleep(delay)
        peer.handled.append(str(event.request.AffectedSOPInstanceUID))
        return DimseStatus.SUCCESS

    ae = AE(ae_title="SINK")
    ae.supported_contexts = StoragePresentationContexts
    server = ae.start_server(("127.0.0.1", peer.port), block=False,
                             evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert server is not None
    try:
        yield peer
    finally:
        server.shutdown()


@contextmanager
def slow_get_scp(datasets: Sequence[Dataset], delay: float) -> Iterator[SlowPeer]:
    """A pynetdicom Study Root Get SCP that sends ``datasets`` one every ``delay`` seconds
    and honours C-CANCEL."""
    peer = SlowPeer(free_port())

    def on_get(event: Any) -> Iterator[Any]:
        yield len(datasets)
        for dataset in datasets:
            if event.is_cancelled:
                peer.cancel_seen.set()
                yield DimseStatus.CANCEL, None
                return
            time.sleep(delay)
            peer.handled.append(str(dataset.SOPInstanceUID))
            yield DimseStatus.PENDING, dataset

    ae = AE(ae_title="SLOWGET")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    for context in StoragePresentationContexts:
        ae.add_supported_context(str(context.abstract_syntax), scu_role=False, scp_role=True)
    server = ae.start_server(("127.0.0.1", peer.port), block=False,
                             evt_handlers=[(evt.EVT_C_GET, on_get)])
    assert server is not None
    try:
        yield peer
    finally:
        server.shutdown()


# --- C-MOVE --------------------------------------------------------------------------------

def test_move_from_dcmqrscp_to_storescp_sends_the_loaded_bytes(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    files = objects(tmp_path / "files")
    moved = in_study(files, STUDY_A)
    with dcmtk_storescp(tmp_path, "DEST") as sink, \
            qrscp(tmp_path, {"DEST": sink.port}) as peer:
        load(peer.port, peer.ae_title, files)
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = run_job(operator, "move", {"ae": ae.pk, "level": "STUDY",
                                         "study_instance_uid": STUDY_A, "destination": "DEST"})
        inbox = tmp_path / "storescp-in"
        arrived = {uid_of(p): p.read_bytes() for p in inbox.iterdir()}
        for path in inbox.iterdir():
            path.unlink()
        # the job's own DCMTK command line does the same (movescu exits 0 even when the
        # move fails, so what arrives is the check)
        oracle = subprocess.run(command(operator, job, "DCMTK"), env=DCMTK_ENV,
                                capture_output=True, text=True, timeout=60)
        by_oracle = {uid_of(p): p.read_bytes() for p in inbox.iterdir()}
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert set(arrived) == set(moved)
    for uid, source in moved.items():
        assert after_meta(arrived[uid]) == after_meta(source.read_bytes())
    assert oracle.returncode == 0, oracle.stdout + oracle.stderr
    assert set(by_oracle) == set(moved), oracle.stdout + oracle.stderr
    assert all(after_meta(by_oracle[uid]) == after_meta(arrived[uid]) for uid in moved)
    assert job.result["completed"] == 3 and job.result["failed"] == 0
    assert job.result["status"] == DimseStatus.SUCCESS and job.result["destination"] == "DEST"
    assert job.counters == {"completed": 3, "failed": 0, "warning": 0}
    assert (job.progress_done, job.progress_total) == (3, 3)
    record = Association.objects.get(job=job)
    assert record.outcome == AssociationOutcome.RELEASED
    final = record.dimse_messages.filter(command="C-MOVE-RSP").order_by("pk").last()
    assert final is not None and final.status == DimseStatus.SUCCESS
    assert not JobItem.objects.filter(job=job).exists()  # a third AE: nothing to link


def test_move_to_the_consoles_own_listener_links_the_arrived_instances(
    celery_worker_process: Path, operator: User, remote_ae: Any, manager: ListenerManager,
    tmp_path: Path
) -> None:
    files = objects(tmp_path / "files")
    moved = in_study(files, STUDY_A, SERIES_A1)
    # Explicit VR Little Endian only, as loaded: dcmqrscp then sends the bytes it holds
    # (it proposes Implicit VR first, which the listener would otherwise take).
    inbox = make_listener(name="inbox", ae_title="CONSOLE", query_retrieve=False,
                          transfer_syntaxes={"storage": [EXPLICIT_VR_LITTLE_ENDIAN]})
    manager.reconcile()
    with qrscp(tmp_path, {"CONSOLE": inbox.port}) as peer:
        load(peer.port, peer.ae_title, files)
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = run_job(operator, "move", {
            "ae": ae.pk, "model": "patient_root", "level": "SERIES", "patient_id": "P1",
            "study_instance_uid": STUDY_A, "series_instance_uid": SERIES_A1,
            "destination": "CONSOLE"})
    assert job.status == JobStatus.SUCCEEDED, job.error
    linked = Instance.objects.filter(source_job=job)
    assert set(linked.values_list("sop_instance_uid", flat=True)) == set(moved)
    for instance in linked:
        assert instance.source == InstanceSource.DICOM and instance.source_detail == "QRSCP"
        assert after_meta(absolute_path(instance.file_path).read_bytes()) == after_meta(
            moved[instance.sop_instance_uid].read_bytes())
    items = JobItem.objects.filter(job=job)
    assert {(i.sop_instance_uid, i.outcome) for i in items} == {
        (uid, ItemOutcome.SUCCEEDED) for uid in moved}
    assert job.result["arrived_in_archive"] == job.result["completed"] == 2
    assert not Instance.objects.filter(series__series_instance_uid=SERIES_A2).exists()


def test_move_and_get_from_orthanc(
    celery_worker_process: Path, operator: User, remote_ae: Any, manager: ListenerManager,
    tmp_path: Path
) -> None:
    files = objects(tmp_path / "files")
    inbox = make_listener(name="inbox", ae_title="CONSOLE", query_retrieve=False)
    manager.reconcile()
    modalities = {"inbox": ("CONSOLE", "127.0.0.1", inbox.port),
                  "caller": ("DICOMCONSOLE", "127.0.0.1", free_port())}
    with orthanc(tmp_path, modalities) as peer:
        load(peer.dicom_port, peer.ae_title, files)
        ae = remote_ae(ae_title=peer.ae_title, port=peer.dicom_port)
        move = run_job(operator, "move", {"ae": ae.pk, "study_instance_uid": STUDY_B,
                                          "destination": "CONSOLE"})
        get = run_job(operator, "get", {"ae": ae.pk, "level": "SERIES",
                                        "study_instance_uid": STUDY_A,
                                        "series_instance_uid": SERIES_A2})
    assert move.status == JobStatus.SUCCEEDED, move.error
    (moved,) = Instance.objects.filter(source_job=move)
    assert moved.sop_instance_uid in in_study(files, STUDY_B)
    assert get.status == JobStatus.SUCCEEDED, get.error
    (got,) = Instance.objects.filter(source_job=get)
    source = in_study(files, STUDY_A, SERIES_A2)[got.sop_instance_uid]
    assert after_meta(worker_file(got).read_bytes()) == after_meta(source.read_bytes())
    assert got.source_detail == "ORTHANC"


# --- C-GET ---------------------------------------------------------------------------------

def test_get_from_dcmqrscp_archives_the_loaded_bytes_and_keeps_first_copies(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    files = objects(tmp_path / "files")
    wanted = in_study(files, STUDY_A)
    with qrscp(tmp_path, {}) as peer:
        load(peer.port, peer.ae_title, files)
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = run_job(operator, "get", {"ae": ae.pk, "study_instance_uid": STUDY_A})
        again = run_job(operator, "get", {"ae": ae.pk, "study_instance_uid": STUDY_A})
        argv = command(operator, job, "DCMTK")
        out = tmp_path / "getscu"
        out.mkdir()
        oracle = subprocess.run([str(out) if arg == "<dir>" else arg for arg in argv],
                                env=DCMTK_ENV, capture_output=True, text=True, timeout=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    archived = Instance.objects.filter(source_job=job)
    assert set(archived.values_list("sop_instance_uid", flat=True)) == set(wanted)
    for instance in archived:
        assert after_meta(worker_file(instance).read_bytes()) == after_meta(
            wanted[instance.sop_instance_uid].read_bytes())
        assert (instance.source, instance.source_detail) == (InstanceSource.DICOM, "QRSCP")
    assert {(i.sop_instance_uid, i.outcome, i.status) for i in job.items.all()} == {
        (uid, ItemOutcome.SUCCEEDED, DimseStatus.SUCCESS) for uid in wanted}
    assert job.result["completed"] == job.result["stored"] == job.result["received"] == 3
    assert job.counters == {"completed": 3, "failed": 0, "warning": 0}
    record = Association.objects.get(job=job)
    sc = record.presentation_contexts.get(abstract_syntax=SECONDARY_CAPTURE)
    assert (sc.result, sc.scp_role) == (0, True)
    assert record.dimse_messages.filter(command="C-STORE-RSP", direction="sent",
                                        status=DimseStatus.SUCCESS).count() == 3
    # the second get finds them all in the archive: the first copies stay
    assert again.status == JobStatus.SUCCEEDED, again.error
    assert (again.result["stored"], again.result["duplicates_kept"]) == (0, 3)
    assert set(again.items.values_list("outcome", flat=True)) == {ItemOutcome.SKIPPED}
    assert not Instance.objects.filter(source_job=again).exists()
    # getscu running the job's command line receives the same data sets
    assert oracle.returncode == 0, oracle.stdout + oracle.stderr
    got = {uid_of(p): p for p in out.iterdir()}
    assert set(got) == set(wanted)
    for instance in archived:
        assert after_meta(got[instance.sop_instance_uid].read_bytes()) == after_meta(
            worker_file(instance).read_bytes())


# --- failures ------------------------------------------------------------------------------

def test_a_destination_the_peer_does_not_know_fails_with_its_status(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    files = objects(tmp_path / "files")
    with qrscp(tmp_path, {}) as peer:
        load(peer.port, peer.ae_title, files)
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = run_job(operator, "move", {"ae": ae.pk, "study_instance_uid": STUDY_A,
                                         "destination": "NOWHERE"})
    assert job.status == JobStatus.FAILED
    assert job.result["status"] == DimseStatus.MOVE_DESTINATION_UNKNOWN
    assert "with 0xA801 failure: Move destination unknown" in job.error, job.error


def test_retrieves_from_a_peer_that_is_down_or_rejects_fail_clearly(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    down = remote_ae(port=free_port())
    move = run_job(operator, "move", {"ae": down.pk, "study_instance_uid": STUDY_A,
                                      "destination": "DEST"})
    assert move.status == JobStatus.FAILED and "Nothing is listening" in move.error
    assert Association.objects.get(job=move).outcome == AssociationOutcome.CONNECTION_FAILED
    with qrscp(tmp_path, {}) as peer:
        wrong = remote_ae(ae_title="NOT_QRSCP", port=peer.port)
        get = run_job(operator, "get", {"ae": wrong.pk, "study_instance_uid": STUDY_A})
    assert get.status == JobStatus.FAILED
    assert "does not accept the called AE title" in get.error
    assert not Instance.objects.exists() and not JobItem.objects.exists()


def test_bad_retrieve_parameters_are_422(operator: User, remote_ae: Any) -> None:
    ae = remote_ae()
    base = {"ae": ae.pk, "destination": "DEST"}
    cases = [
        ({"study_instance_uid": "1.2.abc"}, "not a valid UID"),
        ({"study_instance_uid": "1.2.*"}, "not a valid UID"),
        ({}, "needs StudyInstanceUID"),
        ({"level": "SERIES", "study_instance_uid": "1.2"}, "needs SeriesInstanceUID"),
        ({"level": "SERIES", "study_instance_uid": "1.2\\1.3", "series_instance_uid": "1.4"},
         "needs one StudyInstanceUID"),
        ({"study_instance_uid": "1.2", "patient_id": "P1"}, "Study Root has no patient"),
        ({"model": "patient_root", "study_instance_uid": "1.2"}, "needs one PatientID"),
        ({"study_instance_uid": "1.2", "sop_instance_uid": "1.3"}, "below the STUDY level"),
        ({"model": "modality_worklist", "study_instance_uid": "1.2"}, "has no retrieve"),
        ({"study_instance_uid": "1.2", "destination": "A_TITLE_LONGER_THAN_16"},
         "at most 16 characters"),
        ({"study_instance_uid": "1.2", "destination": ""}, "cannot be empty"),
    ]
    for extra, message in cases:
        body = submit(operator, "move", {**base, **extra}, status=422)
        assert message in str(body), (extra, body)
    body = submit(operator, "get", {"ae": ae.pk, "study_instance_uid": "1.2",
                                    "duplicates": "sometimes"}, status=422)
    assert "duplicates" in str(body)
    assert not Job.objects.exists()


def test_cancel_stops_a_move_with_accurate_counts(
    celery_worker_process: Path, operator: User, remote_ae: Any, manager: ListenerManager,
    tmp_path: Path
) -> None:
    study = "1.2.826.0.1.3680043.8.498.8999"
    for n in range(40):
        store_file(make_object(tmp_path, patient_name=f"MANY^{n}", patient_id="MANY",
                               study_date="20240101", modality="OT", study_uid=study),
                   source=InstanceSource.PATH_IMPORT)
    source = make_listener(name="qr", ae_title="CONSOLE", storage=False)
    manager.reconcile()
    with slow_storage_scp(delay=0.15) as sink:
        destination("SINK", sink.port)
        ae = remote_ae(ae_title="CONSOLE", port=source.port)
        job = Job.objects.get(pk=submit(operator, "move", {
            "ae": ae.pk, "study_instance_uid": study, "destination": "SINK"})["id"])
        wait_for_job(job, 30, until=lambda j: j.counters.get("completed", 0) >= 3)
        assert api(operator).post(f"/api/jobs/{job.pk}/cancel").status_code == 200
        job = wait_for_job(job, 30)
    assert job.status == JobStatus.CANCELLED, job.error
    result = job.result
    assert result["status"] == DimseStatus.CANCEL
    assert 3 <= result["completed"] == len(sink.handled) < 40
    assert result["completed"] + result["failed"] + result["warning"] + \
        result["remaining"] == 40
    assert job.counters["completed"] == result["completed"]
    assert (job.progress_done, job.progress_total) == (result["completed"], 40)
    assert "Cancelled by an operator" in job.error
    assert DimseMessage.objects.filter(association__job=job, command="C-CANCEL-RQ").count() == 1


def test_cancel_stops_a_get_and_keeps_what_arrived(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    study = "1.2.826.0.1.3680043.8.498.8998"
    datasets = [dcmread(make_object(tmp_path, patient_name=f"SLOW^{n}", patient_id="SLOW",
                                    study_date="20240101", modality="OT", study_uid=study))
                for n in range(40)]
    with slow_get_scp(datasets, delay=0.15) as peer:
        ae = remote_ae(ae_title="SLOWGET", port=peer.port)
        job = Job.objects.get(pk=submit(operator, "get", {"ae": ae.pk,
                                                          "study_instance_uid": study})["id"])
        wait_for_job(job, 30, until=lambda j: j.counters.get("completed", 0) >= 3)
        assert api(operator).post(f"/api/jobs/{job.pk}/cancel").status_code == 200
        job = wait_for_job(job, 30)
        assert peer.cancel_seen.wait(5)
    assert job.status == JobStatus.CANCELLED, job.error
    archived = set(Instance.objects.filter(source_job=job)
                   .values_list("sop_instance_uid", flat=True))
    assert archived == set(peer.handled)
    assert 3 <= job.result["completed"] == len(archived) == job.result["stored"] < 40
    assert job.result["status"] == DimseStatus.CANCEL
    assert set(job.items.values_list("sop_instance_uid", flat=True)) == archived


# --- forms ---------------------------------------------------------------------------------

def test_the_move_form_suggests_listeners_and_starts_a_job(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    make_listener(name="inbox", ae_title="INBOX")
    ae = remote_ae(ae_title="QRSCP", port=free_port())
    client = logged_in(operator)
    page = client.get(f"/jobs/new/move/?ae={ae.pk}&level=SERIES&study_instance_uid=1.2.3"
                      "&series_instance_uid=1.2.3.4").content.decode()
    assert '<option value="INBOX" selected>INBOX · console listener inbox</option>' in page
    assert 'value="INBOX"' in page and 'value="1.2.3.4"' in page
    response = client.post("/jobs/new/move/", {
        "ae": ae.pk, "model": "study_root", "level": "SERIES", "destination": "INBOX",
        "study_instance_uid": "1.2.3", "series_instance_uid": "1.2.3.4"})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = wait_for_job(Job.objects.get(kind="move"))
    assert job.params["destination"] == "INBOX" and job.params["level"] == "SERIES"
    assert job.summary == f"C-MOVE of the series 1.2.3.4 from {ae} to INBOX"
    assert job.status == JobStatus.FAILED  # nothing listens there
    invalid = client.post("/jobs/new/get/", {"ae": ae.pk, "model": "study_root",
                                             "level": "STUDY", "duplicates": "keep"})
    assert invalid.status_code == 422
    assert "needs StudyInstanceUID" in invalid.content.decode()
