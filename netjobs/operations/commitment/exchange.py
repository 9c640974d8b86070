"""The N-ACTION and the wait for its N-EVENT-REPORT: on the request's association (the
console proposes the SCP role of the SOP class and keeps the association open) and/or at
one of the console's listeners (``netjobs.listeners.commitment_reports`` hands the report
over through the job's ``result``, found by Transaction UID)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import build_role, evt
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StorageCommitmentPushModel,
    StorageCommitmentPushModelInstance,
)

from netjobs.dicom.associate import requested_association
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.status import DimseStatus
from netjobs.jobs.base import JobContext
from netjobs.listeners.commitment_reports import (
    AWAITING_REPORT,
    TRANSACTION_UID,
    CommitmentReport,
    ReportRefused,
    parse_report,
    stored_report,
)
from netjobs.models import ApplicationEntity, Listener, ListenerStatus, ReportRoute
from netjobs.operations.commitment.params import CommitmentParams, Reference, ReportOn
from netjobs.operations.ian.nservice import N_SERVICE_SYNTAXES, Answer, answer_of, no_answer_reason

REQUEST_STORAGE_COMMITMENT = 1  # Action Type ID, PS3.4 Table J.3-1
POLL_SECONDS = 0.2


# --- where the report can arrive ----------------------------------------------------------
def report_listeners(calling: str) -> list[Listener]:
    """Running listeners that accept a report addressed to the calling AE title: they offer
    Storage Commitment (so they accept the SOP class with the peer as SCP) and answer to
    that AE title."""
    return [listener for listener in Listener.objects.filter(
                status=ListenerStatus.RUNNING, storage_commitment=True).order_by("pk")
            if listener.ae_title == calling or not listener.require_called_ae_title]


def listener_places(listeners: list[Listener]) -> str:
    return ", ".join(f"listener '{each.name}' ({each.ae_title} on {each.bind_address}:"
                     f"{each.port})" for each in listeners)


@dataclass
class ReportInbox:
    """EVT_N_EVENT_REPORT on the request's association: keeps the report of our
    transaction and answers Success; anything else is refused."""

    transaction_uid: str
    report: CommitmentReport | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False  # the job stopped waiting: a report now is refused, not dropped

    def close(self) -> CommitmentReport | None:
        """Stop taking reports; the one that came meanwhile, if any."""
        with self.lock:
            self.closed = True
            return self.report

    def handle(self, event: Any) -> tuple[int, Dataset | None]:
        try:
            if event.request.AffectedSOPClassUID != StorageCommitmentPushModel:
                return DimseStatus.NO_SUCH_SOP_CLASS, None
            report = parse_report(event.event_information, event.event_type,
                                  ReportRoute.SAME_ASSOCIATION,
                                  calling_ae_title=str(event.assoc.acceptor.ae_title).strip())
        except ReportRefused as refusal:
            return refusal.status, None
        if report.transaction_uid != self.transaction_uid:
            return DimseStatus.PROCESSING_FAILURE, None
        with self.lock:
            if self.closed:  # too late: say so rather than acknowledge and lose it
                return DimseStatus.PROCESSING_FAILURE, None
            self.report = report
        self.arrived.set()
        return DimseStatus.SUCCESS, None


@dataclass
class Waiting:
    """What the job waits on: the association (with its inbox) and/or the listeners."""

    job_id: int
    inbox: ReportInbox | None
    assoc: PynetdicomAssociation | None
    use_listeners: bool
    deadline: float
    association_ended: str = ""  # why the association stopped being a way in

    def poll(self) -> CommitmentReport | None:
        if self.inbox is not None:
            if self.inbox.arrived.wait(POLL_SECONDS):
                return self.inbox.report
            if self.assoc is not None and not self.assoc.is_established:
                self.association_ended = "the association ended before a report came on it"
                self.inbox = None
        else:
            time.sleep(POLL_SECONDS)
        return stored_report(self.job_id) if self.use_listeners else None

    def wait(self, cancel: threading.Event) -> CommitmentReport | None:
        while not cancel.is_set() and time.monotonic() < self.deadline:
            if self.inbox is None and not self.use_listeners:
                return None
            report = self.poll()
            if report is not None:
                return report
        return None


# --- the request --------------------------------------------------------------------------
def action_information(transaction_uid: str, references: list[Reference]) -> Dataset:
    """The Action Information of a Request Storage Commitment (PS3.4 Table J.3-1)."""
    information = Dataset()
    information.TransactionUID = transaction_uid
    items = []
    for reference in references:
        item = Dataset()
        item.ReferencedSOPClassUID = reference.sop_class_uid
        item.ReferencedSOPInstanceUID = reference.sop_instance_uid
        items.append(item)
    information.ReferencedSOPSequence = items
    return information


def request_commitment(assoc: PynetdicomAssociation, recorder: AssociationRecorder,
                       remote: ApplicationEntity, transaction_uid: str,
                       references: list[Reference]) -> tuple[Answer, str]:
    started = time.perf_counter()
    response, _ = assoc.send_n_action(action_information(transaction_uid, references),
                                      REQUEST_STORAGE_COMMITMENT, StorageCommitmentPushModel,
                                      StorageCommitmentPushModelInstance)
    answer = answer_of(response, "N-ACTION")
    problem = "" if answer.status is not None else no_answer_reason(
        assoc, recorder, time.perf_counter() - started, remote)
    return answer, problem


def took_scp_role(assoc: PynetdicomAssociation) -> bool:
    return any(cx.abstract_syntax == StorageCommitmentPushModel and cx.as_scp
               for cx in assoc.accepted_contexts)


def begin_waiting(ctx: JobContext, transaction_uid: str, params: CommitmentParams,
                  count: int) -> None:
    """Written before the N-ACTION goes out, so a listener can match a fast report."""
    result: dict[str, Any] = {TRANSACTION_UID: transaction_uid, AWAITING_REPORT: True,
                              "instances_requested": count}
    if params.store_job is not None:
        result["store_job"] = params.store_job
    ctx.update_result(**result)


@dataclass(frozen=True)
class Exchange:
    answer: Answer
    problem: str
    report: CommitmentReport | None
    scp_role: bool
    association_ended: str
    not_sent: str = ""  # why the N-ACTION was not sent: no report could reach the console


def exchange(ctx: JobContext, params: CommitmentParams, remote: ApplicationEntity,
             calling: str, transaction_uid: str, references: list[Reference],
             listeners: list[Listener]) -> Exchange:
    """N-ACTION, then wait for the report where it may come."""
    same = params.report_on != ReportOn.LISTENER
    inbox = ReportInbox(transaction_uid) if same else None
    use_listeners = bool(listeners) and params.report_on != ReportOn.SAME_ASSOCIATION
    contexts = [(str(StorageCommitmentPushModel), N_SERVICE_SYNTAXES)]
    ext_neg = [build_role(StorageCommitmentPushModel, scu_role=True, scp_role=True)] \
        if same else None
    handlers = [(evt.EVT_N_EVENT_REPORT, inbox.handle)] if inbox is not None else []
    with requested_association(remote=remote, calling_ae_title=calling, contexts=contexts,
                               job=ctx.job, ext_neg=ext_neg, evt_handlers=handlers
                               ) as (assoc, recorder):
        scp_role = took_scp_role(assoc)
        if not scp_role and not use_listeners:
            return Exchange(Answer(None), "", None, False, "", not_sent=(
                f"{remote} did not accept the SCP role of Storage Commitment, so it cannot "
                "report on this association, and no listener of the console takes reports "
                "for this request; the N-ACTION was not sent."))
        answer, problem = request_commitment(assoc, recorder, remote, transaction_uid,
                                             references)
        if not answer.done:
            return Exchange(answer, problem, None, scp_role, "")
        ctx.log(f"N-ACTION answered {answer}; waiting up to {params.timeout:g} s for the "
                "N-EVENT-REPORT.")
        deadline = time.monotonic() + params.timeout
        waiting = Waiting(ctx.job.pk, inbox if scp_role else None, assoc, use_listeners,
                          deadline)
        if waiting.inbox is not None:  # the association idles while the SCP works
            assoc.network_timeout = max(float(remote.network_timeout), params.timeout + 10)
            report = waiting.wait(ctx.cancel_event)
            if inbox is not None:  # from now on a report on this association is refused
                report = inbox.close() or report
            if report is not None or not use_listeners:
                return Exchange(answer, problem, report, scp_role, waiting.association_ended)
    report = waiting.wait(ctx.cancel_event) if use_listeners else None
    return Exchange(answer, problem, report, scp_role, waiting.association_ended)
