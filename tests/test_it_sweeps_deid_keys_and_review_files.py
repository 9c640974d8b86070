"""A re-identification key stays on disk only while a job may still need it, and the files
held back for review go after the conversions' retention time."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from archive.deid.jobs.maintenance import KEY_GRACE_SECONDS, sweep_deid_files
from archive.deid.jobs.params import key_file, store_private_key
from archive.deid.jobs.run import held_folder
from netjobs.models import Job, JobStatus
from tests.deid_certificates import make_key_and_certificate

pytestmark = pytest.mark.django_db



def aged(reference: str) -> None:
    path = key_file(reference)
    assert path is not None
    old = time.time() - KEY_GRACE_SECONDS - 5
    os.utime(path, (old, old))


def test_a_key_goes_once_no_live_job_names_it(operator: User, tmp_path: Path) -> None:
    pem = make_key_and_certificate(tmp_path)[0].read_text()
    waiting, done, fresh = (store_private_key(pem) for _ in range(3))
    for reference in (waiting, done):
        aged(reference)
    Job.objects.create(kind="reidentify", owner=operator, status=JobStatus.PENDING,
                       params={"private_key": waiting})
    Job.objects.create(kind="reidentify", owner=operator, status=JobStatus.FAILED,
                       params={"private_key": done})
    sweep_deid_files()
    assert key_file(waiting) is not None  # its job has not run yet
    assert key_file(done) is None  # its job ended without removing it
    assert key_file(fresh) is not None  # its job is still being made


def test_review_files_go_after_the_retention_time(operator: User, settings: object) -> None:
    old = Job.objects.create(kind="deidentify", owner=operator, status=JobStatus.SUCCEEDED,
                             finished_at=timezone.now() - timedelta(days=30))
    recent = Job.objects.create(kind="deidentify", owner=operator,
                                status=JobStatus.SUCCEEDED, finished_at=timezone.now())
    for job in (old, recent):
        folder = held_folder(job.pk)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "held.dcm").write_bytes(b"x")
    sweep_deid_files()
    assert not held_folder(old.pk).exists()
    assert (held_folder(recent.pk) / "held.dcm").is_file()
