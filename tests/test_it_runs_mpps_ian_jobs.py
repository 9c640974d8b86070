"""MPPS and IAN jobs end to end (API → a real Celery worker → pynetdicom): against the
console's own MPPS and IAN SCPs (a listener in this process, registered as a remote AE) and
against pynetdicom peers written here that refuse some requests; the attribute lists as
PS3.4 F.7.2 and PS3.3 C.4.23 want them; peer down and rejected associations."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID, generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    InstanceAvailabilityNotification,
    ModalityPerformedProcedureStep,
)

from archive.indexing import store_file
from archive.models import InstanceSource, Study
from console.tokens import issue_token
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    ApplicationEntity,
    Association,
    AssociationOutcome,
    AvailabilityNotification,
    ItemOutcome,
    Job,
    JobStatus,
    Listener,
    ListenerStatus,
    PerformedProcedureStep,
    PerformedProcedureStepStatus,
)
from tests.archive_helpers import make_object
from tests.conftest import logged_in, wait_for_job
from tests.listener_helpers import make_listener
from tests.peers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


# --- helpers ------------------------------------------------------------------------------
def submit(user: User, kind: str, params: dict[str, Any]) -> Job:
    raw = issue_token(user, "test").raw
    response = Client().post("/api/jobs", {"kind": kind, "params": params},
                             content_type="application/json",
                             headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 201, response.content
    return Job.objects.get(pk=response.json()["id"])


def run_job(user: User, kind: str, params: dict[str, Any], seconds: float = 30) -> Job:
    return wait_for_job(submit(user, kind, params), seconds)


def archive_study(folder: Path, *, accession: str = "ACC-42", images: int = 2,
                  with_report: bool = True) -> Study:
    """A study with a series of ``images`` SC images and (optionally) a second series with a
    Basic Text SR, archived under the storage root the Celery worker reads too."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, images_series = generate_uid(), generate_uid()
    for number in range(images):
        path = make_object(folder, patient_name="Workflow^Wendy", patient_id="WF-1",
                           study_date="20240305", modality="OT", accession=accession,
                           description="Chest", study_uid=study_uid,
                           series_uid=images_series)
        ds = dcmread(path)
        ds.InstanceNumber = number + 1
        ds.ProtocolName = "Chest PA"
        ds.OperatorsName = "Tech^Tom"
        ds.save_as(path)
        store_file(path, source=InstanceSource.UPLOAD)
    if with_report:
        path = make_object(folder, patient_name="Workflow^Wendy", patient_id="WF-1",
                           study_date="20240305", modality="SR", accession=accession,
                           study_uid=study_uid)
        ds = dcmread(path)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UID(BASIC_TEXT_SR)
        ds.SeriesNumber = 2
        ds.save_as(path)
        store_file(path, source=InstanceSource.UPLOAD)
    return Study.objects.get(study_instance_uid=study_uid)


def instance_uids(study: Study) -> dict[str, set[str]]:
    """Series UID → its SOP Instance UIDs."""
    uids: dict[str, set[str]] = {}
    for series in study.series.all():
        uids[series.series_instance_uid] = set(
            series.instances.values_list("sop_instance_uid", flat=True))
    return uids


@pytest.fixture
def listener(manager: ListenerManager, settings: Any) -> Listener:
    """The console's own MPPS and IAN SCPs, in this process, sharing the Celery worker's
    storage root (the manager fixture points this process at a private one)."""
    settings.STORAGE_ROOT = Path(os.environ["STORAGE_ROOT"]).resolve()
    listener = make_listener(mpps=True, instance_availability=True, storage_commitment=True)
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    return listener


@pytest.fixture
def console_scp(listener: Listener, remote_ae: Any) -> ApplicationEntity:
    return remote_ae(ae_title=listener.ae_title, port=listener.port)


@dataclass
class Peer:
    """A pynetdicom MPPS + IAN SCP: keeps what it received and answers the chosen status."""

    port: int = 0
    created: list[tuple[str, str, Dataset]] = field(default_factory=list)  # class, uid, list
    modified: list[tuple[str, Dataset]] = field(default_factory=list)
    create_status: Callable[[Dataset], int] = lambda ds: 0x0000
    set_status: int = 0x0000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_n_create(self, event: Any) -> tuple[int, Dataset | None]:
        attributes = event.attribute_list
        with self.lock:
            self.created.append((str(event.request.AffectedSOPClassUID),
                                 str(event.request.AffectedSOPInstanceUID), attributes))
        return self.create_status(attributes), None

    def on_n_set(self, event: Any) -> tuple[int, Dataset | None]:
        with self.lock:
            self.modified.append((str(event.request.RequestedSOPInstanceUID),
                                  event.modification_list))
        return self.set_status, None


@contextmanager
def peer_scp(peer: Peer, ae_title: str = "RIS") -> Iterator[Peer]:
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(ModalityPerformedProcedureStep)
    ae.add_supported_context(InstanceAvailabilityNotification)
    peer.port = free_port()
    server = ae.start_server(("127.0.0.1", peer.port), block=False, evt_handlers=[
        (evt.EVT_N_CREATE, peer.on_n_create), (evt.EVT_N_SET, peer.on_n_set)])
    assert server is not None
    try:
        yield peer
    finally:
        server.shutdown()


def dimse_commands(job: Job) -> list[tuple[str, int | None]]:
    record = Association.objects.get(job=job)
    return list(record.dimse_messages.order_by("pk").values_list("command", "status"))


# --- MPPS ---------------------------------------------------------------------------------
def test_mpps_create_then_complete_on_the_consoles_own_scp(
        celery_worker_process: Path, operator: User, listener: Listener,
        console_scp: ApplicationEntity, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made")
    job = run_job(operator, "mpps", {"ae": console_scp.pk, "study": study.pk,
                                     "action": "create_complete"})

    assert job.status == JobStatus.SUCCEEDED, job.error
    uid = job.result["mpps_instance_uid"]
    assert job.result["step_status"] == "COMPLETED"
    assert job.result["study_instance_uid"] == study.study_instance_uid
    step = PerformedProcedureStep.objects.get(sop_instance_uid=uid)
    assert step.status == PerformedProcedureStepStatus.COMPLETED
    assert (step.patient_id, step.patient_name) == ("WF-1", "Workflow^Wendy")
    assert step.study_instance_uids == [study.study_instance_uid]
    assert step.accession_numbers == ["ACC-42"]
    assert (step.station_ae_title, step.procedure_step_id) == ("DICOMCONSOLE",
                                                                f"PPS-{job.pk:010d}")
    assert step.started_at is not None and step.ended_at is not None
    attributes = Dataset.from_json(step.dataset)
    performed = {str(s.SeriesInstanceUID): s for s in attributes.PerformedSeriesSequence}
    expected = instance_uids(study)
    assert set(performed) == set(expected)
    referenced: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for series_uid, item in performed.items():
        images = {(str(r.ReferencedSOPClassUID), str(r.ReferencedSOPInstanceUID))
                  for r in item.ReferencedImageSequence}
        others = {(str(r.ReferencedSOPClassUID), str(r.ReferencedSOPInstanceUID))
                  for r in item.ReferencedNonImageCompositeSOPInstanceSequence}
        assert {uid for _, uid in images | others} == expected[series_uid]
        referenced[series_uid] = (frozenset(c for c, _ in images),
                                  frozenset(c for c, _ in others))
    # The SC images as images, the SR as a non-image composite instance.
    assert set(referenced.values()) == {(frozenset({SECONDARY_CAPTURE}), frozenset()),
                                        (frozenset(), frozenset({BASIC_TEXT_SR}))}
    image_series = next(s for s in performed.values() if len(s.ReferencedImageSequence) == 2)
    assert (image_series.ProtocolName, str(image_series.OperatorsName)) == ("Chest PA",
                                                                          "Tech^Tom")
    items = list(job.items.values_list("name", "outcome", "status", "sop_instance_uid"))
    assert items == [("N-CREATE IN PROGRESS", ItemOutcome.SUCCEEDED, 0, uid),
                     ("N-SET COMPLETED", ItemOutcome.SUCCEEDED, 0, uid)]
    assert dimse_commands(job) == [("N-CREATE-RQ", None), ("N-CREATE-RSP", 0),
                                   ("N-SET-RQ", None), ("N-SET-RSP", 0)]


def test_a_later_job_sets_the_step_and_a_final_step_is_refused(
        celery_worker_process: Path, operator: User, listener: Listener,
        console_scp: ApplicationEntity, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", with_report=False)
    created = run_job(operator, "mpps", {"ae": console_scp.pk, "study": study.pk,
                                         "action": "create"})
    assert created.status == JobStatus.SUCCEEDED, created.error
    uid = created.result["mpps_instance_uid"]
    assert created.result["step_status"] == "IN PROGRESS"
    assert PerformedProcedureStep.objects.get(sop_instance_uid=uid).status == \
        PerformedProcedureStepStatus.IN_PROGRESS

    stopped = run_job(operator, "mpps", {"ae": console_scp.pk, "action": "discontinue",
                                         "mpps_instance_uid": uid})
    assert stopped.status == JobStatus.SUCCEEDED, stopped.error
    assert PerformedProcedureStep.objects.get(sop_instance_uid=uid).status == \
        PerformedProcedureStepStatus.DISCONTINUED

    again = run_job(operator, "mpps", {"ae": console_scp.pk, "study": study.pk,
                                       "action": "complete", "mpps_instance_uid": uid})
    assert again.status == JobStatus.FAILED
    assert "N-SET (COMPLETED) was not performed: 0x0110 failure" in again.error
    assert "may no longer be updated" in again.error  # the SCP's Error Comment
    (item,) = again.items.all()
    assert (item.outcome, item.status) == (ItemOutcome.FAILED, 0x0110)
    assert PerformedProcedureStep.objects.get(sop_instance_uid=uid).status == \
        PerformedProcedureStepStatus.DISCONTINUED


def test_attributes_sent_and_a_refused_n_set_leave_the_step_in_progress(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path,
        settings: Any) -> None:
    study = archive_study(tmp_path / "made")
    with peer_scp(Peer(set_status=0x0106)) as peer:  # Invalid attribute value
        ae = remote_ae(ae_title="RIS", port=peer.port)
        job = run_job(operator, "mpps", {"ae": ae.pk, "study": study.pk,
                                         "performed_procedure_step_id": "PPS-77"})

    assert job.status == JobStatus.PARTIAL, job.error
    assert job.result["step_status"] == "IN PROGRESS"
    assert "N-SET (COMPLETED) was not performed: 0x0106 failure" in job.error
    assert "stays IN PROGRESS" in job.error
    ((sop_class, uid, created),) = peer.created
    assert (sop_class, uid) == (ModalityPerformedProcedureStep, job.result["mpps_instance_uid"])
    assert created.PerformedProcedureStepStatus == "IN PROGRESS"
    assert created.PerformedProcedureStepID == "PPS-77"
    assert (created.PerformedProcedureStepStartDate, created.Modality) == ("20240305", "OT")
    assert created.PerformedProcedureStepEndDate == "" and created.PerformedSeriesSequence == []
    assert (created.PatientID, str(created.PatientName)) == ("WF-1", "Workflow^Wendy")
    (scheduled,) = created.ScheduledStepAttributesSequence
    assert (scheduled.StudyInstanceUID, scheduled.AccessionNumber) == (
        study.study_instance_uid, "ACC-42")
    ((set_uid, modification),) = peer.modified
    assert set_uid == uid and modification.PerformedProcedureStepStatus == "COMPLETED"
    assert modification.PerformedProcedureStepEndDate and modification.PerformedProcedureStepEndTime
    assert {str(s.SeriesInstanceUID) for s in modification.PerformedSeriesSequence} == set(
        instance_uids(study))
    outcomes = list(job.items.values_list("name", "outcome", "status"))
    assert outcomes == [("N-CREATE IN PROGRESS", ItemOutcome.SUCCEEDED, 0),
                        ("N-SET COMPLETED", ItemOutcome.FAILED, 0x0106)]


def test_a_refused_n_create_sends_no_n_set(celery_worker_process: Path, operator: User,
                                           remote_ae: Any, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", with_report=False)
    with peer_scp(Peer(create_status=lambda ds: 0x0120)) as peer:  # Missing attribute
        ae = remote_ae(ae_title="RIS", port=peer.port)
        job = run_job(operator, "mpps", {"ae": ae.pk, "study": study.pk})
    assert job.status == JobStatus.FAILED
    assert "N-CREATE (IN PROGRESS) was not performed: 0x0120 failure" in job.error
    assert peer.modified == []
    assert job.result["step_status"] == "not created"
    assert [c for c, _ in dimse_commands(job)] == ["N-CREATE-RQ", "N-CREATE-RSP"]


def test_mpps_to_a_peer_that_is_down(celery_worker_process: Path, operator: User,
                                     remote_ae: Any, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", with_report=False)
    ae = remote_ae(port=free_port())
    job = run_job(operator, "mpps", {"ae": ae.pk, "study": study.pk})
    assert job.status == JobStatus.FAILED
    assert "Nothing is listening on 127.0.0.1" in job.error
    assert not job.items.exists()


def test_mpps_parameters_are_checked(operator: User, remote_ae: Any) -> None:
    ae = remote_ae()
    raw = issue_token(operator, "test").raw
    for params, message in [
        ({"ae": ae.pk, "action": "create"}, "creating a step needs the study"),
        ({"ae": ae.pk, "action": "discontinue"}, "needs its SOP Instance UID"),
        ({"ae": ae.pk, "study": 999999}, "no study with id 999999"),
        ({"ae": ae.pk, "action": "discontinue", "mpps_instance_uid": "1.2.x"},
         "not a valid UID"),
    ]:
        response = Client().post("/api/jobs", {"kind": "mpps", "params": params},
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {raw}"})
        assert response.status_code == 422, (params, response.content)
        assert message in response.content.decode(), response.content
    assert not Job.objects.exists()


# --- IAN ----------------------------------------------------------------------------------
def test_ian_per_study_to_the_consoles_own_scp(
        celery_worker_process: Path, operator: User, listener: Listener,
        console_scp: ApplicationEntity, tmp_path: Path) -> None:
    first = archive_study(tmp_path / "one")
    second = archive_study(tmp_path / "two", accession="ACC-43", with_report=False)
    step_uid = generate_uid()
    job = run_job(operator, "ian", {"ae": console_scp.pk, "studies": [first.pk, second.pk],
                                    "retrieve_listener": listener.pk,
                                    "mpps_instance_uid": step_uid})

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.result["notified"], job.result["failed"]) == (2, 0)
    items = list(job.items.order_by("pk"))
    assert [(i.outcome, i.status) for i in items] == [(ItemOutcome.SUCCEEDED, 0)] * 2
    for study, item in zip((first, second), items, strict=True):
        assert item.name == f"Study {study.study_instance_uid}"
        stored = AvailabilityNotification.objects.get(sop_instance_uid=item.sop_instance_uid)
        assert stored.study_instance_uids == [study.study_instance_uid]
        assert stored.accession_numbers == [study.accession_number]
        assert stored.calling_ae_title == "DICOMCONSOLE"
        expected = instance_uids(study)
        assert {(i["series_instance_uid"], i["sop_instance_uid"]) for i in stored.instances} \
            == {(s, u) for s, uids in expected.items() for u in uids}
        assert {(i["availability"], tuple(i["retrieve_ae_titles"])) for i in stored.instances} \
            == {("ONLINE", (listener.ae_title,))}
        assert stored.dataset["00081111"]["Value"][0]["00081155"]["Value"] == [step_uid]
    assert dimse_commands(job) == [("N-CREATE-RQ", None), ("N-CREATE-RSP", 0)] * 2


def test_ian_refused_for_one_study_is_partial(celery_worker_process: Path, operator: User,
                                              remote_ae: Any, tmp_path: Path) -> None:
    good = archive_study(tmp_path / "good", with_report=False)
    bad = archive_study(tmp_path / "bad", with_report=False)

    def refuse_bad(ds: Dataset) -> int:
        return 0x0110 if ds.StudyInstanceUID == bad.study_instance_uid else 0x0000

    with peer_scp(Peer(create_status=refuse_bad), ae_title="PACS") as peer:
        ae = remote_ae(ae_title="PACS", port=peer.port)
        job = run_job(operator, "ian", {"ae": ae.pk, "studies": [good.pk, bad.pk]})

    assert job.status == JobStatus.PARTIAL
    assert job.error == "1 of 2 notification(s) refused by the peer."
    by_study = {i.name: (i.outcome, i.status) for i in job.items.all()}
    assert by_study == {f"Study {good.study_instance_uid}": (ItemOutcome.SUCCEEDED, 0),
                        f"Study {bad.study_instance_uid}": (ItemOutcome.FAILED, 0x0110)}
    assert job.counters == {"succeeded": 1, "failed": 1}
    sent = {str(ds.StudyInstanceUID): (sop_class, ds) for sop_class, _, ds in peer.created}
    sop_class, attributes = sent[good.study_instance_uid]
    assert sop_class == InstanceAvailabilityNotification
    assert attributes.ReferencedPerformedProcedureStepSequence == []
    (series,) = attributes.ReferencedSeriesSequence
    assert {(r.InstanceAvailability, r.RetrieveAETitle) for r in series.ReferencedSOPSequence} \
        == {("ONLINE", "DICOMCONSOLE")}  # the calling AE title by default


def test_ian_with_a_called_ae_title_the_peer_rejects(
        celery_worker_process: Path, operator: User, listener: Listener, remote_ae: Any,
        tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", with_report=False)
    ae = remote_ae(ae_title="NOT_CONSOLE", port=listener.port)
    job = run_job(operator, "ian", {"ae": ae.pk, "studies": [study.pk]})
    assert job.status == JobStatus.FAILED
    assert "does not accept the called AE title 'NOT_CONSOLE'" in job.error
    assert Association.objects.get(job=job).outcome == AssociationOutcome.REJECTED
    assert not job.items.exists() and not AvailabilityNotification.objects.exists()


# --- forms and command lines --------------------------------------------------------------
@pytest.mark.django_db  # not transactional: the on-commit enqueueing is captured, not run
def test_forms_prefill_and_command_lines(operator: User, remote_ae: Any, tmp_path: Path,
                                         settings: Any,
                                         django_capture_on_commit_callbacks: Any) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"  # not the shared one: nothing left behind
    study = archive_study(tmp_path / "made", with_report=False)
    ae = remote_ae(ae_title="RIS", port=11112)
    client = logged_in(operator)
    index = client.get("/jobs/new/").content.decode()
    assert "/jobs/new/mpps/" in index and "/jobs/new/ian/" in index
    page = client.get(f"/jobs/new/mpps/?ae={ae.pk}&study={study.pk}").content.decode()
    assert f'<option value="{ae.pk}" selected>' in page and f'value="{study.pk}"' in page
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post("/jobs/new/mpps/", {"ae": ae.pk, "study": study.pk,
                                                  "action": "create_discontinue"})
        assert started.status_code == 302, started.content.decode()[:2000]
        refused = client.post("/jobs/new/ian/", {"ae": ae.pk, "studies": "12, x"})
        assert refused.status_code == 422
        client.post("/jobs/new/ian/", {"ae": ae.pk, "studies": f"{study.pk}"})
    mpps_job, ian_job = Job.objects.order_by("pk")
    folder = (tmp_path / "storage").resolve()
    commands = client.get(f"/api/jobs/{mpps_job.pk}").json()["commands"]
    (command,) = commands
    assert command["tool_set"] == "dcm4che"
    assert command["command"].startswith("mppsscu -c RIS@127.0.0.1:11112 -b DICOMCONSOLE --dc ")
    assert str(folder) in command["command"] and study.study_instance_uid in command["command"]
    (ian_command,) = client.get(f"/api/jobs/{ian_job.pk}").json()["commands"]
    assert ian_command["command"].startswith(
        "ianscu -c RIS@127.0.0.1:11112 -b DICOMCONSOLE --retrieve-aet DICOMCONSOLE ")
    assert ian_job.params["studies"] == [study.pk]
