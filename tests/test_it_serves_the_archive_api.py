"""The archive API: search, detail, download, delete and upload imports, with roles."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from console.tokens import issue_token
from netjobs.models import Job, JobStatus
from tests.archive_helpers import corpus, make_object
from tests.conftest import logged_in, wait_for_job


@pytest.fixture
def two_studies(db: Any, settings: Any, tmp_path: Path) -> list[Instance]:
    settings.STORAGE_ROOT = tmp_path / "storage"
    return [
        store_file(make_object(tmp_path, patient_name=name, patient_id=pid,
                               study_date="20240102", modality=modality, accession=acc),
                   source=InstanceSource.UPLOAD).instance
        for name, pid, modality, acc in (("Doe^John", "P1", "CT", "A1"),
                                         ("Roe^Rita", "P2", "MR", "A2"))
    ]


def test_search_and_detail(two_studies: list[Instance], viewer: User) -> None:
    raw = issue_token(viewer, "t").raw
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    found = client.get("/api/studies", {"patient_name": "doe*"}).json()
    assert found["count"] == 1
    (study,) = found["items"]
    assert study["patient"]["patient_name"] == "Doe^John"
    assert study["modalities_in_study"] == ["CT"] and study["number_of_instances"] == 1
    detail = client.get(f"/api/studies/{study['id']}").json()
    (series,) = detail["series"]
    series_detail = client.get(f"/api/series/{series['id']}").json()
    (instance,) = series_detail["instances"]
    assert instance["sop_instance_uid"] == two_studies[0].sop_instance_uid
    assert client.get(f"/api/instances/{instance['id']}").json()["sha256"] == \
        two_studies[0].sha256
    file = client.get(f"/api/instances/{instance['id']}/file")
    assert file["Content-Type"] == "application/dicom"
    from archive.storage import absolute_path

    assert file.getvalue() == absolute_path(two_studies[0].file_path).read_bytes()
    assert client.get("/api/studies", {"date_from": "nope"}).status_code == 422
    assert client.get("/api/studies/999999").status_code == 404


def test_delete_needs_the_administrator_role(
    two_studies: list[Instance], operator: User, administrator: User
) -> None:
    study_id = two_studies[1].series.study_id
    assert logged_in(operator).delete(f"/api/studies/{study_id}").status_code == 403
    assert logged_in(administrator).delete(f"/api/studies/{study_id}").status_code == 204
    assert list(Study.objects.values_list("patient__patient_id", flat=True)) == ["P1"]


def test_anonymous_and_viewer_uploads_are_refused(viewer: User) -> None:
    files = {"files": [SimpleUploadedFile("a.dcm", corpus("693_UNCI.dcm").read_bytes())]}
    assert Client().post("/api/imports/upload", files).status_code == 401
    assert logged_in(viewer).post("/api/imports/upload", files).status_code == 403
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_upload_import_through_the_api(celery_worker_process: Path, operator: User) -> None:
    raw = issue_token(operator, "t").raw
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    response = client.post("/api/imports/upload", {
        "files": [SimpleUploadedFile("MR2_J2KR.dcm", corpus("MR2_J2KR.dcm").read_bytes())],
        "duplicates": "reject",
    })
    assert response.status_code == 201, response.content
    job = wait_for_job(Job.objects.get(pk=response.json()["job"]), seconds=60)
    assert job.status == JobStatus.SUCCEEDED and job.params["duplicates"] == "reject"
    assert Instance.objects.filter(source_job=job).count() == 1
    assert client.post("/api/imports/upload", {}).status_code == 422


def test_upload_over_the_limit_is_413(operator: User, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    response = logged_in(operator).post("/api/imports/upload", {
        "files": [SimpleUploadedFile("a.dcm", corpus("693_UNCI.dcm").read_bytes())]})
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]
    assert not Job.objects.exists()
