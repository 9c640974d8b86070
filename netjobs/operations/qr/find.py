"""C-FIND (findscu): query a remote AE, keep its matches as the job's items.

Each pending response becomes one JobItem (its status, a one-line summary, and the
identifier as DICOM JSON in ``message``); the final status goes into the job's result. An
operator's cancel, or reaching the kept-matches bound, sends C-CANCEL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom.association import Association as PynetdicomAssociation

from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.dicom.explain import explain_connection_lost
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.status import DimseStatus, StatusCategory, StatusInfo
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import (
    ApplicationEntity,
    Association,
    ItemOutcome,
    Job,
    JobItem,
    JobStatus,
    LogLevel,
)
from netjobs.operations.common import calling_ae_title, remote_or_fail
from netjobs.operations.echo import why_no_response
from netjobs.operations.qr.dimse import (
    MESSAGE_ID,
    TRANSFER_SYNTAXES,
    Canceller,
    CancelReason,
    ServiceRejected,
    accepted_context_id,
    error_comment,
    response_status,
)
from netjobs.operations.qr.identifiers import flatten, identifier_json
from netjobs.operations.qr.params import FindParams

FLUSH_EVERY = 200  # matches per bulk insert
FLUSH_SECONDS = 1.0
SUMMARY_KEYS = ["PatientName", "PatientID", "StudyDate", "AccessionNumber", "ModalitiesInStudy",
                "Modality", "SeriesNumber", "InstanceNumber", "StudyDescription",
                "SeriesDescription", "ScheduledProcedureStepSequence/Modality",
                "ScheduledProcedureStepSequence/ScheduledProcedureStepStartDate"]
UID_KEYS = ["SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"]


@dataclass(frozen=True)
class Match:
    status: StatusInfo
    identifier: dict[str, Any]  # DICOM JSON; empty when the identifier could not be decoded


@dataclass
class FindSession:
    association: Association | None = None
    matches: int = 0
    final: StatusInfo | None = None
    comment: str = ""
    cancel_reason: CancelReason | None = None
    failure: str = ""


def query(
    remote: ApplicationEntity,
    calling: str,
    identifier: Dataset,
    sop_class: str,
    *,
    on_match: Callable[[Match], None],
    job: Job | None = None,
    cancel: threading.Event | None = None,
    limit: int | None = None,
) -> FindSession:
    """C-FIND on one association. Every pending response goes to ``on_match`` (up to
    ``limit``; then C-CANCEL); a set ``cancel`` sends C-CANCEL. Raises AssociationFailed,
    ServiceRejected or TlsSetupFailed when the query could not be sent."""
    session = FindSession()
    stop = cancel if cancel is not None else threading.Event()
    with requested_association(remote=remote, calling_ae_title=calling, job=job,
                               contexts=[(sop_class, TRANSFER_SYNTAXES)]) as (assoc, recorder):
        session.association = recorder.record
        context_id = accepted_context_id(assoc, recorder, sop_class, TRANSFER_SYNTAXES)
        canceller = Canceller(assoc, recorder, context_id)
        waited_from = time.perf_counter()
        with canceller.watching(stop):
            collect(assoc, recorder, canceller, session, identifier, sop_class, remote,
                    on_match, limit, stop, waited_from)
        session.cancel_reason = canceller.reason
    return session


def collect(assoc: PynetdicomAssociation, recorder: AssociationRecorder, canceller: Canceller,
            session: FindSession, identifier: Dataset, sop_class: str,
            remote: ApplicationEntity, on_match: Callable[[Match], None], limit: int | None,
            stop: threading.Event, waited_from: float) -> None:
    """Read the C-FIND responses into ``session``."""
    for status_set, answer in assoc.send_c_find(identifier, sop_class, msg_id=MESSAGE_ID):
        status = response_status(status_set, "C-FIND")
        if status is None:
            elapsed = time.perf_counter() - waited_from
            session.failure = why_no_response(assoc, recorder, elapsed,
                                              remote.dimse_timeout)
            break
        waited_from = time.perf_counter()
        if status.category != StatusCategory.PENDING:
            session.final, session.comment = status, error_comment(status_set)
            break
        session.matches += 1
        if limit is None or session.matches <= limit:
            on_match(Match(status, identifier_json(answer) if answer is not None else {}))
        if limit is not None and session.matches > limit:  # one more than kept: cut off
            canceller.send(CancelReason.TRUNCATED)
        elif stop.is_set():
            canceller.send(CancelReason.OPERATOR)


def summary_of(row: dict[str, str]) -> str:
    """A match in one line: the first few telling values, then the most specific UID."""
    parts = [row[k] for k in SUMMARY_KEYS if row.get(k)][:5]
    uid = next((row[k] for k in UID_KEYS if row.get(k)), "")
    return " · ".join([*parts, uid] if uid else parts) or "(empty identifier)"


class MatchWriter:
    """Keeps the matches as JobItems in batches, with progress and counters."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.pending: list[JobItem] = []
        self.kept = 0
        self.warnings = 0
        self._flushed_at = time.monotonic()

    def add(self, match: Match) -> None:
        row = flatten(match.identifier)
        warning = match.status.code == DimseStatus.PENDING_WARNING  # optional keys unsupported
        self.pending.append(JobItem(
            job=self.ctx.job, name=summary_of(row)[:512],
            outcome=ItemOutcome.WARNING if warning else ItemOutcome.SUCCEEDED,
            status=match.status.code, sop_instance_uid=row.get("SOPInstanceUID", "")[:64],
            message=json.dumps(match.identifier, ensure_ascii=False)))
        if len(self.pending) >= FLUSH_EVERY or time.monotonic() - self._flushed_at > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._flushed_at = time.monotonic()
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        JobItem.objects.bulk_create(batch)
        warnings = sum(1 for item in batch if item.outcome == ItemOutcome.WARNING)
        self.kept += len(batch)
        self.warnings += warnings
        self.ctx.add_counters(matches=len(batch), **({"pending_warnings": warnings}
                                                      if warnings else {}))
        self.ctx.set_progress(self.kept)


def run(ctx: JobContext, params: FindParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    level = f" at the {params.level.value} level" if params.level else ""
    ctx.log(f"C-FIND in {params.model.label}{level} on {remote.ae_title} at "
            f"{remote.host}:{remote.port} as {calling}; keys: "
            f"{json.dumps(params.matching_keys, ensure_ascii=False) or '{}'}.")
    writer = MatchWriter(ctx)
    try:
        session = query(remote, calling, params.identifier(), params.model.find_sop_class,
                        on_match=writer.add, job=ctx.job, cancel=ctx.cancel_event,
                        limit=params.max_matches)
    except (AssociationFailed, ServiceRejected, TlsSetupFailed) as exc:
        raise JobFailed(str(exc)) from exc
    finally:
        writer.flush()
    return outcome_of(ctx, session, params.max_matches)


def outcome_of(ctx: JobContext, session: FindSession, limit: int) -> JobOutcome:
    result: dict[str, Any] = {"matches": session.matches, "matches_kept": min(session.matches,
                                                                             limit)}
    if session.final is not None:
        result["status"] = session.final.code
        result["status_text"] = str(session.final)
        if session.comment:
            result["error_comment"] = session.comment
    truncated = session.cancel_reason == CancelReason.TRUNCATED
    if truncated:
        result["note"] = (f"Only the first {limit} matches are kept: the console sent "
                          "C-CANCEL for the rest. Narrow the matching keys to see them all.")
        ctx.log(result["note"], LogLevel.WARNING)
    final = session.final
    if final is None and session.cancel_reason == CancelReason.OPERATOR:
        return JobOutcome(JobStatus.CANCELLED, result, error=(
            f"Cancelled by an operator after {session.matches} matches; the peer did not "
            f"confirm: {session.failure or explain_connection_lost()}"))
    if final is None:
        failure = session.failure or explain_connection_lost()
        status = JobStatus.PARTIAL if session.matches else JobStatus.FAILED
        return JobOutcome(status, result, error=f"The query did not finish: {failure}")
    if final.category == StatusCategory.CANCEL and session.cancel_reason == CancelReason.OPERATOR:
        return JobOutcome(JobStatus.CANCELLED, result,
                          error=f"Cancelled by an operator after {session.matches} matches.")
    if final.category == StatusCategory.SUCCESS or (final.category == StatusCategory.CANCEL
                                                    and truncated):
        return JobOutcome(JobStatus.SUCCEEDED, result)
    detail = f" ({session.comment})" if session.comment else ""
    if final.category == StatusCategory.WARNING:
        return JobOutcome(JobStatus.PARTIAL, result, error=f"The peer ended with {final}{detail}.")
    status = JobStatus.PARTIAL if session.matches else JobStatus.FAILED
    return JobOutcome(status, result, error=f"The peer answered C-FIND with {final}{detail}.")
