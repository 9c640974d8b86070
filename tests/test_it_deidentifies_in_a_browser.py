"""Main UI flow in headless Chromium: an operator previews the de-identification of an
instance from its Objects… menu, then de-identifies its study with an option from the study's
menu (dumb-mode fields show only in dumb mode); an administrator finds the new pseudonym in
the project's mapping table, which the operator cannot open."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pydicom import dcmread

from archive.deid.models import DeidProject, Pseudonym
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from tests.conversion_helpers import archive_corpus
from tests.test_it_echoes_from_the_browser import browser, log_in, page  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_previews_then_deidentifies_a_study(
        celery_worker_process: Path, live_server: Any, operator: User, administrator: User,
        page: Page, browser: Any) -> None:  # noqa: F811
    project = DeidProject.objects.create(name="trial-ui", pseudonym_prefix="UI")
    [original] = archive_corpus("MR2_UNCI.dcm")
    study = Study.objects.get()
    source_id = dcmread(absolute_path(original.file_path)).PatientID
    log_in(page, live_server.url, operator.username)

    page.goto(f"{live_server.url}{original.get_absolute_url()}")
    page.locator("summary", has_text="Objects…").click()
    page.locator(".objects-menu a[data-kind=deid-preview]").click()
    page.get_by_label("Project").select_option("trial-ui")
    page.get_by_role("button", name="Preview").click()
    changes = page.locator("table.deid-changes")
    expect(changes).to_contain_text("PatientName")
    expect(changes).to_contain_text("pseudonym")
    expect(page.locator("[data-phi-clean]")).to_be_visible()
    expect(page.locator("table.deid-side-by-side tr.deid-changed").first).to_be_visible()
    assert not Pseudonym.objects.exists()

    page.goto(f"{live_server.url}{study.get_absolute_url()}")
    page.locator("summary", has_text="Objects…").click()
    page.locator(".objects-menu a[data-kind=deidentify]").click()
    expect(page.get_by_role("heading", name=re.compile("De-identify"))).to_be_visible()
    expect(page.get_by_label("Tags to empty")).to_be_hidden()
    page.get_by_label("Dumb mode (gdcmanon --dumb)").check()
    expect(page.get_by_label("Tags to empty")).to_be_visible()
    page.get_by_label("Dumb mode (gdcmanon --dumb)").uncheck()
    page.get_by_role("checkbox", name=re.compile("with Modified Dates Option")).check()
    page.get_by_label("Into the archive").check()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                        timeout=60000)
    expect(page.locator("#commands")).to_contain_text("gdcmanon")
    made = Instance.objects.get(source=InstanceSource.DEIDENTIFIED)
    ds = dcmread(absolute_path(made.file_path))
    assert ds.PatientID.startswith("UI") and ds.LongitudinalTemporalInformationModified == \
        "MODIFIED"

    refused = page.goto(f"{live_server.url}/deidentify/projects/{project.pk}/")
    assert refused is not None and refused.status == 403
    admin = browser.new_page()
    log_in(admin, live_server.url, administrator.username)
    admin.goto(f"{live_server.url}/deidentify/projects/{project.pk}/")
    expect(admin.locator("body")).to_contain_text(source_id)
    expect(admin.locator("body")).to_contain_text(ds.PatientID)
    admin.close()
