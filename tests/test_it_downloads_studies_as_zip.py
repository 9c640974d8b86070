"""ZIP downloads of selected studies and of a series: streamed, each member byte for byte
the stored file, named Patient ID / study / series / SOP Instance UID."""

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.test import Client

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from tests.archive_helpers import corpus, make_object
from tests.conftest import logged_in


@pytest.fixture
def archive(db: Any, settings: Any, tmp_path: Path) -> list[Instance]:
    settings.STORAGE_ROOT = tmp_path / "storage"
    stored = [store_file(corpus(name), source=InstanceSource.UPLOAD).instance
              for name in ("693_UNCI.dcm", "693_J2KR.dcm", "MR2_J2KR.dcm")]
    stored.append(store_file(make_object(tmp_path, patient_name="Other^One", patient_id="O1",
                                         study_date="20240101", modality="OT"),
                             source=InstanceSource.UPLOAD).instance)
    return stored


def download(client: Client, query: str) -> zipfile.ZipFile:
    response = client.get(f"/archive/download.zip?{query}")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response.streaming  # never built in memory as a whole
    assert response["Content-Disposition"].startswith("attachment;")
    assert isinstance(response, StreamingHttpResponse)
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_selected_studies_come_as_their_stored_bytes(archive: list[Instance],
                                                     viewer: User) -> None:
    wanted = [i for i in archive if i.series.study.patient.patient_id != "O1"]
    studies = sorted({i.series.study_id for i in wanted})
    assert len(studies) == 2
    zf = download(logged_in(viewer), "&".join(f"study={pk}" for pk in studies))
    assert zf.testzip() is None
    by_uid = {Path(name).stem: name for name in zf.namelist()}
    assert set(by_uid) == {i.sop_instance_uid for i in wanted}
    for instance in wanted:
        name = by_uid[instance.sop_instance_uid]
        assert zf.read(name) == absolute_path(instance.file_path).read_bytes()
        patient, study_folder, series_folder, _ = name.split("/")
        study = instance.series.study
        assert patient == study.patient.patient_id
        assert study_folder.startswith(study.study_date.strftime("%Y%m%d")
                                       if study.study_date else study.study_instance_uid)
        assert instance.series.modality in series_folder


def test_a_series_downloads_alone(archive: list[Instance], viewer: User) -> None:
    series = archive[-1].series
    response = logged_in(viewer).get(f"/archive/download.zip?series={series.pk}")
    assert 'filename="O1_20240101_001_OT.zip"' in response["Content-Disposition"]
    zf = download(logged_in(viewer), f"series={series.pk}")
    assert zf.namelist() == [f"O1/20240101/001_OT/{archive[-1].sop_instance_uid}.dcm"]
    assert zf.read(zf.namelist()[0]) == absolute_path(archive[-1].file_path).read_bytes()


def test_nothing_selected_says_so(archive: list[Instance], viewer: User) -> None:
    response = logged_in(viewer).get("/archive/download.zip", {"next": "/archive/?x=1"},
                                     follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/archive/?x=1"
    assert "Select at least one study first" in response.content.decode()
    assert Study.objects.count() == 3
