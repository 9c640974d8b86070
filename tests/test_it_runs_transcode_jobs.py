"""Transcode jobs through a real Celery worker: results into the archive linked to their
sources, into a ZIP download, or into an export folder; a bad file fails alone."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless, RLELossless, generate_uid

from archive.models import Instance, InstanceSource
from archive.storage import absolute_path
from netjobs.jobs.services import retry_failed_params
from netjobs.models import ItemOutcome, JobStatus
from tests.archive_helpers import copy_corpus, corpus, import_folder
from tests.conftest import logged_in
from tests.conversion_helpers import archive_corpus, decoded, export_folder, run_conversion

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_transcode_into_the_archive_links_each_result_to_its_source(
    celery_worker_process: Path, operator: User
) -> None:
    sources = archive_corpus("693_UNCI.dcm", "MR2_J2KR.dcm", "emri_small.dcm")
    job = run_conversion("transcode", operator, instances=[s.pk for s in sources],
                         target="jpeg_ls_lossless", output="archive", new_uid=True)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["files"] == job.result["converted"] == 3
    total_in = total_out = 0
    for source in sources:
        (result,) = Instance.objects.filter(derived_from=source)
        assert result.transfer_syntax_uid == JPEGLSLossless
        assert result.source == InstanceSource.CONVERSION and result.source_job_id == job.pk
        assert result.series_id == source.series_id  # beside its source, in its series
        assert result.sop_instance_uid != source.sop_instance_uid
        np.testing.assert_array_equal(decoded(absolute_path(result.file_path)),
                                      decoded(absolute_path(source.file_path)))
        item = job.items.get(name=source.sop_instance_uid)
        assert item.outcome == ItemOutcome.SUCCEEDED
        assert item.sop_instance_uid == result.sop_instance_uid
        assert (item.input_bytes, item.output_bytes) == (source.file_size, result.file_size)
        total_in += source.file_size
        total_out += result.file_size
    assert (job.result["input_bytes"], job.result["output_bytes"]) == (total_in, total_out)
    assert job.result["compression_ratio"] == round(total_in / total_out, 2)
    assert job.progress_done == job.progress_total == 3


def test_keeping_the_uid_replaces_the_archived_copy(
    celery_worker_process: Path, operator: User
) -> None:
    (source,) = archive_corpus("693_UNCI.dcm")
    before = decoded(absolute_path(source.file_path))
    job = run_conversion("transcode", operator, studies=[source.series.study_id],
                         target="rle", output="archive")

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert Instance.objects.count() == 1
    instance = Instance.objects.get(pk=source.pk)
    assert instance.transfer_syntax_uid == RLELossless
    assert instance.derived_from is None
    assert dcmread(absolute_path(instance.file_path)).SOPInstanceUID == source.sop_instance_uid
    np.testing.assert_array_equal(decoded(absolute_path(instance.file_path)), before)
    assert not absolute_path(source.file_path).exists()  # the old copy is gone


def _structured_report(path: Path) -> None:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR: no pixel data
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = (
        generate_uid(), generate_uid(), generate_uid())
    ds.Modality, ds.PatientID = "SR", "SR1"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)


def test_a_zip_download_holds_what_converted_and_a_broken_file_fails_alone(
    celery_worker_process: Path, operator: User
) -> None:
    with import_folder() as folder:
        copy_corpus(folder, ["693_UNCI.dcm", "emri_small_RLE.dcm"])
        (folder / "sub").mkdir()
        _structured_report(folder / "sub" / "report.dcm")
        (folder / "truncated.dcm").write_bytes(corpus("693_UNCI.dcm").read_bytes()[:300_000])
        job = run_conversion("transcode", operator, path=str(folder),
                             target="explicit_le", output="zip")
        retry_params, _ = retry_failed_params(job)  # while the folder is there

    assert job.status == JobStatus.PARTIAL, job.error
    outcomes = {item.name: item.outcome for item in job.items.all()}
    assert outcomes == {"693_UNCI.dcm": ItemOutcome.SUCCEEDED,
                        "emri_small_RLE.dcm": ItemOutcome.SUCCEEDED,
                        "sub/report.dcm": ItemOutcome.SKIPPED,
                        "truncated.dcm": ItemOutcome.FAILED}
    assert job.items.get(name="truncated.dcm").message  # says why
    assert job.items.get(name="sub/report.dcm").message
    assert job.result["failed"] == 1 and job.result["skipped"] == 1

    client = logged_in(operator)
    for url in (f"/jobs/{job.pk}/download/files/", f"/api/jobs/{job.pk}/downloads/files"):
        response = client.get(url)
        assert response.status_code == 200, url
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            assert len(names) == 2
            for name in names:
                ds = dcmread(io.BytesIO(archive.read(name)))
                assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
                source = corpus("emri_small_RLE.dcm" if ds.Modality == "MR" else "693_UNCI.dcm")
                np.testing.assert_array_equal(ds.pixel_array, decoded(source))

    assert retry_params is not None and retry_params["only"] == ["truncated.dcm"]


def test_an_export_folder_gets_the_results_in_the_sources_layout(
    celery_worker_process: Path, operator: User
) -> None:
    with import_folder() as folder, export_folder() as export:
        (folder / "a").mkdir()
        copy_corpus(folder / "a", ["MR2_UNCI.dcm"])
        job = run_conversion("transcode", operator, path=str(folder), target="j2k_lossless",
                             output="folder", folder=str(export))
        assert job.status == JobStatus.SUCCEEDED, job.error
        (written,) = list((export / "a").iterdir())
        np.testing.assert_array_equal(decoded(written), decoded(corpus("MR2_UNCI.dcm")))
