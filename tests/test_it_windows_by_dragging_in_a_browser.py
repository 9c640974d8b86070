"""The render viewer in headless Chromium: a preset fills center/width, dragging on the
image windows it (horizontal = width, vertical = center) and re-renders, the readout gives
the value under the cursor, zoom works, and cine play goes through a multi-frame file."""

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pydicom import dcmread

from tests.archive_helpers import corpus
from tests.inspect_helpers import archived, open_logged_in, own_folders  # noqa: F401
from tests.test_it_echoes_from_the_browser import browser, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def number(tab: Page, selector: str) -> float:
    return float(tab.locator(selector).input_value())


def drag(tab: Page, dx: float, dy: float) -> None:
    box = tab.locator("#frame-image").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    tab.mouse.move(x, y)
    tab.mouse.down()
    for step in range(1, 6):
        tab.mouse.move(x + dx * step / 5, y + dy * step / 5)
    tab.mouse.up()


def test_presets_fill_and_dragging_windows(live_server: Any, own_folders: None,  # noqa: F811
                                           viewer: User, page: Page) -> None:  # noqa: F811
    instance = archived("693_UNCI.dcm")
    open_logged_in(page, live_server.url, viewer.username,
                   f"/inspect/instance/{instance.pk}/render/")
    image = page.locator("#frame-image")
    expect(image).to_have_attribute("src", re.compile(r"^blob:"), timeout=10_000)
    ds = dcmread(corpus("693_UNCI.dcm"))
    assert (number(page, "#wc"), number(page, "#ww")) == (float(ds.WindowCenter),
                                                          float(ds.WindowWidth))

    page.get_by_label("Window").select_option("lung")
    assert (number(page, "#wc"), number(page, "#ww")) == (-600, 1500)
    expect(page.locator("#download-png")).to_have_attribute("href", re.compile("preset=lung"))
    page.get_by_label("Center").fill("-500")  # tuned from the preset
    expect(page.get_by_label("Window")).to_have_value("typed")
    expect(page.locator("#download-png")).to_have_attribute("href",
                                                            re.compile(r"wc=-500&ww=1500"))

    before = image.get_attribute("src")
    drag(page, 120, 0)  # to the right: wider
    assert number(page, "#ww") > 1500 and number(page, "#wc") == -500
    expect(image).not_to_have_attribute("src", before or "", timeout=10_000)
    widened = number(page, "#ww")
    drag(page, 0, 80)  # down: the center rises
    assert number(page, "#wc") > -500 and number(page, "#ww") == widened
    href = page.locator("#download-png").get_attribute("href") or ""
    query = parse_qs(urlparse(href).query)
    assert float(query["ww"][0]) == widened and float(query["wc"][0]) == number(page, "#wc")

    # The readout under the cursor: the stored value and Hounsfield units.
    box = image.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    readout = page.locator("#pixel-readout")
    expect(readout).to_contain_text("HU", timeout=10_000)
    match = re.search(r"Row (\d+), column (\d+): stored (-?\d+) → (-?[\d.]+) HU",
                      readout.inner_text())
    assert match, readout.inner_text()
    row, column, stored, hu = (int(match[1]), int(match[2]), int(match[3]), float(match[4]))
    assert stored == int(ds.pixel_array[row, column])
    assert hu == stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert 200 <= row <= 312 and 200 <= column <= 312  # the middle of a 512 × 512 image

    zoom = page.locator("#zoom-level")
    fitted = zoom.inner_text()
    page.get_by_role("button", name="Zoom in").click()
    expect(zoom).not_to_have_text(fitted)
    page.get_by_role("button", name="1:1").click()
    expect(zoom).to_have_text("100%")
    assert image.evaluate("i => i.clientWidth") == 512


def test_cine_plays_a_multi_frame_file(live_server: Any, own_folders: None,  # noqa: F811
                                       viewer: User, page: Page) -> None:  # noqa: F811
    instance = archived("emri_small.dcm")
    frames = int(dcmread(corpus("emri_small.dcm")).NumberOfFrames)
    open_logged_in(page, live_server.url, viewer.username,
                   f"/inspect/instance/{instance.pk}/render/")
    expect(page.locator("#frame-image")).to_have_attribute("src", re.compile(r"^blob:"),
                                                           timeout=10_000)
    expect(page.locator("#frame-number")).to_have_text("1")
    page.locator("#cine-fps").fill("20")
    seen: set[str] = set()
    page.get_by_role("button", name="▶ Play").click()
    for _ in range(200):  # bounded: 200 × 50 ms
        seen.add(page.locator("#frame-number").inner_text())
        if len(seen) >= 4:
            break
        page.wait_for_timeout(50)
    assert len(seen) >= 4, seen
    page.get_by_role("button", name="❚❚ Pause").click()
    stopped = page.locator("#frame-number").inner_text()
    page.wait_for_timeout(600)
    assert page.locator("#frame-number").inner_text() == stopped
    assert {int(n) for n in seen} <= set(range(1, frames + 1))
    page.locator("#frame").fill(str(frames))
    expect(page.locator("#frame-number")).to_have_text(str(frames))
    expect(page.locator("#download-png")).to_have_attribute("href",
                                                            re.compile(f"frame={frames}"))
