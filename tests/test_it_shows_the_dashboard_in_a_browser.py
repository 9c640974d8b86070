"""The dashboard in headless Chromium: a listener served by the real listener manager with
the association DCMTK's echoscu made, a failed echo of a closed port started from the
dashboard's own Echo button, the problem counted, and the links leading to the filtered
lists."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from console.heartbeats import WorkerKind
from netjobs.listeners.manager import ListenerManager
from netjobs.models import Association, Job, JobStatus, Listener, ListenerStatus
from tests.listener_helpers import dcmtk, make_listener, settled
from tests.peers import free_port
from tests.test_it_echoes_from_the_browser import browser, go_to, log_in, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def served(manager: ListenerManager) -> Iterator[Listener]:
    """A listener that the listener manager's own loop starts and keeps heartbeating."""
    listener = make_listener(name="store-scp", ae_title="CONSOLE")
    manager.poll_seconds = 0.2
    manager.start_background()
    try:
        deadline = time.monotonic() + 15
        while Listener.objects.get(pk=listener.pk).status != ListenerStatus.RUNNING:
            assert time.monotonic() < deadline, "the listener did not start"
            time.sleep(0.1)
        yield listener
    finally:
        manager.shutdown()


def test_the_dashboard_shows_listeners_jobs_and_failures(
    celery_worker_process: Path, live_server: Any, operator: User, page: Page,  # noqa: F811
    served: Listener, remote_ae: Any,
) -> None:
    echo = dcmtk("echoscu", "-aet", "MODALITY", "-aec", "CONSOLE", "127.0.0.1",
                 str(served.port), timeout=30)
    assert echo.returncode == 0, echo.stderr
    settled(served, 1)
    association = Association.objects.get(listener=served)  # the first; both are listed
    ae = remote_ae(ae_title="NOBODY", port=free_port())  # nothing listens there

    base = live_server.url
    log_in(page, base, operator.username)
    row = page.locator('tr[data-listener="store-scp"]')
    expect(row.locator("td.listener-state .badge")).to_have_text("Running")
    expect(row).to_contain_text(f"127.0.0.1:{served.port}")
    expect(row).to_contain_text("Verification, Storage, Query/Retrieve")
    expect(row.locator(".last-association")).to_contain_text("MODALITY")
    expect(page.locator(f'li[data-worker="{WorkerKind.JOBS}"]')).to_have_attribute(
        "data-alive", "true", timeout=15_000)
    expect(page.locator('li[data-service="redis"]')).to_have_attribute("data-ok", "true")
    expect(page.locator('li[data-service="database"]')).to_have_attribute("data-ok", "true")
    expect(page.locator(".dash-problems")).to_contain_text("No problems in the last 24 h")

    # The health card refreshes itself: a new association shows without a reload.
    again = dcmtk("echoscu", "-aet", "SECONDCALLER", "-aec", "CONSOLE", "127.0.0.1",
                  str(served.port), timeout=30)
    assert again.returncode == 0, again.stderr
    expect(row.locator(".last-association")).to_contain_text("SECONDCALLER", timeout=15_000)

    # Echo the closed port from the dashboard: the result shows in place, then the AE's
    # last check and the problems card say so.
    ae_row = page.locator('tr[data-ae="NOBODY"]')
    expect(ae_row).to_contain_text("Never checked.")
    ae_row.get_by_role("button", name="Echo").click()
    expect(ae_row.locator(f"#echo-{ae.pk}")).to_have_attribute(
        "data-job-status", "failed", timeout=20_000)
    job = Job.objects.get(kind="echo")
    assert job.status == JobStatus.FAILED
    page.reload()
    expect(ae_row.locator(".last-check")).to_contain_text("Nothing is listening")
    expect(ae_row.locator(".last-check a")).to_have_attribute("href", f"/jobs/{job.pk}/")
    failed = page.locator('li[data-problem="failed_jobs"]')
    expect(failed.locator(".dash-count")).to_have_text("1")
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.environ["SCREENSHOT_DIR"] + "/dashboard.png", full_page=True)

    failed.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/jobs/\?status=failed&since=24h$"))
    expect(page.get_by_role("link", name=str(job.pk), exact=True)).to_be_visible()

    page.go_back()
    page.locator('tr[data-listener="store-scp"] .last-association a').click()
    expect(page).to_have_url(re.compile(rf"/associations/\?listener={served.pk}$"))
    expect(page.locator(f"#association-{association.pk}")).to_be_visible()

    # The last check links to its job.
    page.goto(f"{base}/")
    page.locator('tr[data-ae="NOBODY"] .last-check a').click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job.pk}/$"))


def test_a_fresh_console_shows_the_first_steps(
    live_server: Any, operator: User, page: Page  # noqa: F811
) -> None:
    log_in(page, live_server.url, operator.username)
    guidance = page.locator(".dash-guidance")
    expect(guidance.locator("li")).to_have_count(3)
    # An Operator may import but not configure AEs or listeners.
    expect(guidance.locator('li[data-step="add_ae"]')).to_contain_text(
        "Ask an Administrator to do this.")
    expect(guidance.locator('li[data-step="add_listener"] a')).to_have_count(0)
    for width, scheme in ((1024, "light"), (1024, "dark"), (1400, "dark")):
        page.set_viewport_size({"width": width, "height": 800})
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        if os.environ.get("SCREENSHOT_DIR"):
            page.screenshot(path=f"{os.environ['SCREENSHOT_DIR']}/dashboard-empty-{width}-"
                                 f"{scheme}.png", full_page=True)
    guidance.get_by_role("button", name="Import files").click()
    expect(page).to_have_url(re.compile(r"/archive/import/$"))
