"""Files a de-identify job held back (possible burned-in text) are released only when the
job's owner or an Administrator confirms looking at them; they then go where the job's other
files went, and the job's history says who released them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pydicom import dcmread

from archive.deid.jobs.run import held_folder
from archive.deid.models import DeidProject
from archive.models import Instance, InstanceSource
from console.roles import Role
from netjobs.models import ItemOutcome, JobStatus
from tests.conftest import logged_in, make_user
from tests.conversion_helpers import archive_corpus, run_conversion

pytestmark = pytest.mark.django_db(transaction=True)


def zip_names(client: object, job_pk: int) -> list[str]:
    response = client.get(f"/jobs/{job_pk}/download/files/")  # type: ignore[attr-defined]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()


def test_held_files_join_the_zip_once_the_owner_confirms(
        celery_worker_process: Path, operator: User, viewer: User) -> None:
    DeidProject.objects.create(name="review")
    ct, us = archive_corpus("693_UNCI.dcm", "US1_UNCI.dcm")
    job = run_conversion("deidentify", operator, instances=[ct.pk, us.pk], project="review",
                         output="zip")
    assert job.status == JobStatus.SUCCEEDED and job.result["held_back"] == 1
    client = logged_in(operator)
    assert len(zip_names(client, job.pk)) == 1
    home = client.get("/deidentify/").content.decode()
    assert f'data-held-job="{job.pk}"' in home

    assert logged_in(viewer).post(f"/deidentify/jobs/{job.pk}/release/",
                                  {"checked": "yes"}).status_code == 403
    other = make_user("other-operator", Role.OPERATOR)
    assert logged_in(other).post(f"/deidentify/jobs/{job.pk}/release/",
                                 {"checked": "yes"}).status_code == 403
    unconfirmed = client.post(f"/deidentify/jobs/{job.pk}/release/", follow=True)
    assert b"Confirm that you looked" in unconfirmed.content
    assert len(zip_names(client, job.pk)) == 1

    done = client.post(f"/deidentify/jobs/{job.pk}/release/", {"checked": "yes"}, follow=True)
    assert b"1 held file(s) released" in done.content
    names = zip_names(client, job.pk)
    assert len(names) == 2
    content = zipfile.ZipFile(io.BytesIO(b"".join(client.get(
        f"/jobs/{job.pk}/download/files/").streaming_content)))  # type: ignore[attr-defined]
    assert {dcmread(io.BytesIO(content.read(n))).Modality for n in names} == {"CT", "US"}
    item = job.items.get(sop_instance_uid=us.sop_instance_uid)
    assert item.outcome == ItemOutcome.SUCCEEDED and "released after review by" in item.message
    assert not held_folder(job.pk).exists()
    assert job.log_entries.filter(message__contains="released by").exists()
    again = client.post(f"/deidentify/jobs/{job.pk}/release/", {"checked": "yes"}, follow=True)
    assert b"holds no file for review" in again.content


def test_released_files_go_into_the_archive_when_the_job_archived(
        celery_worker_process: Path, operator: User, administrator: User) -> None:
    DeidProject.objects.create(name="review-archive")
    [us] = archive_corpus("US1_UNCI.dcm")
    job = run_conversion("deidentify", operator, instances=[us.pk],
                         project="review-archive", output="archive")
    assert not Instance.objects.filter(source=InstanceSource.DEIDENTIFIED).exists()
    response = logged_in(administrator).post(f"/deidentify/jobs/{job.pk}/release/",
                                             {"checked": "yes"})
    assert response.status_code == 302
    made = Instance.objects.get(source=InstanceSource.DEIDENTIFIED)
    assert made.source_job_id == job.pk and made.sop_instance_uid != us.sop_instance_uid


def test_files_of_an_upload_are_released_after_the_upload_is_gone(
        celery_worker_process: Path, operator: User, tmp_path: Path) -> None:
    """The job's upload is removed when it ends; releasing reads the job's own parameters
    as they were, not as they would validate today."""
    from archive.imports.uploads import staged_upload_dir
    from netjobs.jobs.services import create_job
    from tests.archive_helpers import corpus
    from tests.conftest import wait_for_job

    DeidProject.objects.create(name="review-upload")
    stage = make_stage(tmp_path, corpus("US1_UNCI.dcm"))
    job = wait_for_job(create_job("deidentify", {"upload": stage, "project": "review-upload",
                                                 "output": "zip"}, owner=operator), 60)
    assert job.result["held_back"] == 1 and staged_upload_dir(stage) is None
    client = logged_in(operator)
    done = client.post(f"/deidentify/jobs/{job.pk}/release/", {"checked": "yes"}, follow=True)
    assert b"1 held file(s) released" in done.content
    content = zipfile.ZipFile(io.BytesIO(b"".join(client.get(
        f"/jobs/{job.pk}/download/files/").streaming_content)))  # type: ignore[attr-defined]
    released = [dcmread(io.BytesIO(content.read(n))) for n in content.namelist()]
    assert [ds.Modality for ds in released] == ["US"]
    assert released[0].PatientIdentityRemoved == "YES"


def make_stage(tmp_path: Path, source: Path) -> str:
    """A staged browser upload holding ``source``, as the upload form leaves one."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from archive.imports.uploads import stage_uploads

    return stage_uploads([SimpleUploadedFile("scan.dcm", source.read_bytes())])
