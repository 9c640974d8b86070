"""Uploads keep their original names and folder layout (the relative paths the browser sends
with the files), never leave their staging folder, and the import page links each import to
the studies it archived."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.imports.uploads import safe_relative_path
from archive.models import Study
from netjobs.models import Job, JobStatus
from tests.archive_helpers import corpus
from tests.conftest import logged_in, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, corpus(name).read_bytes(), "application/dicom")


@pytest.mark.parametrize(("given", "kept"), [
    ("CT 2024/series 1/IMG 0001.dcm", "CT 2024/series 1/IMG 0001.dcm"),
    ("../../etc/passwd", "etc/passwd"),
    ("/abs/./x.dcm", "abs/x.dcm"),
    ("C:\\exam\\a<b>.dcm", "C_/exam/a_b_.dcm"),
    ("..", None),
])
def test_relative_paths_stay_inside(given: str, kept: str | None) -> None:
    result = safe_relative_path(given)
    assert (str(result) if result else None) == kept


def test_items_are_named_by_original_paths(celery_worker_process: Path,
                                           operator: User) -> None:
    client = logged_in(operator)
    response = client.post("/archive/import/", {
        "source": "upload", "duplicates": "keep",
        "upload": [upload("MR2_J2KR.dcm"), upload("693_UNCI.dcm"), upload("693_J2KR.dcm")],
        "upload_path": ["exam/MR/MR2_J2KR.dcm", "exam/CT/a.dcm", "other/CT/a.dcm"],
    })
    assert response.status_code == 302
    job = wait_for_job(Job.objects.get(kind="import"), seconds=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert set(job.items.values_list("name", flat=True)) == {
        "exam/MR/MR2_J2KR.dcm", "exam/CT/a.dcm", "other/CT/a.dcm"}
    job_page = client.get(job.get_absolute_url()).content.decode()
    assert f'href="/archive/?job={job.pk}" id="import-studies"' in job_page
    listed = client.get("/archive/", {"job": job.pk}).context["page_obj"].object_list
    page = client.get("/archive/import/").content.decode()
    studies = Study.objects.filter(series__instances__source_job=job).distinct()
    assert studies.count() == 2 and set(listed) == set(studies)
    for study in studies:
        assert f'href="{study.get_absolute_url()}"' in page
        assert study.title in page


def test_a_name_met_twice_is_kept_apart(celery_worker_process: Path, operator: User) -> None:
    response = logged_in(operator).post("/archive/import/", {
        "source": "upload", "duplicates": "keep",
        "upload": [upload("693_UNCI.dcm"), upload("693_J2KR.dcm")],
        "upload_path": ["same.dcm", "same.dcm"],
    })
    assert response.status_code == 302
    job = wait_for_job(Job.objects.get(kind="import"), seconds=60)
    assert job.counters["stored"] == 2
    assert set(job.items.values_list("name", flat=True)) == {"same.dcm", "00001/same.dcm"}
