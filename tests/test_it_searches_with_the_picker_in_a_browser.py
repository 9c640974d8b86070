"""The archive picker in headless Chromium: searching by patient name and choosing with the
keyboard and the mouse on the diff page, and a pasted Study Instance UID on the store form,
each choice shown as a chip with its summary."""

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from archive.models import Instance, Study
from netjobs.models import Job, JobStatus
from tests.conftest import PASSWORD
from tests.peers import dcmtk_storescp
from tests.test_it_echoes_from_the_browser import browser, page  # noqa: F401
from tests.test_it_picks_archive_objects import mr2_study

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_to(page: Page, base: str, username: str, path: str) -> None:  # noqa: F811
    """Log in from the login page straight to ``path``."""
    page.goto(f"{base}/login/?next={path}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}{path}")


def pickers_ready(page: Page) -> None:  # noqa: F811
    """Typing before picker.js has bound its listeners would be lost (a slow machine)."""
    expect(page.locator("[data-picker]").first).to_have_attribute("data-picker-ready", "1")


def test_two_instances_are_chosen_by_patient_name_and_compared(
        live_server: Any, viewer: User, page: Page, tmp_path: Path) -> None:  # noqa: F811
    mr2_study(tmp_path / "in", count=3)
    log_in_to(page, live_server.url, viewer.username, "/tools/")
    page.get_by_role("link", name="Compare two files").click()
    pickers_ready(page)
    first = page.get_by_role("combobox", name="First")
    first.press_sequentially("compressedsamples")
    results = page.get_by_role("listbox", name="Matching instances").first
    expect(results.get_by_role("option")).to_have_count(3)
    first.press("ArrowDown")
    first.press("ArrowDown")
    expect(first).to_have_attribute("aria-activedescendant", re.compile(r"-option-1$"))
    first.press("Enter")
    chips = page.locator(".picker-chip")
    expect(chips).to_have_count(1)
    expect(chips.first).to_contain_text("CompressedSamples^MR2 · MR · Instance 2 · "
                                        "MR Image Storage, ")
    expect(results).to_be_hidden()
    second = page.get_by_role("combobox", name="Second")
    second.press_sequentially("MR2")
    page.get_by_role("option", name=re.compile(r"Instance 3 ")).click()
    expect(chips).to_have_count(2)
    expect(chips.nth(1)).to_contain_text("CompressedSamples^MR2 · MR · Instance 3")
    page.get_by_role("button", name="Compare").click()
    pickers_ready(page)
    expect(page.get_by_role("heading", name="2 differences")).to_be_visible()
    expect(page.locator("table.diff")).to_contain_text("InstanceNumber")
    second_uid = Instance.objects.get(instance_number=3).sop_instance_uid
    expect(page.locator("table.diff")).to_contain_text(second_uid)
    # the result page shows what was compared, summarised by the server
    expect(page.locator(".picker-chip")).to_have_count(2)
    expect(page.locator(".picker-chip").first).to_contain_text("Instance 2")
    # a chip is removed with its × button; Escape closes an open result list
    page.get_by_role("button", name=re.compile(r"^Remove .*Instance 3")).click()
    expect(page.locator(".picker-chip")).to_have_count(1)
    second.press_sequentially("MR2")
    expect(page.get_by_role("option")).to_have_count(3)
    second.press("Escape")
    expect(page.get_by_role("option").first).to_be_hidden()


def test_a_study_is_chosen_by_its_pasted_uid_and_sent(
        celery_worker_process: Path, live_server: Any, operator: User, remote_ae: Any,
        page: Page, tmp_path: Path) -> None:  # noqa: F811
    study = mr2_study(tmp_path / "in", count=3)
    other = Study.objects.exclude(pk=study.pk)
    assert not other.exists()
    with dcmtk_storescp(tmp_path, "PACS") as peer:
        ae = remote_ae(ae_title="PACS", port=peer.port)
        log_in_to(page, live_server.url, operator.username, "/jobs/new/store/")
        pickers_ready(page)
        studies = page.get_by_role("combobox", name="Studies")
        studies.fill(study.study_instance_uid)  # as a paste: one input event
        option = page.get_by_role("option", name=re.compile("CompressedSamples"))
        expect(option).to_have_count(1)
        studies.press("Enter")
        chip = page.locator(".picker-chip")
        expect(chip).to_have_count(1)
        expect(chip).to_contain_text("CompressedSamples^MR2 · SHOULDER · 3 instances, ")
        expect(studies).to_have_value("")
        page.get_by_label("Send to").select_option(str(ae.pk))
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                            timeout=30000)
        job = Job.objects.get()
        assert job.params["studies"] == [study.pk] and job.status == JobStatus.SUCCEEDED
        assert job.result["sent"] == 3
        received = [p for p in (tmp_path / "storescp-in").iterdir() if p.is_file()]
        assert len(received) == 3
