"""What C-MOVE and C-GET jobs share: following the responses (sub-operation counts,
C-CANCEL on request, the final status and its failed SOP instances), live progress, and how
a retrieve ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, overload

from pydicom.dataset import Dataset
from pynetdicom.association import Association as PynetdicomAssociation

from netjobs.dicom.explain import explain_connection_lost
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.status import StatusCategory, StatusInfo
from netjobs.jobs.base import JobContext
from netjobs.models import Association, ItemOutcome, Job, JobItem, JobStatus
from netjobs.operations.echo import why_no_response
from netjobs.operations.qr.dimse import (
    Canceller,
    CancelReason,
    error_comment,
    response_status,
)

PROGRESS_EVERY = 0.25  # seconds between progress writes
Responses = Iterator[tuple[Dataset, Dataset | None]]


@dataclass(frozen=True)
class SubOperations:
    """The counts of a C-MOVE/C-GET response (PS3.4 C.4.2.1.6, C.4.3.1.6)."""

    remaining: int | None = None
    completed: int = 0
    failed: int = 0
    warning: int = 0

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.warning

    @property
    def total(self) -> int | None:
        return None if self.remaining is None else self.done + self.remaining

    def updated(self, response: Dataset, final: bool) -> SubOperations:
        """The counts a response gives, keeping earlier ones it leaves out; a final response
        leaves nothing remaining unless it says so (a cancel does)."""
        remaining = _count(response, "NumberOfRemainingSuboperations")
        if remaining is None:
            remaining = 0 if final else self.remaining
        return SubOperations(
            remaining=remaining,
            completed=_count(response, "NumberOfCompletedSuboperations", self.completed),
            failed=_count(response, "NumberOfFailedSuboperations", self.failed),
            warning=_count(response, "NumberOfWarningSuboperations", self.warning),
        )


@overload
def _count(response: Dataset, keyword: str) -> int | None: ...
@overload
def _count(response: Dataset, keyword: str, previous: int) -> int: ...
def _count(response: Dataset, keyword: str, previous: int | None = None) -> int | None:
    value = response.get(keyword)
    return previous if value is None or value == "" else int(value)


@dataclass
class RetrieveSession:
    association: Association | None = None
    final: StatusInfo | None = None
    comment: str = ""
    counts: SubOperations = field(default_factory=SubOperations)
    failed_uids: list[str] = field(default_factory=list)
    cancel_reason: CancelReason | None = None
    failure: str = ""
    responses: int = 0


def failed_sop_instances(identifier: Dataset | None) -> list[str]:
    """(0008,0058) Failed SOP Instance UID List of a final response, if it has one."""
    if identifier is None or "FailedSOPInstanceUIDList" not in identifier:
        return []
    value = identifier.FailedSOPInstanceUIDList
    uids = [value] if isinstance(value, str) else list(value or [])
    return [str(uid).strip() for uid in uids if str(uid).strip()]


@dataclass(frozen=True)
class Follow:
    """How to follow one outstanding C-MOVE/C-GET."""

    service: str  # "C-MOVE" or "C-GET"
    canceller: Canceller
    cancel: threading.Event
    on_progress: Callable[[SubOperations], None]
    dimse_timeout: float


def follow(assoc: PynetdicomAssociation, recorder: AssociationRecorder, responses: Responses,
           how: Follow) -> RetrieveSession:
    """Read the responses to the end: progress from the pending ones, C-CANCEL once the
    operator asks, and the final status with its counts and failed instances."""
    session = RetrieveSession(association=recorder.record)
    with how.canceller.watching(how.cancel):
        _read(assoc, recorder, responses, how, session)
    session.cancel_reason = how.canceller.reason
    return session


def _read(assoc: PynetdicomAssociation, recorder: AssociationRecorder, responses: Responses,
          how: Follow, session: RetrieveSession) -> None:
    waited_from = time.perf_counter()
    for status_set, identifier in responses:
        status = response_status(status_set, how.service)
        if status is None:
            session.failure = why_no_response(assoc, recorder, time.perf_counter() - waited_from,
                                              how.dimse_timeout)
            break
        waited_from = time.perf_counter()
        session.responses += 1
        final = status.category != StatusCategory.PENDING
        session.counts = session.counts.updated(status_set, final)
        how.on_progress(session.counts)
        if final:
            session.final, session.comment = status, error_comment(status_set)
            session.failed_uids = failed_sop_instances(identifier)
            break
        if how.cancel.is_set():
            how.canceller.send(CancelReason.OPERATOR)


class ProgressReporter:
    """Turns sub-operation counts into the job's progress and counters, a few times a
    second at most (``flush`` writes the last counts)."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.shown = SubOperations()
        self.latest = SubOperations()
        self._written_at = 0.0

    def __call__(self, counts: SubOperations) -> None:
        self.latest = counts
        if time.monotonic() - self._written_at >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        counts, self._written_at = self.latest, time.monotonic()
        increments = {name: getattr(counts, name) - getattr(self.shown, name)
                      for name in ("completed", "failed", "warning")}
        if any(increments.values()):
            self.ctx.add_counters(**increments)
        if counts != self.shown:
            self.ctx.set_progress(counts.done, counts.total)
        self.shown = counts


def failure_items(job: Job, session: RetrieveSession) -> list[JobItem]:
    """One failed item per SOP instance the peer listed as failed."""
    code = session.final.code if session.final else None
    meaning = str(session.final) if session.final else ""
    return [JobItem(job=job, name=uid, sop_instance_uid=uid[:64], outcome=ItemOutcome.FAILED,
                    status=code, message=f"listed as failed in the final response ({meaning})")
            for uid in session.failed_uids]


def session_result(session: RetrieveSession) -> dict[str, Any]:
    counts = session.counts
    result: dict[str, Any] = {"completed": counts.completed, "failed": counts.failed,
                              "warning": counts.warning}
    if counts.remaining:
        result["remaining"] = counts.remaining
    if session.final is not None:
        result["status"] = session.final.code
        result["status_text"] = str(session.final)
    if session.comment:
        result["error_comment"] = session.comment
    if session.failed_uids:
        result["failed_sop_instances"] = len(session.failed_uids)
    return result


def retrieve_outcome(session: RetrieveSession, service: str,
                     extra: dict[str, Any] | None = None) -> tuple[JobStatus, dict[str, Any], str]:
    """The job's status, result and error from how the retrieve ended."""
    result = {**session_result(session), **(extra or {})}
    counts, final = session.counts, session.final
    by_operator = session.cancel_reason == CancelReason.OPERATOR
    tally = (f"{counts.completed} completed, {counts.failed} failed, {counts.warning} warning"
             + (f", {counts.remaining} not done" if counts.remaining else ""))
    if final is None:
        failure = session.failure or explain_connection_lost()
        if by_operator:
            return JobStatus.CANCELLED, result, (
                f"Cancelled by an operator ({tally}); the peer did not confirm: {failure}")
        status = JobStatus.PARTIAL if counts.completed else JobStatus.FAILED
        return status, result, f"The {service} did not finish ({tally}): {failure}"
    detail = f" ({session.comment})" if session.comment else ""
    if final.category == StatusCategory.CANCEL:
        if by_operator:
            return JobStatus.CANCELLED, result, f"Cancelled by an operator: {tally}."
        return JobStatus.FAILED, result, f"The peer cancelled the {service}{detail}: {tally}."
    if final.category == StatusCategory.SUCCESS and not counts.failed:
        if not counts.done:
            result["note"] = "Nothing matched the keys: the peer had no instance to send."
        return JobStatus.SUCCEEDED, result, ""
    if counts.completed or counts.warning:
        return JobStatus.PARTIAL, result, f"The peer ended the {service} with {final}{detail}: " \
                                          f"{tally}."
    return JobStatus.FAILED, result, f"The peer answered the {service} with {final}{detail}: " \
                                     f"{tally}."
