"""The shared runner: start → run → finish, for every kind of job.

Expected failures (``JobFailed``) end the job ``failed`` with their message; a crash of the
run function ends it ``failed`` too, with the traceback in the job log; a cancel request
honoured by the run function ends it ``cancelled``.
"""

from __future__ import annotations

import logging
import traceback

from pydantic import ValidationError

from netjobs.jobs.base import (
    JobCancelled,
    JobContext,
    JobFailed,
    JobOutcome,
    mark_finished,
    mark_started,
)
from netjobs.jobs.registry import UnknownJobKind, get_kind
from netjobs.models import Job, JobStatus, LogLevel

logger = logging.getLogger(__name__)


def run_job(job_id: int) -> JobStatus | None:
    """Run one job by ID; returns its final status, or None if it was not run."""
    if not mark_started(job_id):
        status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
        logger.info("job %s not started: status is %s", job_id, status)
        return None
    job = Job.objects.get(pk=job_id)
    context = JobContext(job)
    outcome = _run(context)
    if not mark_finished(job, outcome):
        context.log(
            f"The run ended {outcome.status.label.lower()} after the job had been marked "
            "failed for missing heartbeats; the failed status stands.",
            LogLevel.WARNING,
        )
        return JobStatus.FAILED
    context.log(
        f"Finished: {outcome.status.label}" + (f" — {outcome.error}" if outcome.error else ""),
        LogLevel.ERROR if outcome.status == JobStatus.FAILED else LogLevel.INFO,
    )
    return outcome.status


def _run(context: JobContext) -> JobOutcome:
    job = context.job
    try:
        kind = get_kind(job.kind)
        params = kind.validate(job.params)
    except UnknownJobKind:
        return JobOutcome(JobStatus.FAILED, error=f"Unknown job kind {job.kind!r}.")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JobOutcome(JobStatus.FAILED, error=f"Parameters no longer valid: {problems}")
    context.log(f"Started: {kind.label} — {job.summary}")
    try:
        with context.watching():
            context.check_cancelled()
            return kind.run(context, params)
    except JobCancelled:
        return JobOutcome(JobStatus.CANCELLED, error="Cancelled by an operator.")
    except JobFailed as exc:
        return JobOutcome(JobStatus.FAILED, error=str(exc))
    except Exception as exc:
        logger.exception("job %s crashed", job.pk)
        context.log(traceback.format_exc(), LogLevel.ERROR)
        return JobOutcome(
            JobStatus.FAILED, error=f"Internal error ({type(exc).__name__}: {exc}); see the log."
        )
