"""DICOM JSON and Native XML pages in headless Chromium: the document is a folding tree,
search highlights every match (counted, next/previous opening folded parents), the copy
button puts the whole document on the clipboard, and none of it asks the server again —
also for a segmentation with thousands of per-frame items."""

import copy
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect
from pydicom import dcmread
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import InstanceSource
from tests.archive_helpers import corpus
from tests.conftest import logged_in
from tests.inspect_helpers import archived, open_logged_in, own_folders  # noqa: F401
from tests.test_it_echoes_from_the_browser import browser  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    yield page
    context.close()


def requests_after_load(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def clipboard(page: Page) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


def first_of(count: int) -> str:
    return f"1 of {count} match" + ("" if count == 1 else "es")


def xml_hits(text: str, needle: str) -> int:
    """What the search should find: occurrences in attribute values and element text."""
    count = 0
    for element in ET.fromstring(text.encode()).iter():
        for value in [*element.attrib.values(), (element.text or "").strip()]:
            count += value.lower().count(needle.lower())
    return count


def test_json_folds_searches_and_copies(live_server: Any, own_folders: None,  # noqa: F811
                                        viewer: User, page: Page) -> None:
    instance = archived("liver.dcm")
    raw = logged_in(viewer).get(f"/inspect/instance/{instance.pk}/json/", {"raw": "1"})
    document_text = raw.content.decode()
    open_logged_in(page, live_server.url, viewer.username,
                   f"/inspect/instance/{instance.pk}/json/")
    tree = page.locator("#doc-tree")
    expect(tree).to_be_visible()
    expect(page.locator("#doc-text")).to_be_hidden()
    asked = requests_after_load(page)
    shown = tree.locator(".k").evaluate_all("keys => keys.map(k => k.textContent)")
    tags_in_order = re.findall(r'"[0-9A-F]{8}"(?=:)', document_text)
    assert [k for k in shown if re.fullmatch(r'"[0-9A-F]{8}"', k)] == tags_in_order

    segments = tree.locator("details.fold").filter(
        has=page.locator("> summary .k", has_text='"00620002"')).first
    expect(segments.locator("> summary .kw")).to_have_text("SegmentSequence")
    body = segments.locator("> .fold-body")
    expect(body).to_be_visible()
    segments.locator("> summary").click()
    expect(body).to_be_hidden()
    segment_count = len(dcmread(corpus("liver.dcm")).SegmentSequence)
    expect(segments.locator("> summary .fold-count")).to_have_text(
        f" SQ · {segment_count} item{'s' if segment_count > 1 else ''} ")

    expected = document_text.count('"00620005"')  # SegmentLabel, one per segment
    assert expected >= 1
    page.get_by_label("Search").fill("(0062,0005)")
    expect(page.locator("#doc-count")).to_have_text(first_of(expected))
    expect(tree.locator("mark.hit")).to_have_count(expected)
    current = tree.locator("mark.hit.current")
    expect(current).to_be_visible()  # its folded sequence was opened
    expect(current).to_have_text("00620005")

    page.get_by_role("button", name="Collapse all").click()
    page.get_by_label("Search").fill("SegmentLabel")  # a keyword label finds the tag too
    expect(page.locator("#doc-count")).to_have_text(first_of(expected))
    expect(tree.locator("mark.hit.current")).to_be_visible()
    page.get_by_label("Search").fill("no such thing anywhere")
    expect(page.locator("#doc-count")).to_have_text("no match")

    page.locator("#doc-copy").click()
    expect(page.locator("#doc-copy")).to_have_text("Copied")
    # The same document; only the BulkDataURIs' host differs (test client vs live server).
    copied = clipboard(page).replace(live_server.url, "http://testserver")
    assert json.loads(copied) == json.loads(document_text)
    assert asked == []  # folding and searching stay in the page


def test_xml_folds_searches_and_copies(live_server: Any, own_folders: None,  # noqa: F811
                                       viewer: User, page: Page) -> None:
    instance = archived("liver.dcm")
    raw = logged_in(viewer).get(f"/inspect/instance/{instance.pk}/xml/", {"raw": "1"})
    document_text = raw.content.decode()
    open_logged_in(page, live_server.url, viewer.username,
                   f"/inspect/instance/{instance.pk}/xml/")
    tree = page.locator("#doc-tree")
    expect(tree).to_be_visible()
    asked = requests_after_load(page)

    segments = tree.locator("details.fold").filter(
        has=page.locator("> summary .av", has_text="SegmentSequence")).first
    body = segments.locator("> .fold-body")
    expect(body).to_be_visible()
    segments.locator("> summary").click()
    expect(body).to_be_hidden()
    segment_count = len(dcmread(corpus("liver.dcm")).SegmentSequence)
    expect(segments.locator("> summary .fold-count")).to_have_text(
        f" {segment_count} Item{'s' if segment_count > 1 else ''} ")

    expected = xml_hits(document_text, "SegmentLabel")
    assert expected >= 1
    page.get_by_label("Search").fill("SegmentLabel")
    expect(page.locator("#doc-count")).to_have_text(first_of(expected))
    expect(tree.locator("mark.hit")).to_have_count(expected)
    expect(tree.locator("mark.hit.current")).to_be_visible()
    tag_hits = xml_hits(document_text, "00080060")
    page.get_by_label("Search").fill("0008,0060")
    expect(page.locator("#doc-count")).to_have_text(first_of(tag_hits))

    page.locator("#doc-copy").click()
    copied = clipboard(page).replace(live_server.url, "http://testserver")
    assert copied.strip() == document_text.strip()
    assert ET.fromstring(copied.encode()).tag == "NativeDicomModel"
    assert asked == []


def test_a_large_segmentation_stays_fast(live_server: Any, own_folders: None,  # noqa: F811
                                         viewer: User, page: Page, tmp_path: Path) -> None:
    ds = dcmread(corpus("liver.dcm"))
    per_frame = ds.PerFrameFunctionalGroupsSequence
    for _ in range(400):  # 1,200 per-frame items: a JSON document of about 4 MB
        per_frame.extend(copy.deepcopy(list(per_frame[:3])))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    big = tmp_path / "big-seg.dcm"
    ds.save_as(big)
    instance = store_file(big, source=InstanceSource.UPLOAD).instance
    raw = logged_in(viewer).get(f"/inspect/instance/{instance.pk}/json/", {"raw": "1"})
    assert len(raw.content) > 2_000_000
    expected = raw.content.decode().count('"00209157"')  # DimensionIndexValues
    assert expected > 1200

    open_logged_in(page, live_server.url, viewer.username,
                   f"/inspect/instance/{instance.pk}/json/")
    expect(page.locator("#doc-tree")).to_be_visible(timeout=30_000)
    asked = requests_after_load(page)
    started = time.monotonic()
    page.get_by_label("Search").fill("00209157")
    expect(page.locator("#doc-count")).to_have_text(first_of(expected))
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#doc-count")).to_have_text(f"2 of {expected} matches")
    assert time.monotonic() - started < 8
    assert asked == []
