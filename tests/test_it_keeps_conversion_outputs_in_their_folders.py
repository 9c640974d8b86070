"""Conversion outputs stay where they belong: a file's own UIDs cannot name a path outside
the output folder, an export never overwrites a file that is there, a link inside the export
folder is not followed out of it, and several outputs of one source never clash with
another source's."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pydicom import dcmread
from pydicom.uid import UID

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode import TranscodeOptions, transcode_file
from netjobs.models import ItemOutcome, JobStatus
from tests.archive_helpers import copy_corpus, corpus, import_folder
from tests.conftest import logged_in
from tests.conversion_helpers import export_folder, run_conversion


@pytest.mark.parametrize("uid", ["../../evil", "/tmp/evil-absolute", "1.2/../../x"])
def test_a_hostile_sop_instance_uid_names_no_path_outside(tmp_path: Path, uid: str) -> None:
    ds = dcmread(corpus("693_UNCI.dcm"))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(uid)
    source = tmp_path / "in.dcm"
    ds.save_as(source)
    out = tmp_path / "a" / "b" / "out"
    out.mkdir(parents=True)
    result = transcode_file(source, out, TranscodeOptions(target=TargetSyntax.RLE))
    (output,) = result.outputs
    assert output.path.parent == out and "/" not in output.name and ".." not in output.name
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["in.dcm", output.name])


@pytest.mark.django_db(transaction=True)
def test_an_export_never_overwrites_what_is_there(celery_worker_process: Path,
                                                  operator: User) -> None:
    with import_folder() as folder, export_folder() as export:
        export.mkdir(parents=True)
        (export / "693_UNCI.dcm").write_bytes(b"precious")
        copy_corpus(folder, ["693_UNCI.dcm", "MR2_UNCI.dcm"])
        job = run_conversion("swap_bytes", operator, path=str(folder), only_if_wrong=False,
                             output="folder", folder=str(export))
        assert job.status == JobStatus.PARTIAL, job.error
        failed = job.items.get(outcome=ItemOutcome.FAILED)
        assert failed.name == "693_UNCI.dcm" and "not overwritten" in failed.message
        assert (export / "693_UNCI.dcm").read_bytes() == b"precious"
        assert (export / "MR2_UNCI.dcm").is_file()


@pytest.mark.django_db(transaction=True)
def test_a_link_inside_the_export_folder_is_not_followed_out(
        celery_worker_process: Path, operator: User, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with import_folder() as folder, export_folder() as export:
        export.mkdir(parents=True)
        (folder / "sub").mkdir()
        copy_corpus(folder / "sub", ["MR2_UNCI.dcm"])
        (export / "sub").symlink_to(outside)
        job = run_conversion("transcode", operator, path=str(folder), target="rle",
                             output="folder", folder=str(export))
    assert job.status == JobStatus.FAILED
    assert "outside" in job.items.get().message
    assert list(outside.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_the_outputs_of_two_splits_do_not_clash_in_a_zip(celery_worker_process: Path,
                                                         operator: User) -> None:
    with import_folder() as folder:
        copy_corpus(folder, ["eCT_Supplemental.dcm"])
        (folder / "copy.dcm").write_bytes(corpus("eCT_Supplemental.dcm").read_bytes())
        job = run_conversion("split", operator, path=str(folder), output="zip")
    assert job.status == JobStatus.SUCCEEDED, job.error
    response = logged_in(operator).get(f"/jobs/{job.pk}/download/files/")
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert sorted(names) == ["copy/IM0001.dcm", "copy/IM0002.dcm",
                             "eCT_Supplemental/IM0001.dcm", "eCT_Supplemental/IM0002.dcm"]
