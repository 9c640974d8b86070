"""The DICOMDIR reader pages: a dcmmkdir-built medium under an import root read with its
files checked, an uploaded DICOMDIR, garbage and paths outside the roots refused with the
reason (never a 500), the text listing and the JSON API, and who may see what."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.archive_helpers import corpus, import_folder
from tests.conftest import logged_in
from tests.media_helpers import dcmtk_records

pytestmark = pytest.mark.django_db


def dcmmkdir_medium(folder: Path, names: dict[str, str]) -> Path:
    """Corpus files under DICOM/<NAME> and a DICOMDIR DCMTK builds over them."""
    (folder / "DICOM").mkdir(parents=True)
    for target, source in names.items():
        shutil.copyfile(corpus(source), folder / "DICOM" / target)
    subprocess.run(["dcmmkdir", "-q", "+r", "+I", "+id", str(folder), "+D",
                    str(folder / "DICOMDIR"), "DICOM"], check=True, timeout=60,
                   capture_output=True)
    return folder / "DICOMDIR"


def test_a_medium_under_an_import_root_is_read_with_its_files_checked(operator: User) -> None:
    with import_folder() as folder:
        dicomdir = dcmmkdir_medium(folder, {"CT1": "693_UNCI.dcm", "MR1": "MR2_UNCI.dcm"})
        expected = dcmtk_records(dicomdir)
        client = logged_in(operator)
        page = client.get("/media/dicomdir/", {"path": str(folder)})
        assert page.status_code == 200
        html = page.content.decode()
        assert html.count('data-type="IMAGE"') == sum(k == "IMAGE" for k, _, _ in expected)
        assert "every referenced file is there" in html
        assert 'id="import-medium"' in html  # under an import root
        assert 'id="delete-selected"' not in html  # not under an export root: read only
        for _, file_id, uid in expected:
            if uid:
                assert uid in html and file_id in html

        (folder / "DICOM" / "MR1").unlink()
        api = client.get("/api/dicomdir", {"path": str(folder)}).json()
        assert [f["finding"] for f in api["findings"]] == ["missing_file"]
        assert len(api["records"]) == len(expected)
        listing = client.get("/media/dicomdir/", {"path": str(folder), "format": "text"})
        assert listing["Content-Type"].startswith("text/plain")
        assert listing.content.decode().count("IMAGE") >= 2


def test_an_uploaded_dicomdir_is_read_and_garbage_is_told_apart(viewer: User) -> None:
    client = logged_in(viewer)
    with import_folder() as folder:
        dicomdir = dcmmkdir_medium(folder, {"CT1": "693_UNCI.dcm"})
        upload = SimpleUploadedFile("DICOMDIR", dicomdir.read_bytes())
        page = client.post("/media/dicomdir/", {"dicomdir": upload})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-type="IMAGE"' in html and "not checked" in html
    garbage = client.post("/media/dicomdir/", {"dicomdir": SimpleUploadedFile(
        "DICOMDIR", b"this is no DICOMDIR at all" * 10)})
    assert garbage.status_code == 422 and "not a DICOMDIR" in garbage.content.decode()
    truncated = client.post("/media/dicomdir/", {"dicomdir": SimpleUploadedFile(
        "DICOMDIR", dicomdir_bytes_truncated())})
    assert truncated.status_code in (200, 422)
    assert "stopped" in truncated.content.decode().lower() or \
        "not a DICOMDIR" in truncated.content.decode()


def dicomdir_bytes_truncated() -> bytes:
    with import_folder() as folder:
        data = dcmmkdir_medium(folder, {"CT1": "693_UNCI.dcm", "MR1": "MR2_UNCI.dcm"}) \
            .read_bytes()
    return data[: len(data) - 60]


def test_paths_outside_the_roots_are_refused(viewer: User) -> None:
    client = logged_in(viewer)
    page = client.get("/media/dicomdir/", {"path": "/etc"})
    assert page.status_code == 422 and "outside the folders allowed" in page.content.decode()
    api = client.get("/api/dicomdir", {"path": "/etc/passwd"})
    assert api.status_code == 422


def test_media_pages_need_a_role(no_role_user: User) -> None:
    assert logged_in(no_role_user).get("/media/").status_code == 403
    assert Client().get("/media/dicomdir/").status_code == 302
    assert Client().get("/api/media").status_code == 401
