"""Storage commitment jobs end to end (API → a real Celery worker → pynetdicom): the report on
the request's association and on a new association to the console's listener, against the
console's own Storage Commitment SCP, pynetdicom SCPs written here (failures, a report that
never comes, a refused N-ACTION) and Orthanc; the instances a store job sent; the listener's
handling of reports nobody waits for."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, build_role, evt
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StorageCommitmentPushModel,
    StorageCommitmentPushModelInstance,
)

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from console.tokens import issue_token
from netjobs.dicom.status import DimseStatus
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    CommitmentRequest,
    CommitmentStatus,
    ItemOutcome,
    Job,
    JobItem,
    JobStatus,
    Listener,
    ListenerStatus,
    ReportRoute,
)
from tests.archive_helpers import make_object
from tests.conftest import logged_in, wait_for_job
from tests.listener_helpers import make_listener
from tests.peers import free_port, orthanc

pytestmark = pytest.mark.django_db(transaction=True)

CONSOLE = "DICOMCONSOLE"  # CONSOLE_AE_TITLE of the test settings: the calling AE title
ALL_COMMITTED, FAILURES_EXIST = 1, 2


# --- helpers ------------------------------------------------------------------------------
def run_job(user: User, params: dict[str, Any], seconds: float = 40) -> Job:
    raw = issue_token(user, "test").raw
    response = Client().post("/api/jobs", {"kind": "stgcmt", "params": params},
                             content_type="application/json",
                             headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 201, response.content
    return wait_for_job(Job.objects.get(pk=response.json()["id"]), seconds)


def archive_study(folder: Path, count: int = 3) -> Study:
    """``count`` SC images of one study, under the storage root the worker reads too."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = generate_uid()
    for _ in range(count):
        store_file(make_object(folder, patient_name="Commit^Carl", patient_id="SC-9",
                               study_date="20240306", modality="OT", study_uid=study_uid),
                   source=InstanceSource.UPLOAD)
    return Study.objects.get(study_instance_uid=study_uid)


def instances_of(study: Study) -> list[Instance]:
    return list(Instance.objects.filter(series__study=study).order_by("pk"))


def outcomes(job: Job) -> dict[str, tuple[str, int | None, str]]:
    return {i.sop_instance_uid: (i.outcome, i.status, i.message) for i in job.items.all()}


@pytest.fixture
def shared_storage(manager: ListenerManager, settings: Any) -> ListenerManager:
    """Listeners in this process, reading the storage root the Celery worker writes (the
    manager fixture points this process at a private one)."""
    settings.STORAGE_ROOT = Path(os.environ["STORAGE_ROOT"]).resolve()
    return manager


def running(manager: ListenerManager, **fields: Any) -> Listener:
    listener = make_listener(storage_commitment=True, **fields)
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    return listener


@dataclass
class CommitmentPeer:
    """A pynetdicom Storage Commitment SCP: answers the N-ACTION with ``action_status`` and,
    unless told not to, reports on the same association: ``failures`` (SOP Instance UID →
    Failure Reason) failed, ``omit`` left out, the rest committed."""

    action_status: int = 0x0000
    report: bool = True
    failures: dict[str, int] = field(default_factory=dict)
    omit: set[str] = field(default_factory=set)
    requests: list[Dataset] = field(default_factory=list)
    answers: list[int | None] = field(default_factory=list)  # the console's N-EVENT-REPORT-RSP
    port: int = 0

    def on_n_action(self, event: Any) -> tuple[int, Dataset | None]:
        information = event.action_information
        self.requests.append(information)
        if self.action_status == 0x0000 and self.report:
            threading.Thread(target=self.send_report, args=(event.assoc, information),
                             daemon=True).start()
        return self.action_status, None

    def event_information(self, request: Dataset) -> tuple[int, Dataset]:
        committed, failed = [], []
        for item in request.ReferencedSOPSequence:
            uid = str(item.ReferencedSOPInstanceUID)
            if uid in self.omit:
                continue
            reference = Dataset()
            reference.ReferencedSOPClassUID = item.ReferencedSOPClassUID
            reference.ReferencedSOPInstanceUID = uid
            if uid in self.failures:
                reference.FailureReason = self.failures[uid]
                failed.append(reference)
            else:
                committed.append(reference)
        information = Dataset()
        information.TransactionUID = request.TransactionUID
        information.ReferencedSOPSequence = committed
        if failed:
            information.FailedSOPSequence = failed
        return (FAILURES_EXIST if failed else ALL_COMMITTED), information

    def send_report(self, assoc: PynetdicomAssociation, request: Dataset) -> None:
        time.sleep(0.3)  # after the N-ACTION response
        event_type, information = self.event_information(request)
        status, _ = assoc.send_n_event_report(information, event_type,
                                              StorageCommitmentPushModel,
                                              StorageCommitmentPushModelInstance)
        self.answers.append(int(status.Status) if "Status" in status else None)


@contextmanager
def commitment_scp(peer: CommitmentPeer, ae_title: str = "ARCHIVE",
                   role_selection: bool = True) -> Iterator[CommitmentPeer]:
    ae = AE(ae_title=ae_title)
    if role_selection:  # the requester may take the SCP role, to get the report back here
        ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    else:
        ae.add_supported_context(StorageCommitmentPushModel)
    peer.port = free_port()
    server = ae.start_server(("127.0.0.1", peer.port), block=False,
                             evt_handlers=[(evt.EVT_N_ACTION, peer.on_n_action)])
    assert server is not None
    try:
        yield peer
    finally:
        server.shutdown()


# --- against the console's own SCP --------------------------------------------------------
def test_report_on_the_same_association_from_the_consoles_scp(
        celery_worker_process: Path, operator: User, shared_storage: ListenerManager,
        remote_ae: Any, tmp_path: Path) -> None:
    listener = running(shared_storage)
    study = archive_study(tmp_path / "made")
    instances = instances_of(study)
    absolute_path(instances[2].file_path).unlink()  # indexed, but its file is gone
    ae = remote_ae(ae_title=listener.ae_title, port=listener.port)
    job = run_job(operator, {"ae": ae.pk, "study": study.pk,
                             "report_on": "same_association", "timeout": 15})

    assert job.status == JobStatus.PARTIAL, job.error
    assert job.error == "1 of 3 instance(s) not committed."
    assert (job.result["committed"], job.result["failed"]) == (2, 1)
    assert job.result["report_route"] == ReportRoute.SAME_ASSOCIATION.label
    assert job.result["awaiting_report"] is False
    items = outcomes(job)
    assert items[instances[0].sop_instance_uid][:2] == (ItemOutcome.SUCCEEDED, None)
    assert items[instances[2].sop_instance_uid] == (
        ItemOutcome.FAILED, 0x0110, "Not committed: 0x0110 Processing failure")
    commitment = CommitmentRequest.objects.get(transaction_uid=job.result["transaction_uid"])
    assert commitment.route == ReportRoute.SAME_ASSOCIATION
    assert commitment.calling_ae_title == CONSOLE
    record = job.associations.get()
    commands = list(record.dimse_messages.order_by("pk").values_list("command", "status"))
    assert commands == [("N-ACTION-RQ", None), ("N-ACTION-RSP", 0),
                        ("N-EVENT-REPORT-RQ", None), ("N-EVENT-REPORT-RSP", 0)]
    context = record.presentation_contexts.get()
    assert (context.scu_role, context.scp_role) == (True, True)  # role selection took


def test_report_on_a_new_association_to_the_consoles_listener(
        celery_worker_process: Path, operator: User, shared_storage: ListenerManager,
        remote_ae: Any, tmp_path: Path) -> None:
    # The listener answers to the calling AE title, and the SCP (the same listener) finds
    # the requester DICOMCONSOLE configured at its own address: it reports there.
    listener = running(shared_storage, ae_title=CONSOLE)
    study = archive_study(tmp_path / "made", count=2)
    ae = remote_ae(ae_title=CONSOLE, port=listener.port)
    job = run_job(operator, {"ae": ae.pk, "study": study.pk, "report_on": "listener",
                             "timeout": 15})

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.result["committed"], job.result["failed"]) == (2, 0)
    assert job.result["report_route"] == ReportRoute.NEW_ASSOCIATION.label
    assert job.result["report_from"] == CONSOLE
    assert job.log_entries.filter(
        message__startswith=f"N-EVENT-REPORT received by listener #{listener.pk}").exists()
    commitment = CommitmentRequest.objects.get(transaction_uid=job.result["transaction_uid"])
    assert commitment.route == ReportRoute.NEW_ASSOCIATION
    assert commitment.status == CommitmentStatus.REPORTED, commitment.report_error
    assert commitment.report_status == DimseStatus.SUCCESS  # the handler took it
    request_record = job.associations.get()
    context = request_record.presentation_contexts.get()
    assert context.scp_role is None or context.scp_role is False  # no role proposed
    assert list(request_record.dimse_messages.values_list("command", flat=True)) == [
        "N-ACTION-RQ", "N-ACTION-RSP"]


# --- against pynetdicom peers -------------------------------------------------------------
def test_failures_reported_by_a_peer_on_the_same_association(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", count=4)
    uids = [i.sop_instance_uid for i in instances_of(study)]
    peer = CommitmentPeer(failures={uids[1]: 0x0119, uids[2]: 0x0112}, omit={uids[3]})
    with commitment_scp(peer) as running_peer:
        ae = remote_ae(ae_title="ARCHIVE", port=running_peer.port)
        job = run_job(operator, {"ae": ae.pk, "study": study.pk, "timeout": 15})

    assert job.status == JobStatus.PARTIAL, job.error
    assert job.error == "3 of 4 instance(s) not committed."
    (request,) = peer.requests
    assert request.TransactionUID == job.result["transaction_uid"]
    assert [str(i.ReferencedSOPInstanceUID) for i in request.ReferencedSOPSequence] == uids
    assert peer.answers == [DimseStatus.SUCCESS]
    items = outcomes(job)
    assert items[uids[0]][0] == ItemOutcome.SUCCEEDED
    assert items[uids[1]] == (ItemOutcome.FAILED, 0x0119,
                              "Not committed: 0x0119 Class-instance conflict")
    assert items[uids[2]] == (ItemOutcome.FAILED, 0x0112,
                              "Not committed: 0x0112 No such object instance")
    assert items[uids[3]][:2] == (ItemOutcome.FAILED, None)
    assert "Not in the report" in items[uids[3]][2]
    assert job.counters == {"committed": 1, "failed": 2, "not_reported": 1}


def test_all_failed_is_a_failed_job(celery_worker_process: Path, operator: User,
                                    remote_ae: Any, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", count=2)
    uids = [i.sop_instance_uid for i in instances_of(study)]
    with commitment_scp(CommitmentPeer(failures=dict.fromkeys(uids, 0x0110))) as peer:
        ae = remote_ae(ae_title="ARCHIVE", port=peer.port)
        job = run_job(operator, {"ae": ae.pk, "sop_instance_uids": uids, "timeout": 15})
    assert job.status == JobStatus.FAILED
    assert {o for o, _, _ in outcomes(job).values()} == {ItemOutcome.FAILED}


def test_no_report_times_out_naming_where_it_was_expected(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", count=2)
    with commitment_scp(CommitmentPeer(report=False)) as peer:
        ae = remote_ae(ae_title="ARCHIVE", port=peer.port)
        started = time.monotonic()
        job = run_job(operator, {"ae": ae.pk, "study": study.pk, "timeout": 2})
        assert time.monotonic() - started < 20
    assert job.status == JobStatus.FAILED
    assert job.error.startswith(
        f"No N-EVENT-REPORT for transaction {job.result['transaction_uid']} within 2 s; it "
        f"was expected on the association to ARCHIVE@127.0.0.1:{peer.port}, kept open with "
        "the SCP role; at no listener: none running offers Storage Commitment.")
    assert {(o, m) for o, _, m in outcomes(job).values()} == {
        (ItemOutcome.SKIPPED, "No result: no N-EVENT-REPORT arrived.")}
    assert job.result["awaiting_report"] is False


def test_no_request_when_no_report_could_come_back(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", count=1)
    peer = CommitmentPeer()
    with commitment_scp(peer, role_selection=False):
        ae = remote_ae(ae_title="ARCHIVE", port=peer.port)
        job = run_job(operator, {"ae": ae.pk, "study": study.pk,
                                 "report_on": "same_association", "timeout": 10})
    assert job.status == JobStatus.FAILED
    assert "did not accept the SCP role of Storage Commitment" in job.error
    assert "the N-ACTION was not sent" in job.error
    assert peer.requests == []
    assert {o for o, _, _ in outcomes(job).values()} == {ItemOutcome.SKIPPED}


def test_a_refused_n_action(celery_worker_process: Path, operator: User, remote_ae: Any,
                            tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", count=1)
    with commitment_scp(CommitmentPeer(action_status=0x0213)) as peer:  # resource limitation
        ae = remote_ae(ae_title="ARCHIVE", port=peer.port)
        job = run_job(operator, {"ae": ae.pk, "study": study.pk, "timeout": 10})
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("The N-ACTION was not performed: 0x0213 failure")
    assert {o for o, _, _ in outcomes(job).values()} == {ItemOutcome.SKIPPED}


def test_peer_down_and_no_listener_for_the_listener_route(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path) -> None:
    study = archive_study(tmp_path / "made", count=1)
    down = remote_ae(port=free_port())
    job = run_job(operator, {"ae": down.pk, "study": study.pk})
    assert job.status == JobStatus.FAILED
    assert "Nothing is listening on 127.0.0.1" in job.error
    assert job.result.get("awaiting_report") is not True

    nowhere = run_job(operator, {"ae": down.pk, "study": study.pk, "report_on": "listener"})
    assert nowhere.status == JobStatus.FAILED
    assert nowhere.error.startswith("No running listener can receive the report")
    assert not nowhere.associations.exists()


# --- after a store job --------------------------------------------------------------------
def test_the_instances_a_store_job_sent(celery_worker_process: Path, operator: User,
                                        shared_storage: ListenerManager, remote_ae: Any,
                                        tmp_path: Path) -> None:
    listener = running(shared_storage)
    study = archive_study(tmp_path / "made", count=3)
    instances = instances_of(study)
    store = Job.objects.create(kind="store", status=JobStatus.PARTIAL, summary="sent")
    sent_elsewhere = generate_uid()  # sent from a server path, never archived
    JobItem.objects.bulk_create([
        JobItem(job=store, name="a", outcome=ItemOutcome.SUCCEEDED,
                sop_instance_uid=instances[0].sop_instance_uid),
        JobItem(job=store, name="b", outcome=ItemOutcome.WARNING, status=0xB000,
                sop_instance_uid=instances[1].sop_instance_uid),
        JobItem(job=store, name="c", outcome=ItemOutcome.FAILED, status=0xA700,
                sop_instance_uid=instances[2].sop_instance_uid),
        JobItem(job=store, name="d", outcome=ItemOutcome.SUCCEEDED,
                sop_instance_uid=sent_elsewhere),
    ])
    ae = remote_ae(ae_title=listener.ae_title, port=listener.port)
    job = run_job(operator, {"ae": ae.pk, "store_job": store.pk, "timeout": 15})

    assert job.summary.startswith(f"Storage commitment of the instances sent by job {store.pk}")
    assert job.status == JobStatus.PARTIAL, job.error
    assert "1 instance(s) of the instances sent by job" in job.error
    assert job.result["store_job"] == store.pk
    items = outcomes(job)
    assert set(items) == {instances[0].sop_instance_uid, instances[1].sop_instance_uid,
                          sent_elsewhere}  # the failed send is not asked about
    assert items[instances[0].sop_instance_uid][0] == ItemOutcome.SUCCEEDED
    assert items[instances[1].sop_instance_uid][0] == ItemOutcome.SUCCEEDED
    assert items[sent_elsewhere][0] == ItemOutcome.SKIPPED
    page = logged_in(operator).get(job.get_absolute_url()).content.decode()
    assert f'href="{store.get_absolute_url()}"' in page


# --- Orthanc ------------------------------------------------------------------------------
def upload_to_orthanc(http_port: int, path: Path) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/instances", method="POST",
                                     data=path.read_bytes())
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_orthanc_reports_on_a_new_association_to_the_listener(
        celery_worker_process: Path, operator: User, shared_storage: ListenerManager,
        remote_ae: Any, tmp_path: Path) -> None:
    listener = running(shared_storage, ae_title=CONSOLE)
    study = archive_study(tmp_path / "made", count=3)
    instances = instances_of(study)
    modalities = {"console": (CONSOLE, "127.0.0.1", listener.port)}
    with orthanc(tmp_path, modalities) as peer:
        for instance in instances[:2]:  # Orthanc has two of the three
            upload_to_orthanc(peer.http_port, absolute_path(instance.file_path))
        ae = remote_ae(ae_title=peer.ae_title, port=peer.dicom_port)
        job = run_job(operator, {"ae": ae.pk, "study": study.pk, "timeout": 20})

    # Orthanc 1.10 accepts the SCP role but always reports on a new association, to the
    # modality configured with the requester's AE title: the console's listener.
    assert job.status == JobStatus.PARTIAL, job.error
    assert job.result["report_route"] == ReportRoute.NEW_ASSOCIATION.label
    assert job.result["report_from"] == peer.ae_title
    items = outcomes(job)
    assert items[instances[0].sop_instance_uid][0] == ItemOutcome.SUCCEEDED
    assert items[instances[1].sop_instance_uid][0] == ItemOutcome.SUCCEEDED
    assert items[instances[2].sop_instance_uid][:2] == (ItemOutcome.FAILED, 0x0112)


# --- the listener's handler ---------------------------------------------------------------
def test_the_listener_refuses_a_report_nobody_waits_for(
        shared_storage: ListenerManager) -> None:
    listener = running(shared_storage)
    ae = AE(ae_title="ARCHIVE")
    ae.add_requested_context(StorageCommitmentPushModel)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
    responses: list[Dataset] = []
    assoc = ae.associate("127.0.0.1", listener.port, ae_title=listener.ae_title,
                         ext_neg=[build_role(StorageCommitmentPushModel, scp_role=True)],
                         evt_handlers=[(evt.EVT_DIMSE_RECV,
                                        lambda e: responses.append(e.message.command_set))])
    assert assoc.is_established
    try:
        information = Dataset()
        information.TransactionUID = generate_uid()
        information.ReferencedSOPSequence = []
        status, _ = assoc.send_n_event_report(information, ALL_COMMITTED,
                                              StorageCommitmentPushModel,
                                              StorageCommitmentPushModelInstance)
        assert status.Status == DimseStatus.PROCESSING_FAILURE
        assert "No request of this console has transaction" in str(responses[-1].ErrorComment)
        bad_type, _ = assoc.send_n_event_report(information, 7, StorageCommitmentPushModel,
                                                StorageCommitmentPushModelInstance)
        assert bad_type.Status == 0x0113  # no such event type
    finally:
        assoc.release()
        ae.shutdown()


# --- form and command lines ---------------------------------------------------------------
@pytest.mark.django_db  # not transactional: the on-commit enqueueing is captured, not run
def test_form_and_command_line(operator: User, remote_ae: Any, tmp_path: Path, settings: Any,
                               django_capture_on_commit_callbacks: Any) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"  # not the shared one: nothing left behind
    study = archive_study(tmp_path / "made", count=1)
    ae = remote_ae(ae_title="ARCHIVE", port=11112)
    client = logged_in(operator)
    page = client.get(f"/jobs/new/stgcmt/?ae={ae.pk}&store_job=7").content.decode()
    assert f'<option value="{ae.pk}" selected>' in page and 'value="7"' in page
    with django_capture_on_commit_callbacks(execute=False):
        uid = instances_of(study)[0].sop_instance_uid
        both = client.post("/jobs/new/stgcmt/", {"ae": ae.pk, "study": study.pk,
                                                 "sop_instance_uids": uid,
                                                 "report_on": "either", "timeout": 60})
        assert both.status_code == 422 and "give exactly one of" in both.content.decode()
        started = client.post("/jobs/new/stgcmt/", {"ae": ae.pk, "study": study.pk,
                                                    "report_on": "either", "timeout": 30})
        assert started.status_code == 302
    job = Job.objects.get()
    assert job.params["timeout"] == 30 and job.params["study"] == study.pk
    (command,) = client.get(f"/api/jobs/{job.pk}").json()["commands"]
    assert command["tool_set"] == "dcm4che"
    assert command["command"].startswith(
        "stgcmtscu -c ARCHIVE@127.0.0.1:11112 -b DICOMCONSOLE --keep-alive ")
    assert study.study_instance_uid in command["command"]


@pytest.mark.django_db
def test_the_command_line_binds_a_quoted_title_to_the_report_listener(
        remote_ae: Any, settings: Any, tmp_path: Path) -> None:
    """An AE title with a space is quoted once, with the listener's port, and a TLS peer
    gets --tls: checked by parsing the line as a shell would."""
    import shlex

    from netjobs.models import AEKind, ApplicationEntity, Listener, ListenerStatus
    from netjobs.operations.commitment.kind import command_lines
    from netjobs.operations.commitment.params import CommitmentParams
    local = ApplicationEntity.objects.create(kind=AEKind.LOCAL, ae_title="MY AE",
                                             host="127.0.0.1", port=11190)
    Listener.objects.create(name="reports", ae_title="MY AE", port=11190,
                            storage_commitment=True, status=ListenerStatus.RUNNING)
    ae = remote_ae(ae_title="ARCHIVE", port=11112, tls_enabled=True)
    settings.STORAGE_ROOT = tmp_path / "storage"
    study = archive_study(tmp_path / "made", count=1)
    params = CommitmentParams.model_validate({
        "ae": ae.pk, "calling_ae": local.pk, "study": study.pk, "report_on": "listener",
        "timeout": 30})
    (line,) = command_lines(params)
    words = shlex.split(line.command)
    assert words[:6] == ["stgcmtscu", "-c", "ARCHIVE@127.0.0.1:11112", "-b", "MY AE:11190",
                         "--tls"]
