"""The study list's date boxes in headless Chromium: a DICOM date typed as YYYYMMDD filters
like its ISO form, and the calendar button's choice fills the box."""

import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from archive.indexing import store_file
from archive.models import InstanceSource
from tests.archive_helpers import make_object
from tests.test_it_echoes_from_the_browser import browser, log_in, page  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_typed_dicom_dates_filter_and_the_calendar_fills_the_box(
    live_server: Any, viewer: User, page: Page, settings: Any, tmp_path: Path  # noqa: F811
) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    for name, day in (("Early^Ann", "20240105"), ("Late^Bob", "20240220")):
        store_file(make_object(tmp_path, patient_name=name, patient_id=name[:4],
                               study_date=day, modality="OT"),
                   source=InstanceSource.UPLOAD)
    log_in(page, live_server.url, viewer.username)
    page.goto(f"{live_server.url}/archive/")
    date_from = page.get_by_label("Study date from")
    date_from.fill("20240201")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.studies tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Late^Bob")
    expect(page.get_by_label("Study date from")).to_have_value("2024-02-01")

    # The calendar: what the browser's date picker reports lands in the box as ISO.
    date_to = page.get_by_label("Study date to")
    expect(page.locator("input[name=date_to] + button")).to_have_accessible_name("Open calendar")
    page.evaluate("""() => {
        const box = document.querySelector('input[name=date_to]');
        const picker = box.parentNode.querySelector('input[type=date]');
        picker.value = '2024-01-31';
        picker.dispatchEvent(new Event('change', {bubbles: true}));
    }""")
    expect(date_to).to_have_value("2024-01-31")
    page.get_by_label("Study date from").fill("")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Early^Ann")

    page.get_by_label("Study date from").fill("2024-13-45")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".form-errors")).to_contain_text("Study date from")
