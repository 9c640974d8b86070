"""The listener's Storage Commitment Push Model SCP (PS3.4 Annex J), against pynetdicom
requesters on loopback: the report on the request's association when the requester keeps it
open with the SCP role, on a new association to the configured requester otherwise, a
requester nobody configured, refused requests; and the pages and API that show them."""

from __future__ import annotations

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
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, build_role, evt
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StorageCommitmentPushModel,
    StorageCommitmentPushModelInstance,
    Verification,
)

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from netjobs.dicom.status import DimseStatus
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    ApplicationEntity,
    Association,
    AssociationRole,
    CommitmentRequest,
    CommitmentStatus,
    Listener,
    ListenerStatus,
    ReportRoute,
)
from tests.archive_helpers import make_object
from tests.conftest import logged_in
from tests.listener_helpers import make_listener, settled
from tests.peers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
REQUEST_STORAGE_COMMITMENT = 1
ALL_COMMITTED, FAILURES_EXIST = 1, 2
WAIT_SECONDS = 15.0


# --- helpers ------------------------------------------------------------------------------
@dataclass
class ReportInbox:
    """An EVT_N_EVENT_REPORT handler that keeps what it received and answers Success."""

    reports: list[tuple[int, Dataset, str]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def handle(self, event: Any) -> tuple[int, None]:
        self.reports.append((int(event.event_type), event.event_information,
                             str(event.assoc.requestor.ae_title).strip()))
        self.arrived.set()
        return DimseStatus.SUCCESS, None

    def wait(self) -> tuple[int, Dataset, str]:
        assert self.arrived.wait(WAIT_SECONDS), "no N-EVENT-REPORT arrived"
        return self.reports[0]


def request_information(transaction_uid: str | None,
                        references: list[tuple[str, str]] | None) -> Dataset:
    """Action Information of a Request Storage Commitment (PS3.4 Table J.3-1)."""
    information = Dataset()
    if transaction_uid is not None:
        information.TransactionUID = transaction_uid
    if references is not None:
        items = []
        for sop_class_uid, sop_instance_uid in references:
            item = Dataset()
            item.ReferencedSOPClassUID = sop_class_uid
            item.ReferencedSOPInstanceUID = sop_instance_uid
            items.append(item)
        information.ReferencedSOPSequence = items
    return information


def requesting_ae(ae_title: str) -> AE:
    ae = AE(ae_title=ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
    ae.add_requested_context(StorageCommitmentPushModel)
    ae.add_requested_context(Verification)
    return ae


@contextmanager
def association(listener: Listener, ae_title: str, *, scp_role: bool = False,
                inbox: ReportInbox | None = None) -> Iterator[PynetdicomAssociation]:
    """An association to the listener, released at the end (if still established)."""
    ae = requesting_ae(ae_title)
    ext_neg: list[Any] = (
        [build_role(StorageCommitmentPushModel, scu_role=True, scp_role=True)] if scp_role
        else [])
    handlers: list[Any] = [(evt.EVT_N_EVENT_REPORT, inbox.handle)] if inbox is not None else []
    assoc = ae.associate("127.0.0.1", listener.port, ae_title=listener.ae_title,
                         ext_neg=ext_neg or None, evt_handlers=handlers)
    assert assoc.is_established
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()


def request_commitment(assoc: PynetdicomAssociation, information: Dataset,
                       action_type: int = REQUEST_STORAGE_COMMITMENT) -> int:
    status, _ = assoc.send_n_action(information, action_type, StorageCommitmentPushModel,
                                    StorageCommitmentPushModelInstance)
    assert "Status" in status, "no N-ACTION response"
    return int(status.Status)


def reported(transaction_uid: str) -> CommitmentRequest:
    """The request once its report has been sent or has failed (polled, bounded)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        commitment = CommitmentRequest.objects.filter(transaction_uid=transaction_uid).first()
        if commitment is not None and commitment.status != CommitmentStatus.PENDING:
            return commitment
        time.sleep(0.05)
    raise AssertionError(f"storage commitment {transaction_uid} not reported after "
                         f"{WAIT_SECONDS} s")


def uids(items: Any) -> set[tuple[str, str]]:
    return {(str(i.ReferencedSOPClassUID), str(i.ReferencedSOPInstanceUID)) for i in items}


@pytest.fixture
def archived(manager: ListenerManager, tmp_path: Path) -> list[Instance]:
    """Two instances in the archive (under the manager fixture's storage root)."""
    folder = tmp_path / "made"
    folder.mkdir()
    for number in range(2):
        store_file(make_object(folder, patient_name=f"Commit^{number}", patient_id="SC1",
                               study_date="20240301", modality="OT"),
                   source=InstanceSource.UPLOAD)
    return list(Instance.objects.order_by("pk"))


@pytest.fixture
def listener(manager: ListenerManager) -> Listener:
    listener = make_listener(storage_commitment=True)
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    return listener


def references_of(instances: list[Instance]) -> list[tuple[str, str]]:
    return [(i.sop_class_uid, i.sop_instance_uid) for i in instances]


# --- the report on the request's association ----------------------------------------------
def test_report_on_the_request_association(archived: list[Instance], listener: Listener,
                                           viewer: User) -> None:
    transaction_uid, unknown = generate_uid(), generate_uid()
    wrong_class = (CT_IMAGE_STORAGE, archived[1].sop_instance_uid)  # archived as SC
    references = [*references_of(archived), (CT_IMAGE_STORAGE, unknown), wrong_class]
    inbox = ReportInbox()
    with association(listener, "MODALITY", scp_role=True, inbox=inbox) as assoc:
        status = request_commitment(assoc, request_information(transaction_uid, references))
        assert status == DimseStatus.SUCCESS
        event_type, information, _ = inbox.wait()

    assert event_type == FAILURES_EXIST
    assert information.TransactionUID == transaction_uid
    assert uids(information.ReferencedSOPSequence) == set(references_of(archived))
    reasons = {str(i.ReferencedSOPInstanceUID): (str(i.ReferencedSOPClassUID), i.FailureReason)
               for i in information.FailedSOPSequence}
    assert reasons == {unknown: (CT_IMAGE_STORAGE, DimseStatus.NO_SUCH_OBJECT_INSTANCE),
                       wrong_class[1]: (CT_IMAGE_STORAGE, DimseStatus.CLASS_INSTANCE_CONFLICT)}

    commitment = reported(transaction_uid)
    assert commitment.status == CommitmentStatus.REPORTED, commitment.report_error
    assert commitment.route == ReportRoute.SAME_ASSOCIATION
    assert commitment.report_status == DimseStatus.SUCCESS
    assert commitment.reported_at is not None and commitment.listener_id == listener.pk
    assert commitment.calling_ae_title == "MODALITY"
    assert len(commitment.references) == 4 and len(commitment.committed) == 2
    assert {(f["sop_instance_uid"], f["failure_reason"]) for f in commitment.failed} == {
        (unknown, DimseStatus.NO_SUCH_OBJECT_INSTANCE),
        (wrong_class[1], DimseStatus.CLASS_INSTANCE_CONFLICT)}
    record = commitment.report_record
    assert record is not None
    assert (record.role, record.listener_id) == (AssociationRole.ACCEPTOR, listener.pk)
    assert record.calling_ae_title == "MODALITY"
    # Only this association: the report did not also go out on a new one.
    assert Association.objects.filter(listener=listener).count() == 1

    settled(listener, 1)  # the record's DIMSE messages are written when it has ended
    page = logged_in(viewer).get(f"/commitments/{commitment.pk}/").content.decode()
    assert 'id="report-association"' in page and "N-EVENT-REPORT-RSP" in page
    assert archived[0].get_absolute_url() in page
    assert page.count(">committed</mark>") == 2 and page.count(">failed</mark>") == 2


# --- the report on a new association ------------------------------------------------------
@contextmanager
def report_receiver(ae_title: str, inbox: ReportInbox) -> Iterator[int]:
    """A pynetdicom AE that accepts N-EVENT-REPORTs from an association requester that takes
    the SCP role of Storage Commitment; yields its port."""
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(StorageCommitmentPushModel, scu_role=False, scp_role=True)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False,
                             evt_handlers=[(evt.EVT_N_EVENT_REPORT, inbox.handle)])
    assert server is not None
    try:
        yield port
    finally:
        server.shutdown()


def test_report_on_a_new_association_after_release(archived: list[Instance],
                                                   listener: Listener) -> None:
    transaction_uid = generate_uid()
    inbox = ReportInbox()
    with report_receiver("MODALITY", inbox) as port:
        ApplicationEntity.objects.create(ae_title="MODALITY", host="127.0.0.1", port=port,
                                         acse_timeout=5, dimse_timeout=5, network_timeout=5)
        with association(listener, "MODALITY") as assoc:  # released right after the answer
            status = request_commitment(
                assoc, request_information(transaction_uid, references_of(archived)))
            assert status == DimseStatus.SUCCESS
        event_type, information, calling = inbox.wait()

    assert (event_type, calling) == (ALL_COMMITTED, listener.ae_title)
    assert information.TransactionUID == transaction_uid
    assert uids(information.ReferencedSOPSequence) == set(references_of(archived))
    assert "FailedSOPSequence" not in information

    commitment = reported(transaction_uid)
    assert commitment.status == CommitmentStatus.REPORTED, commitment.report_error
    assert commitment.route == ReportRoute.NEW_ASSOCIATION
    assert commitment.report_status == DimseStatus.SUCCESS and commitment.failed == []
    record = commitment.report_record
    assert record is not None
    assert (record.role, record.listener_id) == (AssociationRole.REQUESTOR, listener.pk)
    assert (record.calling_ae_title, record.called_ae_title) == (listener.ae_title, "MODALITY")
    assert record.dimse_messages.filter(command="N-EVENT-REPORT-RSP", status=0).exists()
    context = record.presentation_contexts.get(abstract_syntax=StorageCommitmentPushModel)
    assert (context.scu_role, context.scp_role) == (False, True)  # role selection took


def test_a_requester_nobody_configured_gets_no_report(archived: list[Instance],
                                                      listener: Listener) -> None:
    transaction_uid = generate_uid()
    with association(listener, "NOBODY") as assoc:
        status = request_commitment(
            assoc, request_information(transaction_uid, references_of(archived[:1])))
        assert status == DimseStatus.SUCCESS

    commitment = reported(transaction_uid)
    assert commitment.status == CommitmentStatus.REPORT_FAILED
    assert commitment.route == ReportRoute.NEW_ASSOCIATION
    assert "no remote AE titled NOBODY is configured" in commitment.report_error
    assert commitment.report_record is None and commitment.report_status is None
    assert len(commitment.committed) == 1  # the check ran all the same


def test_an_unreachable_requester_is_recorded(archived: list[Instance],
                                              listener: Listener) -> None:
    transaction_uid = generate_uid()
    ApplicationEntity.objects.create(ae_title="GONE", host="127.0.0.1", port=free_port(),
                                     connect_timeout=3, acse_timeout=3)
    with association(listener, "GONE") as assoc:
        request_commitment(assoc, request_information(transaction_uid,
                                                      references_of(archived[:1])))

    commitment = reported(transaction_uid)
    assert commitment.status == CommitmentStatus.REPORT_FAILED
    assert commitment.report_error.startswith("No association with GONE@127.0.0.1")
    record = commitment.report_record
    assert record is not None and record.listener_id == listener.pk
    assert record.outcome == "connection_failed"


# --- refused requests ---------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_bad_requests_are_refused_and_the_listener_keeps_serving(
    archived: list[Instance], listener: Listener,
) -> None:
    references = references_of(archived)
    with association(listener, "MODALITY") as assoc:
        good = request_information(generate_uid(), references)
        assert request_commitment(assoc, good, action_type=2) == \
            DimseStatus.NO_SUCH_ACTION_TYPE
        assert request_commitment(assoc, request_information(None, references)) == \
            DimseStatus.INVALID_ARGUMENT_VALUE
        assert request_commitment(assoc, request_information(generate_uid(), None)) == \
            DimseStatus.INVALID_ARGUMENT_VALUE
        assert request_commitment(assoc, request_information(generate_uid(), [])) == \
            DimseStatus.INVALID_ARGUMENT_VALUE
        assert request_commitment(assoc, request_information("1.2.x", references)) == \
            DimseStatus.INVALID_ARGUMENT_VALUE
        echo = assoc.send_c_echo()
        assert echo.Status == DimseStatus.SUCCESS
    assert not CommitmentRequest.objects.exists()
    with association(listener, "MODALITY") as again:
        assert again.send_c_echo().Status == DimseStatus.SUCCESS


# --- pages and API ------------------------------------------------------------------------
@pytest.fixture
def commitment(db: Any, settings: Any, tmp_path: Path) -> CommitmentRequest:
    settings.STORAGE_ROOT = tmp_path / "storage"
    store_file(make_object(tmp_path, patient_name="Page^Test", patient_id="PG1",
                           study_date="20240302", modality="OT"), source=InstanceSource.UPLOAD)
    instance = Instance.objects.get()
    missing = generate_uid()
    listener = make_listener(storage_commitment=True)
    return CommitmentRequest.objects.create(
        transaction_uid="1.2.826.0.1.3680043.8.498.4242", listener=listener,
        calling_ae_title="MODALITY", status=CommitmentStatus.REPORT_FAILED,
        route=ReportRoute.NEW_ASSOCIATION, report_error="No association with MODALITY",
        references=[{"sop_class_uid": instance.sop_class_uid,
                     "sop_instance_uid": instance.sop_instance_uid},
                    {"sop_class_uid": CT_IMAGE_STORAGE, "sop_instance_uid": missing}],
        committed=[{"sop_class_uid": instance.sop_class_uid,
                    "sop_instance_uid": instance.sop_instance_uid}],
        failed=[{"sop_class_uid": CT_IMAGE_STORAGE, "sop_instance_uid": missing,
                 "failure_reason": DimseStatus.NO_SUCH_OBJECT_INSTANCE,
                 "detail": "Not in the archive"}],
    )


def test_a_viewer_sees_the_requests_and_their_results(viewer: User,
                                                     commitment: CommitmentRequest) -> None:
    client = logged_in(viewer)
    listing = client.get("/commitments/").content.decode()
    assert commitment.transaction_uid in listing and "MODALITY" in listing
    assert f"/commitments/{commitment.pk}/" in listing
    # counted by the database: 1 of 2 committed, 1 failed
    assert "<td>1 <small>of 2</small></td>\n    <td>1</td>" in listing, listing

    detail = client.get(f"/commitments/{commitment.pk}/").content.decode()
    instance = Instance.objects.select_related("series__study").get()
    assert instance.get_absolute_url() in detail
    assert instance.series.study.get_absolute_url() in detail
    assert "0x0112 No such object instance" in detail
    assert "No association with MODALITY" in detail
    assert "Storage commitment" in client.get("/").content.decode()  # in the navigation


def test_anonymous_visitors_are_sent_to_login(commitment: CommitmentRequest) -> None:
    for path in ("/commitments/", f"/commitments/{commitment.pk}/"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].split("?")[0] == "/login/"
    assert Client().get("/api/commitments").status_code == 401


def test_the_api_lists_the_requests(viewer: User, commitment: CommitmentRequest) -> None:
    answer = logged_in(viewer).get("/api/commitments").json()
    assert [c["transaction_uid"] for c in answer["items"]] == [commitment.transaction_uid]
    item = answer["items"][0]
    assert item["status"] == CommitmentStatus.REPORT_FAILED
    assert item["failed"][0]["failure_reason"] == DimseStatus.NO_SUCH_OBJECT_INSTANCE
