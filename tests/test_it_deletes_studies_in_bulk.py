"""Bulk delete from the study list: Administrators only (CSRF on), through the usual delete
(index rows and files), the others kept; no selection is a clear message."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from tests.archive_helpers import make_object
from tests.conftest import logged_in


@pytest.fixture
def three(db: Any, settings: Any, tmp_path: Path) -> list[Instance]:
    settings.STORAGE_ROOT = tmp_path / "storage"
    return [store_file(make_object(tmp_path, patient_name=f"P^{n}", patient_id=f"P{n}",
                                   study_date="20240101", modality="OT"),
                       source=InstanceSource.UPLOAD).instance for n in range(3)]


def test_viewers_and_operators_cannot_delete(three: list[Instance], viewer: User,
                                             operator: User) -> None:
    ids = [i.series.study_id for i in three]
    for user in (viewer, operator):
        response = logged_in(user).post("/archive/delete/", {"study": ids})
        assert response.status_code == 403
        page = logged_in(user).get("/archive/").content.decode()
        assert 'formaction="/archive/delete/"' not in page
    assert Study.objects.count() == 3


def test_the_form_needs_its_csrf_token(three: list[Instance], administrator: User) -> None:
    client = logged_in(administrator, enforce_csrf=True)
    response = client.post("/archive/delete/", {"study": [three[0].series.study_id]})
    assert response.status_code == 403
    assert Study.objects.count() == 3


def test_administrators_delete_the_selection(three: list[Instance], administrator: User,
                                             django_capture_on_commit_callbacks: Any) -> None:
    client = logged_in(administrator)
    page = client.get("/archive/").content.decode()
    assert 'formaction="/archive/delete/"' in page and "data-confirm=" in page
    gone, kept = three[:2], three[2]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/archive/delete/", {
            "study": [i.series.study_id for i in gone], "next": "/archive/?sort=patient"},
            follow=True)
    assert response.redirect_chain[-1][0] == "/archive/?sort=patient"
    assert "Deleted 2 studies and their 2 instance(s)." in response.content.decode()
    assert list(Study.objects.values_list("pk", flat=True)) == [kept.series.study_id]
    for instance in gone:
        assert not absolute_path(instance.file_path).exists()
    assert absolute_path(kept.file_path).exists()


def test_no_selection_is_a_message_not_an_error(three: list[Instance],
                                                administrator: User) -> None:
    client = logged_in(administrator)
    for url in ("/archive/delete/", "/archive/send/"):
        response = client.post(url, {"next": "https://elsewhere.example/"}, follow=True)
        assert response.status_code == 200
        assert response.redirect_chain[-1][0] == "/archive/"  # not off-site
        assert "Select at least one study first" in response.content.decode()
    assert Study.objects.count() == 3
