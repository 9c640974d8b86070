"""Breadcrumbs in headless Chromium: an instance page shows Archive › patient › study ›
series › instance by DICOM identity, and each crumb leads to its page."""

import os
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from archive.indexing import store_file
from archive.models import InstanceSource
from tests.archive_helpers import corpus
from tests.test_it_echoes_from_the_browser import browser, page  # noqa: F401
from tests.test_it_sends_studies_in_bulk_from_the_browser import log_in_to_archive

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_crumbs_lead_up_the_hierarchy(live_server: Any, viewer: User,
                                      page: Page) -> None:  # noqa: F811
    instance = store_file(corpus("MR2_J2KR.dcm"), source=InstanceSource.UPLOAD).instance
    series = instance.series
    study = series.study
    patient = study.patient
    base = live_server.url
    log_in_to_archive(page, base, viewer.username)
    page.goto(f"{base}{instance.get_absolute_url()}")
    crumbs = page.locator("nav.breadcrumbs li")
    expect(crumbs).to_have_text(["Archive", patient.title, study.title, series.title,
                                 instance.title])
    for text in (study.title, series.title, instance.title):
        assert "(no description)" not in text and not re.fullmatch(r"[\d\s·#]+", text)
    expect(crumbs.last.locator("[aria-current=page]")).to_have_text(instance.title)
    expect(page).to_have_title(re.compile(re.escape(instance.title)))

    page.locator("nav.breadcrumbs a", has_text=series.title).click()
    expect(page).to_have_url(f"{base}{series.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_have_text(series.title)
    page.go_back()
    page.locator("nav.breadcrumbs a", has_text=study.title).click()
    expect(page).to_have_url(f"{base}{study.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_have_text(study.title)
    page.go_back()
    page.locator("nav.breadcrumbs a", has_text=patient.title).click()
    expect(page.locator("table.studies tbody tr")).to_have_count(1)
    expect(page.locator("table.studies")).to_contain_text(patient.patient_id)
    page.go_back()
    page.locator("nav.breadcrumbs a", has_text="Archive").click()
    expect(page).to_have_url(f"{base}/archive/")

    # The instance page reaches every inspection tool.
    page.goto(f"{base}{instance.get_absolute_url()}")
    tools = page.locator("nav.inspect-tools a")
    expect(tools).to_have_text(["Dump", "DICOM JSON", "Native XML", "Raw values", "Image info",
                                "Validate", "Render"])
    for index in range(7):
        href = tools.nth(index).get_attribute("href")
        assert href is not None
        assert page.request.get(f"{base}{href}").status == 200, href
