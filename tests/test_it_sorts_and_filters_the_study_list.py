"""The study list's search: dates typed as ISO or DICOM YYYYMMDD, a bad date named by its
label, sortable headers limited to a whitelist, the modality drop-down and the count."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from archive.indexing import store_file
from archive.models import InstanceSource
from tests.archive_helpers import make_object
from tests.conftest import logged_in

PEOPLE = [
    ("Alpha^Ann", "P1", "20240105", "CT", "CT chest", 1),
    ("Bravo^Ben", "P2", "20240210", "MR", "MR brain", 3),
    ("Charlie^Cy", "P3", "20231231", "CT", "CT abdomen", 2),
    ("Delta^Di", "P4", "20240301", "US", "US abdomen", 1),
]


@pytest.fixture
def archive(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    for name, pid, date, modality, description, count in PEOPLE:
        study_uid = f"1.2.826.0.1.3680043.10.{pid[1:]}"
        series_uid = f"{study_uid}.1"
        for _ in range(count):
            store_file(make_object(tmp_path, patient_name=name, patient_id=pid,
                                   study_date=date, modality=modality, description=description,
                                   study_uid=study_uid, series_uid=series_uid),
                       source=InstanceSource.UPLOAD)


def names(client: Client, **query: str) -> list[str]:
    response = client.get("/archive/", query)
    assert response.status_code == 200
    return [s.patient.patient_name for s in response.context["page_obj"].object_list]


def test_dates_are_taken_as_iso_or_dicom(archive: None, viewer: User) -> None:
    client = logged_in(viewer)
    january = {"Alpha^Ann"}
    assert set(names(client, date_from="2024-01-01", date_to="2024-01-31")) == january
    assert set(names(client, date_from="20240101", date_to="20240131")) == january
    assert set(names(client, date_from=" 20240201 ")) == {"Bravo^Ben", "Delta^Di"}
    page = client.get("/archive/", {"date_from": "20240101"}).content.decode()
    assert re.search(r'<input type="text" name="date_from" value="2024-01-01"', page)


def test_a_bad_date_is_named_by_its_label(archive: None, viewer: User) -> None:
    response = logged_in(viewer).get("/archive/", {"date_to": "2024-13-45"})
    assert response.status_code == 200
    page = response.content.decode()
    summary = page[page.index('class="form-errors"'):]
    assert re.search(r'<a href="#id_date_to">Study date to</a>: Enter a valid date', summary)
    assert "YYYYMMDD" in summary
    assert "fix the search first" in page


def test_headers_sort_both_ways_within_the_whitelist(archive: None, viewer: User) -> None:
    client = logged_in(viewer)
    assert names(client, sort="instances")[-1] == "Bravo^Ben"
    assert names(client, sort="-instances")[0] == "Bravo^Ben"
    assert names(client, sort="-patient") == ["Delta^Di", "Charlie^Cy", "Bravo^Ben", "Alpha^Ann"]
    page = client.get("/archive/", {"sort": "patient", "modality": "CT"}).content.decode()
    # The sorted column says so and links to the other direction, keeping the filters.
    header = re.search(r'<th aria-sort="ascending"><a href="([^"]+)">Patient</a>', page)
    assert header is not None
    assert "sort=-patient" in header[1] and "modality=CT" in header[1]
    assert re.search(r'<th aria-sort="none"><a href="[^"]*sort=date[^"]*">Study date</a>', page)
    # A key off the whitelist (a model field path) is refused, named by its label.
    refused = client.get("/archive/", {"sort": "patient__patient_name_search"})
    assert refused.status_code == 200
    assert refused.context["page_obj"].paginator.count == 0
    assert "Sort</a>: Select a valid choice" in refused.content.decode()


def test_the_modality_drop_down_offers_what_is_archived(archive: None, viewer: User) -> None:
    client = logged_in(viewer)
    page = client.get("/archive/").content.decode()
    select = page[page.index('<select name="modality"'):]
    select = select[:select.index("</select>")]
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "CT", "MR", "US"]
    assert set(names(client, modality="CT")) == {"Alpha^Ann", "Charlie^Cy"}
    chosen = client.get("/archive/", {"modality": "MR"}).content.decode()
    assert '<option value="MR" selected>' in chosen


def test_the_count_tells_how_many_studies_match(archive: None, viewer: User,
                                                monkeypatch: Any) -> None:
    from archive.views import StudyListView

    monkeypatch.setattr(StudyListView, "paginate_by", 2)
    client = logged_in(viewer)
    page = client.get("/archive/").content.decode()
    assert re.search(r"<strong>4</strong> studies", page)
    assert len(re.findall(r'name="study" value="\d+"', page)) == 2  # one page of two
    one = client.get("/archive/", {"patient_id": "P4"}).content.decode()
    assert re.search(r"<strong>1</strong> study\b", one)
