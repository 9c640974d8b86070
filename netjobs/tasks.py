"""Celery tasks: a few lines each, loading by ID and calling the domain code."""

from __future__ import annotations

from celery import shared_task

from netjobs.jobs.maintenance import reap_orphaned, sweep_staged_uploads
from netjobs.jobs.runner import run_job
from netjobs.listeners import worker as _listener_worker  # noqa: F401 - connects the hooks


@shared_task(name="netjobs.tasks.run_job", ignore_result=True)
def run_job_task(job_id: int) -> None:
    run_job(job_id)


@shared_task(name="netjobs.tasks.reap_orphaned_jobs", ignore_result=True)
def reap_orphaned_jobs() -> int:
    return reap_orphaned()


@shared_task(name="netjobs.tasks.sweep_staged_uploads", ignore_result=True)
def sweep_staged_uploads_task() -> int:
    """Hourly: stale browser uploads, conversion results past their retention, and the
    de-identification jobs' keys and review folders no longer needed."""
    from archive.conversions.jobs.outputs import sweep_conversion_results
    from archive.deid.jobs.maintenance import sweep_deid_files

    return (len(sweep_staged_uploads()) + len(sweep_conversion_results())
            + len(sweep_deid_files()))


@shared_task(name="netjobs.tasks.run_job_share", ignore_result=True)
def run_job_share_task(job_id: int) -> int:
    """Take a share of a running job's work (conversions split their files this way)."""
    from archive.conversions.jobs.run import work_share

    return work_share(job_id)
