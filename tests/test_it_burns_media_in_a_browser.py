"""Main UI flow in headless Chromium: an operator ticks two studies in the archive list and
burns them to a medium in an export folder, finds it on the Media page, reads its records,
deletes one instance's record from the tree, and sees it inactive after the job."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from archive.media.models import Medium
from tests.conversion_helpers import archive_corpus, export_folder
from tests.test_it_echoes_from_the_browser import browser, log_in, page  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_burns_two_studies_and_deletes_a_record(
        celery_worker_process: Path, live_server: Any, operator: User,
        page: Page) -> None:  # noqa: F811
    ct, mr = archive_corpus("693_UNCI.dcm", "MR2_UNCI.dcm")
    log_in(page, live_server.url, operator.username)
    with export_folder() as folder:
        page.goto(f"{live_server.url}/archive/")
        page.locator("tbody input[type=checkbox]").nth(0).check()
        page.locator("tbody input[type=checkbox]").nth(1).check()
        page.locator("#burn-to-media").click()
        expect(page.get_by_role("heading", name=re.compile("Burn to media"))).to_be_visible()
        expect(page.get_by_label("Export folder")).to_be_hidden()
        page.get_by_label("A folder under an export root").check()
        page.get_by_label("Export folder").fill(str(folder))
        page.get_by_label("File-set ID").fill("WARD7")
        page.get_by_label(re.compile("Invent them")).check()  # the corpus files lack StudyID
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                            timeout=60000)
        expect(page.locator("#commands")).to_contain_text("dcmmkdir")
        medium = Medium.objects.get()

        page.goto(f"{live_server.url}/media/")
        page.locator(f"tr[data-medium='{medium.pk}'] a", has_text="WARD7").click()
        expect(page.locator("#fileset-id")).to_have_text("WARD7")
        expect(page.locator("#finding-count")).to_contain_text("every referenced file")
        images = page.locator("tr[data-type=IMAGE]")
        expect(images).to_have_count(2)
        page.locator(f"input[value='{mr.sop_instance_uid}']").check()
        page.locator("#delete-selected").click()
        expect(page.get_by_label("SOP Instance UIDs")).to_have_value(mr.sop_instance_uid)
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                            timeout=60000)
        page.goto(f"{live_server.url}{medium.get_absolute_url()}")
        expect(page.locator("tr.inactive[data-type=IMAGE]")).to_have_count(1)
        expect(page.locator("tr[data-type=IMAGE]:not(.inactive)")).to_contain_text(
            ct.sop_instance_uid[:20])
