"""The dump in headless Chromium: sequences and items fold and unfold, "collapse all" leaves
the top-level elements, and the filter box and byte offsets keep working."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from archive.inspect.dump import dump
from tests.archive_helpers import corpus
from tests.inspect_helpers import archived, open_logged_in, own_folders  # noqa: F401
from tests.test_it_echoes_from_the_browser import browser, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def visible_tags(tab: Page) -> list[str]:
    return tab.locator("table.dump tbody tr:visible").evaluate_all(
        "rows => rows.map(r => r.dataset.tag)")


def test_sequences_fold_and_unfold(live_server: Any, own_folders: None,  # noqa: F811
                                   viewer: User, page: Page) -> None:  # noqa: F811
    instance = archived("693_UNCI.dcm")
    rows = dump(corpus("693_UNCI.dcm")).rows
    top_level = [r.tag_text for r in rows if r.depth == 0 and r.kind == "element"]
    nested = [r for r in rows if r.depth > 0]
    assert nested  # the file has sequences
    open_logged_in(page, live_server.url, viewer.username, f"/inspect/instance/{instance.pk}/")
    table = page.locator("table.dump")
    everything = visible_tags(page)
    assert len(everything) == len(rows)

    sequence = page.locator('table.dump tr[data-tag="(0008,2112)"]')
    toggle = sequence.get_by_role("button", name="Collapse (0008,2112)")
    toggle.click()
    expect(sequence.get_by_role("button", name="Expand (0008,2112)")).to_be_visible()
    folded = visible_tags(page)
    assert "(0008,2112)" in folded and "(0008,1150)" not in folded  # its items' elements
    index = [r.tag_text for r in rows].index("(0008,2112)")
    after = next(r for r in rows[index + 1:] if r.depth == 0 and r.kind == "element")
    assert after.tag_text in folded  # the element after the sequence stays
    assert len(folded) < len(everything)
    sequence.get_by_role("button", name="Expand (0008,2112)").click()
    assert visible_tags(page) == everything

    page.get_by_role("button", name="Collapse all").click()
    assert visible_tags(page) == top_level
    page.get_by_role("button", name="Expand all").click()
    assert visible_tags(page) == everything

    # Byte offsets still shown; the filter box still narrows the rows.
    offset = rows[index].offset
    expect(sequence.locator("td").first).to_have_text(str(offset))
    page.get_by_label("Filter by tag or keyword").fill("CodeValue")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_contain_text("(0008,0100)")
    assert "(0010,0010)" not in visible_tags(page)
    matched = visible_tags(page)
    assert matched.count("(0008,0100)") == 2  # in SourceImage and Derivation Code sequences
    page.locator('table.dump tr[data-tag="(0008,2112)"] .fold-toggle').click()
    assert visible_tags(page) == ["(0008,2112)", "(0008,9215)", "(FFFE,E000)", "(0008,0100)"]
