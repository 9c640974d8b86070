"""Sending the N-EVENT-REPORT on the request's association or a new one, and the
N-ACTION handler that starts it."""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from pydicom.dataset import Dataset
from pynetdicom import build_role
from pynetdicom.dimse_primitives import N_ACTION
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StorageCommitmentPushModel,
    StorageCommitmentPushModelInstance,
)

from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.dicom.status import DimseStatus, StatusCategory, describe_status
from netjobs.listeners.commitment.check import CommitmentResult, check_references, event_information
from netjobs.listeners.commitment.requests import (
    REPORT_MESSAGE_ID,
    REPORT_TRANSFER_SYNTAXES,
    RESPONSE_WAIT_SECONDS,
    Reference,
    check_action,
    parse_request,
)
from netjobs.listeners.notification_data import Refusal
from netjobs.listeners.retrieve import set_failure_comment
from netjobs.models import (
    AEKind,
    ApplicationEntity,
    Association,
    CommitmentRequest,
    CommitmentStatus,
    ReportRoute,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOutcome:
    route: ReportRoute | None  # None: it failed before a route was chosen
    record_id: int | None
    status: int | None = None  # what the requester answered; None: no answer
    error: str = ""

    @property
    def delivered(self) -> bool:
        """The requester answered with success or a warning."""
        return self.status is not None and not self.error


def answered(route: ReportRoute, record_id: int | None, status: int) -> ReportOutcome:
    info = describe_status(status, "N-EVENT-REPORT")
    if info.category in (StatusCategory.SUCCESS, StatusCategory.WARNING):
        return ReportOutcome(route, record_id, status)
    return ReportOutcome(route, record_id, status,
                         f"The requester answered the N-EVENT-REPORT with {info}.")


@dataclass
class ReportTask:
    """What the report thread needs from the N-ACTION and its association."""

    commitment_id: int
    listener_id: int
    listener_ae_title: str
    calling_ae_title: str
    peer_host: str
    transaction_uid: str
    references: list[Reference]
    assoc: Any  # the pynetdicom association of the request
    request_record_id: int | None
    response_queued: threading.Event
    lock: threading.Lock  # one report at a time on the association


def send_report(assoc: Any, information: Dataset, event_type_id: int) -> int | None:
    """Send the N-EVENT-REPORT on an established association; the status answered, or None
    when no answer came (pynetdicom then aborts the association)."""
    status, _ = assoc.send_n_event_report(information, event_type_id,
                                          StorageCommitmentPushModel,
                                          StorageCommitmentPushModelInstance,
                                          msg_id=REPORT_MESSAGE_ID)
    return int(status.Status) if "Status" in status else None


def requester_took_scp_role(assoc: Any) -> bool:
    """The requester proposed the SCP role of the SOP class and the listener accepted it
    (on the acceptor's side pynetdicom shows that as ``as_scu``: the listener may invoke)."""
    return any(cx.abstract_syntax == StorageCommitmentPushModel and cx.as_scu
               for cx in assoc.accepted_contexts)


def wait_for_response(task: ReportTask) -> bool:
    """Until the N-ACTION response is queued, or the association has ended."""
    deadline = time.monotonic() + RESPONSE_WAIT_SECONDS
    while not task.response_queued.wait(0.02):
        if not task.assoc.is_alive() or time.monotonic() > deadline:
            return False
    return True


def report_on_request_association(task: ReportTask, information: Dataset,
                                  event_type_id: int) -> ReportOutcome | None:
    """The report on the N-ACTION's association; None when that is not possible.

    Sent from the report thread while holding the association's serving lock (see
    ``server.serve_one_at_a_time``): no request is being served meanwhile, and pynetdicom's
    ``send_*`` pauses the reactor until the answer is in. Only a requester that took the
    SCP role, and so expects the report here, gets it."""
    assoc = task.assoc
    if not requester_took_scp_role(assoc):
        return None
    with task.lock:
        if not assoc.is_established:
            logger.info("storage commitment %s: %s released the association before the "
                        "report", task.transaction_uid, task.calling_ae_title)
            return None
        try:
            with getattr(assoc, "_console_serving", None) or contextlib.nullcontext():
                status = send_report(assoc, information, event_type_id)
        except (RuntimeError, ValueError) as exc:  # ended meanwhile, or no usable context
            logger.info("storage commitment %s: not sent on the request's association: %s",
                        task.transaction_uid, exc)
            return None
    if status is None:
        logger.info("storage commitment %s: no answer on the request's association",
                    task.transaction_uid)
        return None
    return answered(ReportRoute.SAME_ASSOCIATION, task.request_record_id, status)


def requester_ae(calling_ae_title: str, peer_host: str) -> ApplicationEntity | None:
    """The remote AE configured with the requester's AE title; with several, the one at the
    address the request came from."""
    candidates = list(ApplicationEntity.objects.filter(
        kind=AEKind.REMOTE, ae_title=calling_ae_title).order_by("pk"))
    same_host = [ae for ae in candidates if ae.host == peer_host]
    chosen = same_host or candidates
    return chosen[0] if chosen else None


def _attach_to_listener(record: Association, listener_id: int) -> None:
    Association.objects.filter(pk=record.pk).update(listener_id=listener_id)


def report_on_new_association(task: ReportTask, information: Dataset,
                              event_type_id: int) -> ReportOutcome:
    remote = requester_ae(task.calling_ae_title, task.peer_host)
    if remote is None:
        return ReportOutcome(
            ReportRoute.NEW_ASSOCIATION, None, None,
            f"The requester {task.calling_ae_title} did not keep the association open for the "
            f"report (or did not take the SCP role on it), and no remote AE titled "
            f"{task.calling_ae_title} is configured to send it to. Add that AE, with the "
            "host and port where it receives storage commitment reports.")
    contexts = [(str(StorageCommitmentPushModel), REPORT_TRANSFER_SYNTAXES)]
    role = build_role(StorageCommitmentPushModel, scp_role=True)  # PS3.4 J.3.3.1.2 note
    try:
        with requested_association(remote=remote, calling_ae_title=task.listener_ae_title,
                                   contexts=contexts, ext_neg=[role]) as (assoc, recorder):
            recorder.record.listener_id = task.listener_id  # saved when the recorder ends
            status = send_report(assoc, information, event_type_id)
            if status is None:
                why = recorder.explanation_so_far() or "The DIMSE timeout passed."
                return ReportOutcome(ReportRoute.NEW_ASSOCIATION, recorder.record.pk, None,
                                     f"{remote} did not answer the N-EVENT-REPORT. {why}")
            return answered(ReportRoute.NEW_ASSOCIATION, recorder.record.pk, status)
    except AssociationFailed as exc:
        _attach_to_listener(exc.record, task.listener_id)
        return ReportOutcome(ReportRoute.NEW_ASSOCIATION, exc.record.pk, None,
                             f"No association with {remote}: {exc}")
    except (TlsSetupFailed, ValidationError, ssl.SSLError, OSError) as exc:
        return ReportOutcome(ReportRoute.NEW_ASSOCIATION, None, None,
                             f"Cannot associate with {remote}: {exc}")


def save_result(commitment_id: int, result: CommitmentResult) -> None:
    CommitmentRequest.objects.filter(pk=commitment_id).update(
        committed=[r.as_dict() for r in result.committed],
        failed=[f.as_dict() for f in result.failed])


def save_outcome(commitment_id: int, outcome: ReportOutcome) -> None:
    CommitmentRequest.objects.filter(pk=commitment_id).update(
        status=CommitmentStatus.REPORTED if outcome.delivered else CommitmentStatus.REPORT_FAILED,
        route=outcome.route or "",
        report_record_id=outcome.record_id,
        report_status=outcome.status,
        report_error=outcome.error,
        reported_at=timezone.now() if outcome.status is not None else None,
    )


def deliver_report(task: ReportTask) -> None:
    """The report thread: check the archive, then report on the best route."""
    try:
        result = check_references(task.references)
        save_result(task.commitment_id, result)
        information = event_information(task.transaction_uid, result)
        if not wait_for_response(task):
            logger.info("storage commitment %s: the N-ACTION response was not sent",
                        task.transaction_uid)
        outcome = (report_on_request_association(task, information, result.event_type_id)
                   or report_on_new_association(task, information, result.event_type_id))
        save_outcome(task.commitment_id, outcome)
        logger.info("storage commitment %s from %s: %d committed, %d failed; report %s",
                    task.transaction_uid, task.calling_ae_title, len(result.committed),
                    len(result.failed), "sent" if outcome.delivered else outcome.error)
    except Exception as exc:
        logger.exception("storage commitment %s: the report failed", task.transaction_uid)
        save_outcome(task.commitment_id, ReportOutcome(None, None, None,
                                                       f"Internal error: {exc}"))
    finally:
        connection.close()


# --- the association's side --------------------------------------------------------------------
def _signal_after_sending(dimse: Any, pending: dict[int, threading.Event]) -> None:
    send: Callable[[Any, int], None] = dimse.send_msg

    def send_then_signal(primitive: Any, context_id: int) -> None:
        try:
            send(primitive, context_id)
        finally:
            responding_to = getattr(primitive, "MessageIDBeingRespondedTo", None)
            if isinstance(primitive, N_ACTION) and responding_to is not None:
                queued = pending.pop(responding_to, None)
                if queued is not None:
                    queued.set()

    dimse.send_msg = send_then_signal


def response_queued(assoc: Any, message_id: int) -> threading.Event:
    """Set once the response to N-ACTION ``message_id`` has been handed to the network layer,
    so that a report sent afterwards follows it on the wire. (EVT_DIMSE_SENT fires before
    the message is queued: too early for that.)"""
    pending: dict[int, threading.Event] | None = getattr(
        assoc, "_console_commitment_responses", None)
    if pending is None:
        pending = {}
        assoc._console_commitment_responses = pending
        assoc._console_commitment_lock = threading.Lock()
        _signal_after_sending(assoc.dimse, pending)
    queued = threading.Event()
    pending[message_id] = queued
    return queued


def _calling_ae_title(event: Any) -> str:
    return str(event.assoc.requestor.ae_title).strip()


def _request_record_id(assoc: Any) -> int | None:
    recorder = getattr(assoc, "_console_recorder", None)
    return None if recorder is None else int(recorder.record.pk)


def start_report(event: Any, commitment: CommitmentRequest, references: list[Reference],
                 listener_id: int) -> None:
    assoc = event.assoc
    queued = response_queued(assoc, event.request.MessageID)
    task = ReportTask(
        commitment_id=commitment.pk, listener_id=listener_id,
        listener_ae_title=str(assoc.ae.ae_title).strip(),
        calling_ae_title=commitment.calling_ae_title, peer_host=str(assoc.requestor.address),
        transaction_uid=commitment.transaction_uid, references=references, assoc=assoc,
        request_record_id=_request_record_id(assoc), response_queued=queued,
        lock=assoc._console_commitment_lock,
    )
    threading.Thread(target=deliver_report, args=(task,), daemon=True,
                     name=f"storage-commitment-{commitment.pk}").start()


def on_n_action(event: Any, listener_id: int) -> tuple[int, Dataset | None]:
    calling = _calling_ae_title(event)
    commitment: CommitmentRequest | None = None
    try:
        check_action(event.request)
        transaction_uid, references = parse_request(event.action_information)
        commitment = CommitmentRequest.objects.create(
            transaction_uid=transaction_uid, listener_id=listener_id, calling_ae_title=calling,
            references=[r.as_dict() for r in references])
        start_report(event, commitment, references, listener_id)
    except Refusal as refusal:
        logger.info("listener %s: storage commitment request from %s refused (0x%04X): %s",
                    listener_id, calling, refusal.status, refusal.reason)
        set_failure_comment(event.assoc, event.request.MessageID, refusal.reason)
        return refusal.status, None
    except Exception as exc:
        logger.exception("listener %s: storage commitment request from %s failed",
                         listener_id, calling)
        if commitment is not None:  # stored, but no report will follow
            save_outcome(commitment.pk, ReportOutcome(None, None, None,
                                                      f"Internal error: {exc}"))
        return DimseStatus.PROCESSING_FAILURE, None
    logger.info("listener %s: storage commitment %s from %s for %d instances", listener_id,
                transaction_uid, calling, len(references))
    return DimseStatus.SUCCESS, None
