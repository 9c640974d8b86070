"""The main UI flow in headless Chromium: log in, create a remote AE, press Echo, see success."""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect, sync_playwright

from netjobs.models import ApplicationEntity, Job, JobStatus
from tests.conftest import PASSWORD
from tests.peers import dcmtk_storescp

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself
# are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is not installed; bin/test installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def go_to(page: Page, group: str, item: str) -> None:
    """Follow a link of the header's grouped menus, as a person would: open, then click."""
    header = page.locator("header.console-header")
    header.locator("summary", has_text=group).click()
    header.get_by_role("link", name=item, exact=True).click()


def test_operator_admin_creates_an_ae_and_echoes_it(
    celery_worker_process: Path, live_server: Any, administrator: User, page: Page, tmp_path: Path
) -> None:
    base = live_server.url
    with dcmtk_storescp(tmp_path) as peer:
        log_in(page, base, administrator.username)
        go_to(page, "Network", "Application Entities")
        page.get_by_role("button", name="Add AE").click()

        # An invalid title first: the inline error shows and nothing is saved.
        page.get_by_label("AE title").fill("BAD\\TITLE")
        page.get_by_label("Host").fill("127.0.0.1")
        page.get_by_label("Port").fill(str(peer.port))
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".field-error")).to_contain_text("backslash")
        assert not ApplicationEntity.objects.exists()

        page.get_by_label("AE title").fill(peer.ae_title)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", name=re.compile(peer.ae_title))).to_be_visible()
        ae = ApplicationEntity.objects.get()

        # Echo on the detail page: the result appears without a reload.
        page.get_by_role("button", name="Echo").click()
        result = page.locator(f"#echo-{ae.pk}")
        expect(result).to_have_attribute("data-job-status", "succeeded", timeout=20_000)
        expect(result).to_contain_text("0x0000 success")

        # And on the list page.
        go_to(page, "Network", "Application Entities")
        row = page.locator(f'tr[data-ae="{peer.ae_title}"]')
        row.get_by_role("button", name="Echo").click()
        expect(row.locator(".echo-result")).to_have_attribute(
            "data-job-status", "succeeded", timeout=20_000
        )

        # The job page shows the negotiation table.
        row.locator(".echo-result a").click()
        expect(page.locator("table.negotiation")).to_contain_text("Verification SOP Class")
        expect(page.locator("table.negotiation")).to_contain_text("accepted")
        page.screenshot(path=str(tmp_path / "job.png"), full_page=True)
        if os.environ.get("SCREENSHOT_DIR"):
            page.screenshot(path=os.environ["SCREENSHOT_DIR"] + "/job.png", full_page=True)

    assert Job.objects.filter(status=JobStatus.SUCCEEDED).count() == 2


def test_a_failed_echo_shows_the_reason_in_the_page(
    celery_worker_process: Path, live_server: Any, operator: User, page: Page, remote_ae: Any
) -> None:
    ae = remote_ae(ae_title="NOBODY", port=1)
    log_in(page, live_server.url, operator.username)
    page.goto(f"{live_server.url}/aes/{ae.pk}/")
    page.get_by_role("button", name="Echo").click()
    result = page.locator(f"#echo-{ae.pk}")
    expect(result).to_have_attribute("data-job-status", "failed", timeout=20_000)
    expect(result).to_contain_text("Nothing is listening on 127.0.0.1:1")
