"""The association monitor in headless Chromium: opened from the Monitoring menu, 65 recorded
associations paged 50 + 15, filtered by AE title and by result, a row expanded to its full
record (negotiation, DIMSE messages with the error comment), and the listener page's link
to the monitor filtered by that listener."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from netjobs.models import (
    Association,
    AssociationOutcome,
    AssociationRole,
    DimseDirection,
    DimseMessage,
    Listener,
    PresentationContext,
)
from tests.conftest import PASSWORD
from tests.test_it_echoes_from_the_browser import browser, go_to, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOTAL = 65
PAGE_SIZE = 50


def create_associations(listener: Listener) -> list[Association]:
    now = timezone.now()
    rows = [Association(
        listener=listener, role=AssociationRole.ACCEPTOR,
        outcome=AssociationOutcome.REJECTED if n % 7 == 0 else AssociationOutcome.RELEASED,
        calling_ae_title="CT1" if n % 5 == 0 else f"MR{n % 3}", called_ae_title="CONSOLE",
        peer_host="127.0.0.1", peer_port=41000 + n,
        started_at=now - timedelta(minutes=n), ended_at=now - timedelta(minutes=n) +
        timedelta(milliseconds=120), bytes_received=1000 * n, dimse_messages_total=2,
    ) for n in range(TOTAL)]
    created = Association.objects.bulk_create(rows)
    return list(Association.objects.filter(pk__in=[a.pk for a in created]))


def log_in_to(tab: Page, url: str, username: str) -> None:
    """Log in from the login page a protected page sends to; back on that page after."""
    tab.goto(url)
    expect(tab).to_have_url(re.compile(r"/login/"))
    tab.get_by_label("User name").fill(username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab).not_to_have_url(re.compile(r"/login/"))


def visible_rows(tab: Page) -> Any:
    return tab.locator("table.associations tr.association-row")


def test_page_filter_and_expand(live_server: Any, viewer: User, page: Page,  # noqa: F811
                                tmp_path: Path) -> None:
    listener = Listener.objects.create(name="main", ae_title="CONSOLE", port=11112)
    created = create_associations(listener)
    newest = max(created, key=lambda a: a.started_at)
    PresentationContext.objects.create(
        association=newest, context_id=1, abstract_syntax="1.2.840.10008.5.1.4.1.1.7",
        proposed_transfer_syntaxes=["1.2.840.10008.1.2.1"], result=0,
        accepted_transfer_syntax="1.2.840.10008.1.2.1")
    DimseMessage.objects.create(
        association=newest, at=newest.started_at, direction=DimseDirection.SENT,
        command="C-STORE-RSP", message_id=1, context_id=1, status=0xA700,
        status_meaning="0xA700 failure: Out of Resources",
        affected_sop_instance_uid="1.2.826.0.1.3680043.8.498.55", error_comment="Disk full")

    log_in_to(page, f"{live_server.url}/listeners/", viewer.username)
    go_to(page, "Monitoring", "Associations")
    expect(page.get_by_role("heading", name="Associations")).to_be_visible()
    expect(visible_rows(page)).to_have_count(PAGE_SIZE)
    expect(visible_rows(page).first).to_have_id(f"association-{newest.pk}")

    pagination = page.locator("nav.pagination")
    pagination.get_by_role("link", name="Next →").click()
    expect(visible_rows(page)).to_have_count(TOTAL - PAGE_SIZE)
    expect(pagination).to_contain_text("Page 2 of 2")
    oldest = min(created, key=lambda a: a.started_at)
    expect(visible_rows(page).last).to_have_id(f"association-{oldest.pk}")
    pagination.get_by_role("link", name="← Previous").click()
    expect(visible_rows(page)).to_have_count(PAGE_SIZE)

    # Filter by AE title: exactly the associations of CT1 (calling or called).
    form = page.locator("form.association-filters")
    form.get_by_label("AE title").fill("CT1")
    form.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"ae=CT1"))
    ct1 = {f"association-{a.pk}" for a in created if a.calling_ae_title == "CT1"}
    expect(visible_rows(page)).to_have_count(len(ct1))
    assert set(visible_rows(page).evaluate_all("rows => rows.map(r => r.id)")) == ct1

    # And by result as well: CT1's rejected ones only.
    form.get_by_label("Result").select_option("rejected")
    form.get_by_role("button", name="Filter").click()
    both = {f"association-{a.pk}" for a in created
            if a.calling_ae_title == "CT1" and a.outcome == AssociationOutcome.REJECTED}
    expect(visible_rows(page)).to_have_count(len(both))
    assert set(visible_rows(page).evaluate_all("rows => rows.map(r => r.id)")) == both
    expect(visible_rows(page).locator(".badge")).to_have_text(["Rejected"] * len(both))

    # Rejected only (the AE cleared).
    form.get_by_label("AE title").fill("")
    form.get_by_role("button", name="Filter").click()
    rejected = [a for a in created if a.outcome == AssociationOutcome.REJECTED]
    expect(visible_rows(page)).to_have_count(len(rejected))

    # A row expands to its full record, loaded on demand, and folds again.
    page.goto(f"{live_server.url}/associations/")
    row = page.locator(f"#association-{newest.pk}")
    record = page.locator(f"#record-{newest.pk}")
    expect(record).to_be_hidden()
    row.get_by_role("button", name="Details").click()
    expect(record).to_be_visible()
    expect(record.locator("table.negotiation")).to_contain_text("Secondary Capture")
    expect(record.locator("table.dimse")).to_contain_text("Disk full")
    expect(record.locator("table.dimse")).to_contain_text("1.2.826.0.1.3680043.8.498.55")
    page.screenshot(path=str(Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
                             / "association-expanded.png"), full_page=True)
    row.get_by_role("button", name="Hide").click()
    expect(record).to_be_hidden()

    # The listener page's latest 20, with the link to all of them in the monitor.
    page.goto(f"{live_server.url}/listeners/{listener.pk}/")
    expect(visible_rows(page)).to_have_count(20)
    page.get_by_role("link", name=f"all {TOTAL} associations →").click()
    expect(page).to_have_url(re.compile(rf"/associations/\?listener={listener.pk}$"))
    expect(page.locator("form.association-filters select[name=listener]")).to_have_value(
        str(listener.pk))
    expect(visible_rows(page)).to_have_count(PAGE_SIZE)
