"""Split, swap-bytes and export-images jobs through a real Celery worker: the results land
where asked, linked to their sources, and each file's outcome says what happened."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User
from PIL import Image
from pydicom import dcmread

from archive.models import Instance
from archive.storage import absolute_path
from netjobs.models import ItemOutcome, JobStatus
from tests.archive_helpers import copy_corpus, corpus, import_folder
from tests.conftest import logged_in
from tests.conversion_helpers import archive_corpus, decoded, export_folder, run_conversion

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_split_puts_each_frame_into_the_archive_as_a_legacy_instance(
    celery_worker_process: Path, operator: User
) -> None:
    (enhanced,) = archive_corpus("eCT_Supplemental.dcm")
    job = run_conversion("split", operator, instances=[enhanced.pk], output="archive")

    assert job.status == JobStatus.SUCCEEDED, job.error
    frames = decoded(corpus("eCT_Supplemental.dcm"))
    legacy = Instance.objects.filter(derived_from=enhanced).order_by("instance_number")
    assert [i.instance_number for i in legacy] == [1, 2]
    assert job.result["outputs"] == 2 and job.result["converted"] == 1
    for number, instance in enumerate(legacy):
        assert instance.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
        assert instance.series.study_id == enhanced.series.study_id
        assert instance.series_id != enhanced.series_id  # a series of its own
        np.testing.assert_array_equal(decoded(absolute_path(instance.file_path)),
                                      frames[number])


def _swapped_copy(source: Path, target: Path) -> None:
    ds = dcmread(source)
    ds.PixelData = np.frombuffer(ds.PixelData, dtype="<u2").byteswap().tobytes()
    ds.save_as(target)


def test_a_swap_job_repairs_only_the_files_that_need_it(
    celery_worker_process: Path, operator: User
) -> None:
    with import_folder() as folder, export_folder() as export:
        copy_corpus(folder, ["MR2_UNCI.dcm"])
        _swapped_copy(corpus("693_UNCI.dcm"), folder / "broken.dcm")
        job = run_conversion("swap_bytes", operator, path=str(folder), output="folder",
                             folder=str(export))
        (repaired,) = list(export.iterdir())
        repaired_pixels = decoded(repaired)

    assert job.status == JobStatus.SUCCEEDED, job.error  # a file that needed nothing is fine
    items = {item.name: item for item in job.items.all()}
    assert items["broken.dcm"].outcome == ItemOutcome.SUCCEEDED
    assert "needed" in items["broken.dcm"].message
    assert items["MR2_UNCI.dcm"].outcome == ItemOutcome.SKIPPED
    assert "already right" in items["MR2_UNCI.dcm"].message
    np.testing.assert_array_equal(repaired_pixels, decoded(corpus("693_UNCI.dcm")))


def test_an_image_export_zips_every_frame(celery_worker_process: Path, operator: User) -> None:
    (multi,) = archive_corpus("emri_small.dcm")
    job = run_conversion("export_images", operator, instances=[multi.pk], format="png",
                         window="minmax")
    assert job.status == JobStatus.SUCCEEDED, job.error
    response = logged_in(operator).get(f"/jobs/{job.pk}/download/files/")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = sorted(archive.namelist())
        assert len(names) == 10 and all(name.endswith(".png") for name in names)
        first = Image.open(io.BytesIO(archive.read(names[0])))
        assert first.size == (64, 64)
    assert job.result["frames"] == 10
