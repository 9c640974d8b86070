"""The archive flow in headless Chromium: upload files, watch the import job finish, find
the study, open an instance's dump and filter it, render a frame."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tests.archive_helpers import corpus
from tests.test_it_echoes_from_the_browser import browser, go_to, log_in, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_browse_dump_and_render(
    celery_worker_process: Path, live_server: Any, administrator: User, page: Page  # noqa: F811
) -> None:
    base = live_server.url
    log_in(page, base, administrator.username)
    go_to(page, "Archive", "Import")
    page.locator("#upload-files").set_input_files([str(corpus("MR2_J2KR.dcm")),
                                                   str(corpus("693_UNCI.dcm"))])
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                        timeout=30_000)
    expect(page.locator("table.items")).to_contain_text("693_UNCI.dcm")

    go_to(page, "Archive", "Browse studies")
    page.get_by_label("Modality").select_option("CT")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.studies tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("a").first.click()
    expect(page.locator("table.series-table td.thumb img").first).to_be_visible()
    page.locator("table.series-table td.thumb a").last.click()
    page.locator("table.instances tbody tr a").first.click()
    page.get_by_role("button", name="Dump").click()
    expect(page.locator("table.dump")).to_contain_text("(7FE0,0010)")
    page.get_by_label("Filter by tag or keyword").fill("Modality")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.dump tbody tr")).to_have_count(1)
    expect(page.locator("table.dump")).to_contain_text("CT")
    page.get_by_role("link", name="Render").click()
    image = page.locator("#frame-image")
    expect(image).to_have_attribute("src", re.compile(r"^blob:"), timeout=10_000)
    page.get_by_label("Window").select_option("lung")
    expect(page.locator("#download-png")).to_have_attribute("href", re.compile("preset=lung"))
