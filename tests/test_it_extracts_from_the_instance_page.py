"""What an instance encapsulates, from its page and from an ``extract`` job: a PDF made by
DCMTK's pdf2dcm comes back byte for byte with a file name from its title, a video plays in
the page (the same bytes that went in), a JPEG frame is the bitstream as stored; an image
without anything encapsulated offers nothing."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pydicom import dcmread
from pydicom.encaps import generate_frames

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from netjobs.models import JobStatus
from tests.archive_helpers import corpus, import_folder
from tests.conftest import logged_in
from tests.conversion_helpers import archive_corpus, run_conversion
from tests.object_job_helpers import make_mp4, make_pdf
from tests.peers import require_tool

pytestmark = pytest.mark.django_db(transaction=True)


def dcmtk_pdf(tmp_path: Path, title: str = "Lab report") -> tuple[Instance, bytes]:
    require_tool("pdf2dcm")
    pdf = make_pdf(tmp_path / "report.pdf", title=title)
    out = tmp_path / "report.dcm"
    subprocess.run(["pdf2dcm", "--title", title, "--patient-name", "Doe^Jo", str(pdf),
                    str(out)], check=True, capture_output=True, timeout=60)
    return store_file(out, source=InstanceSource.PATH_IMPORT).instance, pdf.read_bytes()


def body(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_a_pdf_comes_back_with_its_title_as_the_file_name(
        viewer: User, tmp_path: Path) -> None:
    instance, pdf = dcmtk_pdf(tmp_path)
    client = logged_in(viewer)
    page = client.get(f"/archive/instances/{instance.pk}/").content.decode()
    assert "Download Lab report.pdf" in page

    response = client.get(f"/archive/instances/{instance.pk}/extracted")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="Lab report.pdf"' in response["Content-Disposition"]
    assert body(response) == pdf


def test_a_video_plays_in_the_instance_page(celery_worker_process: Path,
                                            operator: User) -> None:
    with import_folder() as folder:
        video = make_mp4(folder / "scope.mp4").read_bytes()
        job = run_conversion("create", operator, path=str(folder), output="archive")
    assert job.status == JobStatus.SUCCEEDED, job.error
    instance = Instance.objects.get()
    client = logged_in(operator)
    page = client.get(f"/archive/instances/{instance.pk}/").content.decode()
    assert "<video" in page and f"/archive/instances/{instance.pk}/extracted?inline=1" in page

    response = client.get(f"/archive/instances/{instance.pk}/extracted?inline=1")
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"].startswith("inline")
    assert body(response) == video


def test_a_jpeg_frame_is_the_bitstream_as_stored(viewer: User) -> None:
    (instance,) = archive_corpus("JPEG-LL.dcm")
    ds = dcmread(corpus("JPEG-LL.dcm"))
    stored = next(generate_frames(ds.PixelData, number_of_frames=1))
    response = logged_in(viewer).get(f"/archive/instances/{instance.pk}/extracted")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    data = body(response)
    assert data[:2] == b"\xff\xd8" and data.rstrip(b"\0") == stored.rstrip(b"\0")


def test_an_image_without_an_encapsulated_object_offers_nothing(viewer: User) -> None:
    (instance,) = archive_corpus("693_UNCR.dcm")
    client = logged_in(viewer)
    assert "extract-button" not in client.get(f"/archive/instances/{instance.pk}/").content.decode()
    response = client.get(f"/archive/instances/{instance.pk}/extracted")
    assert response.status_code == 404
    assert "Nothing to extract" in response.content.decode()


def test_an_extract_job_puts_the_documents_into_a_zip(
        celery_worker_process: Path, operator: User, tmp_path: Path) -> None:
    instance, pdf = dcmtk_pdf(tmp_path, title="Referral")
    (native,) = archive_corpus("693_UNCR.dcm")
    job = run_conversion("extract", operator, instances=[instance.pk, native.pk], output="zip")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.items.get(sop_instance_uid=native.sop_instance_uid).outcome == "skipped"
    response = logged_in(operator).get(f"/jobs/{job.pk}/download/files/")
    with zipfile.ZipFile(io.BytesIO(body(response))) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".pdf")]
        assert Path(name).name == "Referral.pdf"
        assert archive.read(name) == pdf
