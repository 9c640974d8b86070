"""Browser uploads: staged on disk, imported by a job, capped in size with a clear error."""

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.models import Instance
from netjobs.models import Job, JobStatus
from tests.archive_helpers import corpus
from tests.conftest import logged_in, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, corpus(name).read_bytes(), "application/dicom")


def test_an_upload_is_imported_and_its_staging_removed(
    celery_worker_process: Path, operator: User
) -> None:
    client = logged_in(operator)
    response = client.post("/archive/import/", {
        "source": "upload", "duplicates": "keep",
        "upload": [upload("MR2_J2KR.dcm"), upload("OBXXXX1A_rle.dcm"),
                   SimpleUploadedFile("readme.txt", b"hello")],
    })
    assert response.status_code == 302
    job = Job.objects.get(kind="import")
    assert response["Location"] == f"/jobs/{job.pk}/"
    job = wait_for_job(job, seconds=60)
    assert job.status == JobStatus.PARTIAL
    assert job.counters["stored"] == 2 and job.counters["rejected"] == 1
    stored = Instance.objects.get(source_detail__endswith="MR2_J2KR.dcm")
    assert stored.source == "upload"
    assert not any(Path(settings.UPLOAD_DIR).glob("*/*"))  # staging folder removed
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "readme.txt" in page and "not a DICOM file" in page


def test_an_upload_over_the_limit_is_refused_clearly(
    operator: User, settings: Any
) -> None:
    settings.UPLOAD_MAX_BYTES = 100_000
    client = logged_in(operator)
    response = client.post("/archive/import/", {
        "source": "upload", "duplicates": "keep", "upload": [upload("693_UNCI.dcm")],
    }, follow=True)
    assert response.status_code == 200
    assert "larger than the limit of 97.7\xa0KB; nothing was kept" in response.content.decode()
    assert not Job.objects.exists()
    assert not any(Path(settings.UPLOAD_DIR).glob("*/*"))


def test_an_empty_upload_asks_for_files(operator: User) -> None:
    response = logged_in(operator).post("/archive/import/", {"source": "upload",
                                                              "duplicates": "keep"})
    assert "Choose at least one file" in response.content.decode()
    assert not Job.objects.exists()


def test_a_path_outside_the_roots_is_refused_in_the_form(operator: User) -> None:
    response = logged_in(operator).post("/archive/import/", {
        "source": "path", "path": "/etc", "duplicates": "keep"})
    assert response.status_code == 200
    assert "outside the folders allowed for imports" in response.content.decode()
    assert not Job.objects.exists()


def test_viewers_cannot_import(viewer: User) -> None:
    assert logged_in(viewer).get("/archive/import/").status_code == 403
