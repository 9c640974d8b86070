"""Housekeeping: the job history, and the browser uploads jobs leave behind."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from archive.imports.uploads import remove_stale_uploads
from netjobs.models import Job, JobLogEntry, JobStatus, LogLevel

ORPHAN_MESSAGE = (
    "The worker running this job stopped sending heartbeats (it crashed or was killed); "
    "the job was marked failed. Retry it."
)


def reap_orphaned() -> int:
    """Fail running jobs whose worker has gone silent; returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_ORPHAN_AFTER_SECONDS)
    orphans = list(
        Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    reaped = 0
    for job_id in orphans:
        if Job.objects.filter(
            pk=job_id, status=JobStatus.RUNNING, heartbeat_at__lt=cutoff
        ).update(status=JobStatus.FAILED, error=ORPHAN_MESSAGE, finished_at=timezone.now()):
            JobLogEntry.objects.create(job_id=job_id, level=LogLevel.ERROR, message=ORPHAN_MESSAGE)
            reaped += 1
    return reaped


def sweep_staged_uploads() -> list[str]:
    """Remove staged uploads older than STAGED_UPLOAD_RETENTION_HOURS that no queued or
    running job is about to read."""
    in_use = {str(params.get("upload")) for params in Job.objects.exclude(
        status__in=JobStatus.terminal()).values_list("params", flat=True)
        if isinstance(params, dict) and params.get("upload")}
    return remove_stale_uploads(settings.STAGED_UPLOAD_RETENTION_HOURS * 3600, keep=in_use)
