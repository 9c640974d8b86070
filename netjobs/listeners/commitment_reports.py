"""Storage Commitment results (N-EVENT-REPORT, PS3.4 J.3.3) for the console's own requests.

A storage commitment job (``netjobs.operations.commitment``) runs in a job worker; the
report may come back on a new association to one of the console's listeners, which run in
the listener worker. Both share the database, so the job writes its Transaction UID into
its ``result`` before sending the N-ACTION, and the listener's handler writes the report it
receives into that same job's ``result`` in one short transaction; the job polls for it.

``parse_report`` and ``deliver_report`` are plain functions; ``on_n_event_report`` adapts
the pynetdicom event and never raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import RE_VALID_UID
from pynetdicom.sop_class import StorageCommitmentPushModel  # type: ignore[attr-defined]

from netjobs.dicom.status import DimseStatus
from netjobs.listeners.retrieve import set_failure_comment
from netjobs.models import Job, JobLogEntry, JobStatus, LogLevel, ReportRoute

logger = logging.getLogger(__name__)

COMMITMENT_KIND = "stgcmt"
EVENT_ALL_COMMITTED = 1  # Event Type IDs, PS3.4 Table J.3-2
EVENT_FAILURES_EXIST = 2

# Keys of a storage commitment job's ``result`` shared with this module.
TRANSACTION_UID = "transaction_uid"
AWAITING_REPORT = "awaiting_report"
REPORT = "report"


@dataclass(frozen=True)
class ReportedInstance:
    sop_class_uid: str
    sop_instance_uid: str
    failure_reason: int | None = None  # None: committed

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"sop_class_uid": self.sop_class_uid,
                                 "sop_instance_uid": self.sop_instance_uid}
        if self.failure_reason is not None:
            entry["failure_reason"] = self.failure_reason
        return entry

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> ReportedInstance:
        reason = entry.get("failure_reason")
        return cls(str(entry.get("sop_class_uid", "")), str(entry.get("sop_instance_uid", "")),
                   None if reason is None else int(reason))


@dataclass(frozen=True)
class CommitmentReport:
    """What an N-EVENT-REPORT of the Storage Commitment Push Model says, and where it came
    from."""

    transaction_uid: str
    event_type_id: int
    committed: list[ReportedInstance]
    failed: list[ReportedInstance]
    route: ReportRoute
    calling_ae_title: str = ""
    listener_id: int | None = None
    received_at: str = field(default_factory=lambda: timezone.now().isoformat())

    def as_dict(self) -> dict[str, Any]:
        return {
            "transaction_uid": self.transaction_uid,
            "event_type_id": self.event_type_id,
            "committed": [i.as_dict() for i in self.committed],
            "failed": [i.as_dict() for i in self.failed],
            "route": str(self.route),
            "calling_ae_title": self.calling_ae_title,
            "listener_id": self.listener_id,
            "received_at": self.received_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommitmentReport:
        return cls(
            transaction_uid=str(data.get("transaction_uid", "")),
            event_type_id=int(data.get("event_type_id", 0)),
            committed=[ReportedInstance.from_dict(i) for i in data.get("committed", [])],
            failed=[ReportedInstance.from_dict(i) for i in data.get("failed", [])],
            route=ReportRoute(data.get("route", ReportRoute.NEW_ASSOCIATION)),
            calling_ae_title=str(data.get("calling_ae_title", "")),
            listener_id=data.get("listener_id"),
            received_at=str(data.get("received_at", "")),
        )


class ReportRefused(Exception):
    """The report cannot be taken: the failure status to answer and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --- reading the Event Information (PS3.4 Table J.3-2) ------------------------------------
def _single_uid(item: Dataset, keyword: str, what: str) -> str:
    if keyword not in item:
        raise ReportRefused(DimseStatus.INVALID_ARGUMENT_VALUE, f"{what} is missing")
    value = item[keyword].value
    if isinstance(value, MultiValue | list):
        raise ReportRefused(DimseStatus.INVALID_ARGUMENT_VALUE, f"{what} has several values")
    uid = str(value or "").strip("\x00 ")
    if not uid or len(uid) > 64 or not RE_VALID_UID.match(uid):
        raise ReportRefused(DimseStatus.INVALID_ARGUMENT_VALUE,
                            f"{what} {uid!r} is not a valid UID")
    return uid


def _reported(information: Dataset, keyword: str, failed: bool) -> list[ReportedInstance]:
    instances = []
    for number, item in enumerate(information.get(keyword) or [], start=1):
        where = f"item {number} of {keyword}"
        reason: int | None = None
        if failed:
            raw = item.get("FailureReason")
            reason = int(raw) if raw is not None and raw != "" else int(
                DimseStatus.PROCESSING_FAILURE)
        instances.append(ReportedInstance(
            _single_uid(item, "ReferencedSOPClassUID", f"Referenced SOP Class UID of {where}"),
            _single_uid(item, "ReferencedSOPInstanceUID",
                        f"Referenced SOP Instance UID of {where}"),
            reason))
    return instances


def parse_report(information: Dataset, event_type_id: int | None, route: ReportRoute, *,
                 calling_ae_title: str = "", listener_id: int | None = None
                 ) -> CommitmentReport:
    """The report of an N-EVENT-REPORT; raises ReportRefused with the status to answer. A Failed
    SOP Sequence item without a Failure Reason counts as a processing failure."""
    if event_type_id not in (EVENT_ALL_COMMITTED, EVENT_FAILURES_EXIST):
        raise ReportRefused(DimseStatus.NO_SUCH_EVENT_TYPE,
                            f"Event Type ID {event_type_id} is neither 1 nor 2")
    try:
        transaction_uid = _single_uid(information, "TransactionUID",
                                      "Transaction UID (0008,1195)")
        committed = _reported(information, "ReferencedSOPSequence", failed=False)
        failed = _reported(information, "FailedSOPSequence", failed=True)
    except ReportRefused:
        raise
    except Exception as exc:  # pydicom decodes lazily and raises many kinds on bad data
        raise ReportRefused(DimseStatus.PROCESSING_FAILURE,
                      f"the Event Information cannot be decoded: {exc}") from exc
    return CommitmentReport(transaction_uid, int(event_type_id), committed, failed, route,
                            calling_ae_title=calling_ae_title, listener_id=listener_id)


# --- handing the report to the waiting job ------------------------------------------------
class Delivery(StrEnum):
    DELIVERED = "delivered"  # the job was waiting and now has it
    LATE = "late"  # the job had stopped waiting: kept in its log only
    UNKNOWN = "unknown"  # no storage commitment job has this Transaction UID


# Jobs that send storage commitment requests and wait for the report: the stgcmt kind, and
# the modality workflow whose last step is one.
WAITING_KINDS = (COMMITMENT_KIND, "workflow")


def deliver_report(report: CommitmentReport) -> Delivery:
    """Write the report into the job waiting for its Transaction UID (short transaction,
    the job row locked so the job's own "stop waiting" and this write are ordered)."""
    with transaction.atomic():
        job = (Job.objects.select_for_update()
               .filter(kind__in=WAITING_KINDS, **{f"result__{TRANSACTION_UID}":
                                                report.transaction_uid})
               .order_by("-pk").first())
        if job is None:
            return Delivery.UNKNOWN
        counts = (f"{len(report.committed)} committed, {len(report.failed)} failed, from "
                  f"{report.calling_ae_title or 'the peer'}")
        if job.status != JobStatus.RUNNING or not job.result.get(AWAITING_REPORT):
            JobLogEntry.objects.create(
                job=job, level=LogLevel.WARNING,
                message=f"An N-EVENT-REPORT for transaction {report.transaction_uid} "
                        f"arrived at a listener after the job had stopped waiting ({counts}); "
                        "it is not counted in the job's results.")
            return Delivery.LATE
        result = {**job.result, REPORT: report.as_dict(), AWAITING_REPORT: False}
        Job.objects.filter(pk=job.pk).update(result=result)
        JobLogEntry.objects.create(
            job=job, level=LogLevel.INFO,
            message=f"N-EVENT-REPORT received by listener #{report.listener_id}: {counts}.")
    return Delivery.DELIVERED


def stored_report(job_id: int) -> CommitmentReport | None:
    """The report a listener delivered to the job, if one has."""
    result = Job.objects.filter(pk=job_id).values_list("result", flat=True).first() or {}
    data = result.get(REPORT)
    return CommitmentReport.from_dict(data) if isinstance(data, dict) else None


def stop_awaiting(job_id: int) -> CommitmentReport | None:
    """The job gives up waiting: from now on a report is late. Returns a report that was
    delivered in the meantime, so none is answered Success and then lost."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None
        data = job.result.get(REPORT)
        if job.result.get(AWAITING_REPORT):
            Job.objects.filter(pk=job_id).update(result={**job.result, AWAITING_REPORT: False})
    return CommitmentReport.from_dict(data) if isinstance(data, dict) else None


# --- the pynetdicom adapter ---------------------------------------------------------------
def on_n_event_report(event: Any, listener_id: int) -> tuple[int, Dataset | None]:
    """EVT_N_EVENT_REPORT of a listener: a storage commitment result for a console job."""
    assoc = event.assoc
    calling = str(assoc.requestor.ae_title).strip()
    message_id = event.request.MessageID
    try:
        if event.request.AffectedSOPClassUID != StorageCommitmentPushModel:
            set_failure_comment(assoc, message_id, "Only Storage Commitment reports are taken")
            return DimseStatus.NO_SUCH_SOP_CLASS, None
        report = parse_report(event.event_information, event.event_type,
                              ReportRoute.NEW_ASSOCIATION, calling_ae_title=calling,
                              listener_id=listener_id)
        delivery = deliver_report(report)
    except ReportRefused as refusal:
        logger.info("listener %s: N-EVENT-REPORT from %s refused (0x%04X): %s", listener_id,
                    calling, refusal.status, refusal.reason)
        set_failure_comment(assoc, message_id, refusal.reason)
        return refusal.status, None
    except Exception:
        logger.exception("listener %s: N-EVENT-REPORT from %s failed", listener_id, calling)
        return DimseStatus.PROCESSING_FAILURE, None
    logger.info("listener %s: storage commitment report %s from %s: %s", listener_id,
                report.transaction_uid, calling, delivery)
    if delivery == Delivery.UNKNOWN:
        set_failure_comment(assoc, message_id,
                            f"No request of this console has transaction {report.transaction_uid}")
        return DimseStatus.PROCESSING_FAILURE, None
    return DimseStatus.SUCCESS, None
