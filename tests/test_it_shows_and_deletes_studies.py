"""Study → series → instance pages, thumbnails, download, and deletion by administrators."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from PIL import Image

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Patient, Series, Study
from archive.storage import absolute_path
from tests.archive_helpers import corpus, make_object
from tests.conftest import logged_in


@pytest.fixture
def stored(db: Any, settings: Any, tmp_path: Path) -> Instance:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.THUMBNAIL_DIR = tmp_path / "thumbs"
    return store_file(corpus("RG3_J2KR.dcm"), source=InstanceSource.UPLOAD).instance


def test_pages_show_the_hierarchy(stored: Instance, viewer: User) -> None:
    client = logged_in(viewer)
    series = stored.series
    study = series.study
    page = client.get(f"/archive/studies/{study.pk}/").content.decode()
    assert f"/archive/series/{series.pk}/thumbnail.png" in page
    assert "Delete study" not in page  # viewers cannot delete
    series_page = client.get(f"/archive/series/{series.pk}/").content.decode()
    assert "JPEG 2000 Image Compression (Lossless Only)" in series_page
    instance_page = client.get(f"/archive/instances/{stored.pk}/").content.decode()
    assert stored.sha256 in instance_page


def test_thumbnail_is_a_png_of_the_image(stored: Instance, viewer: User) -> None:
    response = logged_in(viewer).get(f"/archive/series/{stored.series_id}/thumbnail.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.getvalue()))
    assert max(image.size) == 128
    low, high = image.convert("L").getextrema()
    assert isinstance(low, int) and isinstance(high, int) and high - low > 50  # not blank


def test_download_gives_the_stored_bytes(stored: Instance, viewer: User) -> None:
    response = logged_in(viewer).get(f"/archive/instances/{stored.pk}/file.dcm")
    assert response.status_code == 200
    assert response.getvalue() == corpus("RG3_J2KR.dcm").read_bytes()
    assert response["Content-Type"] == "application/dicom"


def test_only_administrators_delete_and_files_go_too(
    stored: Instance, viewer: User, operator: User, administrator: User, tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    other = store_file(make_object(tmp_path, patient_name="Keep^Me", patient_id="K1",
                                   study_date="20240101", modality="OT"),
                       source=InstanceSource.UPLOAD).instance
    study = stored.series.study
    path = absolute_path(stored.file_path)
    for user in (viewer, operator):
        assert logged_in(user).post(f"/archive/studies/{study.pk}/delete/").status_code == 403
    assert path.exists()
    client = logged_in(administrator)
    confirm = client.get(f"/archive/studies/{study.pk}/delete/")
    assert "cannot be undone" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/archive/studies/{study.pk}/delete/")
    assert len(callbacks) == 1  # the files go only once the deletion has committed
    assert response.status_code == 302
    assert not Study.objects.filter(pk=study.pk).exists()
    assert not Instance.objects.filter(pk=stored.pk).exists()
    assert not Series.objects.filter(study_id=study.pk).exists()
    assert not path.exists()
    assert Instance.objects.filter(pk=other.pk).exists()
    assert absolute_path(other.file_path).exists()
    assert list(Patient.objects.values_list("patient_id", flat=True)) == ["K1"]
