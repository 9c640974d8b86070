"""A main UI flow in headless Chromium: an operator opens a study, chooses Convert… →
Transcode, picks a lossy target (the page warns and the form asks for a confirmation), then
sees the job finish live with per-file sizes and the peer tools' command lines; the
Conversions page lists it with what it produced."""

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pydicom.uid import JPEGBaseline8Bit

from archive.models import Instance, Study
from netjobs.models import Job, JobStatus
from tests.conversion_helpers import archive_corpus
from tests.test_it_echoes_from_the_browser import browser, log_in, page  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_transcodes_a_study_to_a_lossy_syntax(
        celery_worker_process: Path, live_server: Any, operator: User,
        page: Page) -> None:  # noqa: F811
    archive_corpus("US1_UNCR.dcm")
    study = Study.objects.get()
    log_in(page, live_server.url, operator.username)
    page.goto(f"{live_server.url}{study.get_absolute_url()}")
    page.locator("summary", has_text="Convert…").click()
    page.locator(".convert-menu a[data-kind=transcode]").click()
    expect(page.get_by_role("heading", name=re.compile("New Transcode"))).to_be_visible()

    warning = page.locator("#lossy-warning")
    expect(warning).to_be_hidden()
    expect(page.get_by_label("I accept a lossy result")).to_be_hidden()
    page.get_by_label("Transfer syntax").select_option("jpeg_baseline")
    expect(warning).to_be_visible()
    expect(page.get_by_label("Quality (JPEG, HTJ2K)")).to_be_visible()
    page.get_by_label("Into the archive").check()
    page.get_by_role("button", name="Start").click()
    expect(page.locator(".field-error")).to_contain_text("is lossy: tick this box")
    assert not Job.objects.exists()

    page.get_by_label("I accept a lossy result").check()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                        timeout=30000)
    expect(page.locator("table.items .item-sizes")).to_contain_text("→")
    expect(page.locator("#commands")).to_contain_text("gdcmconv --jpeg --lossy")
    expect(page.locator("#produced")).to_contain_text("1 instance")

    job = Job.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.params["new_uid"] is True
    converted = Instance.objects.get(derived_from__isnull=False)
    assert converted.transfer_syntax_uid == JPEGBaseline8Bit

    page.goto(f"{live_server.url}/conversions/")
    row = page.locator("tr", has_text=job.summary)
    expect(row.first).to_contain_text("Succeeded")
    expect(row.first).to_contain_text("1 instance archived")
