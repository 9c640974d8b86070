"""A running job whose worker died (no heartbeat) is failed by the periodic reaper."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from netjobs.jobs.maintenance import reap_orphaned
from netjobs.models import Job, JobStatus


def test_it_fails_only_silent_running_jobs(operator: User) -> None:
    old = timezone.now() - timedelta(minutes=10)
    silent = Job.objects.create(kind="echo", status=JobStatus.RUNNING, heartbeat_at=old)
    alive = Job.objects.create(kind="echo", status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    done = Job.objects.create(kind="echo", status=JobStatus.SUCCEEDED, heartbeat_at=old)
    assert reap_orphaned() == 1
    for job in (silent, alive, done):
        job.refresh_from_db()
    assert silent.status == JobStatus.FAILED and "stopped sending heartbeats" in silent.error
    assert silent.log_entries.filter(level="error").exists()
    assert (alive.status, done.status) == (JobStatus.RUNNING, JobStatus.SUCCEEDED)
