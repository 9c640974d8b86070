"""Bulk actions on selections that no longer exist, names outside ASCII, and deletions that
empty the page the user was on: a clear message or a usable page, never a 404, an empty ZIP
or a job for nothing."""

import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse

from archive.indexing import store_file
from archive.models import InstanceSource, Study
from netjobs.models import Job
from tests.archive_helpers import make_object
from tests.conftest import logged_in


@pytest.fixture
def japanese_study(db: Any, settings: Any, tmp_path: Path) -> Study:
    settings.STORAGE_ROOT = tmp_path / "storage"
    path = make_object(tmp_path, patient_name="Yamada^Tarou", patient_id="患者1",
                       study_date="20240101", modality="OT")
    return store_file(path, source=InstanceSource.UPLOAD).instance.series.study


def test_a_non_ascii_name_keeps_the_attachment_header(japanese_study: Study,
                                                      viewer: User) -> None:
    response = logged_in(viewer).get(f"/archive/download.zip?study={japanese_study.pk}")
    header = response["Content-Disposition"]
    assert header.startswith("attachment;") and "=?utf-8?" not in header
    assert "患者1" in unquote(header.split("filename*=utf-8''")[1])
    assert isinstance(response, StreamingHttpResponse)
    archive = zipfile.ZipFile(BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist()[0].startswith("患者1/")


def test_a_download_of_studies_that_are_gone_says_so(db: Any, viewer: User) -> None:
    response = logged_in(viewer).get("/archive/download.zip?study=999999", follow=True)
    assert response.redirect_chain and response["Content-Type"].startswith("text/html")
    assert "nothing to download" in response.content.decode()


def test_a_send_of_studies_that_are_gone_starts_no_job(
    db: Any, operator: User, remote_ae: Any
) -> None:
    ae = remote_ae()
    response = logged_in(operator).post(
        "/archive/send/", {"study": "999999", "ae": str(ae.pk)}, follow=True)
    assert "Select at least one study first" in response.content.decode()
    assert not Job.objects.exists()


def test_deleting_the_last_page_returns_to_a_page_that_exists(
    japanese_study: Study, administrator: User
) -> None:
    response = logged_in(administrator).post(
        "/archive/delete/", {"study": str(japanese_study.pk),
                             "next": "/archive/?modality=OT&page=3"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/archive/?modality=OT"
    assert not Study.objects.exists()
