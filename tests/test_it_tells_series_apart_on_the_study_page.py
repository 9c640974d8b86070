"""The study page's series table: each series' modality, instance count and date read from
its own files, in a number of queries that does not grow with the number of series."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydicom import dcmread
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import InstanceSource, Study
from tests.archive_helpers import make_object
from tests.conftest import logged_in


def add_series(folder: Path, study_uid: str, modality: str, series_date: str) -> None:
    path = make_object(folder, patient_name="Many^Series", patient_id="MS1",
                       study_date="20240101", modality=modality, study_uid=study_uid)
    ds = dcmread(path)
    ds.SeriesDate, ds.SeriesTime = series_date, "093000"
    ds.save_as(path, enforce_file_format=True)
    store_file(path, source=InstanceSource.UPLOAD)


def study_page(user: User, study: Study) -> tuple[int, str]:
    client = logged_in(user)
    client.get(f"/archive/studies/{study.pk}/")
    with CaptureQueriesContext(connection) as captured:
        html = client.get(f"/archive/studies/{study.pk}/").content.decode()
    return len(captured.captured_queries), html


@pytest.mark.django_db
def test_series_rows_show_their_own_dates_in_bounded_queries(
    settings: Any, tmp_path: Path, viewer: User
) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    study_uid = generate_uid()
    add_series(tmp_path, study_uid, "CT", "20240102")
    study = Study.objects.get(study_instance_uid=study_uid)
    one, html = study_page(viewer, study)
    assert "2024-01-02 09:30:00" in html
    for index, modality in enumerate(("MR", "US", "OT"), start=3):
        add_series(tmp_path, study_uid, modality, f"202401{index:02d}")
    four, html = study_page(viewer, study)
    assert four == one, f"{one} queries for 1 series, {four} for 4"
    for day in ("02", "03", "04", "05"):
        assert f"2024-01-{day} 09:30:00" in html
