"""Browser uploads that no job removed (kept for "retry failed only", or whose form was never
sent) are swept once older than the retention, unless a queued or running job will read them;
Django's leftover temporary upload files go the same way."""

import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.imports.uploads import stage_uploads, staged_upload_dir, upload_root
from netjobs.jobs.maintenance import sweep_staged_uploads
from netjobs.models import Job, JobStatus


def staged(age_hours: float) -> str:
    stage = stage_uploads([SimpleUploadedFile("a.dcm", b"x" * 10)])
    folder = upload_root() / stage
    then = time.time() - age_hours * 3600
    os.utime(folder, (then, then))
    return stage


@pytest.fixture(autouse=True)
def own_upload_dir(settings: Any, tmp_path: Path) -> None:
    """Uploads of this test's own, so that nothing it leaves behind meets other tests."""
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads" / "tmp")


@pytest.mark.django_db
def test_old_unused_uploads_go_and_the_rest_stay(operator: User) -> None:
    old, young = settings.STAGED_UPLOAD_RETENTION_HOURS + 1, 1
    old_unused, old_failed, old_queued, fresh = staged(old), staged(old), staged(old), \
        staged(young)
    Job.objects.create(kind="store", status=JobStatus.FAILED, params={"upload": old_failed})
    Job.objects.create(kind="store", status=JobStatus.PENDING, params={"upload": old_queued})
    temporary = Path(settings.FILE_UPLOAD_TEMP_DIR)
    temporary.mkdir(parents=True)
    leftover, in_progress = temporary / "old.upload", temporary / "new.upload"
    leftover.write_bytes(b"x")
    in_progress.write_bytes(b"x")
    then = time.time() - old * 3600
    os.utime(leftover, (then, then))
    elsewhere = upload_root() / "not-a-stage"
    elsewhere.mkdir()
    os.utime(elsewhere, (then, then))

    removed = sweep_staged_uploads()

    assert sorted(removed) == sorted([old_unused, old_failed, "tmp/old.upload"])
    assert staged_upload_dir(old_unused) is None and staged_upload_dir(old_failed) is None
    assert staged_upload_dir(old_queued) is not None and staged_upload_dir(fresh) is not None
    assert in_progress.exists() and not leftover.exists() and elsewhere.is_dir()
    assert sweep_staged_uploads() == []


def test_the_sweep_is_scheduled_hourly() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-staged-uploads"]
    assert entry["task"] == "netjobs.tasks.sweep_staged_uploads" and entry["schedule"] == 3600
    from console.celery import app
    app.loader.import_default_modules()
    assert "netjobs.tasks.sweep_staged_uploads" in app.tasks
