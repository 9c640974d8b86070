"""The header: grouped menus that show only what the user's role may open, the current page
marked, one row at 1400 px and no horizontal overflow at 1024 px."""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page

from tests.conftest import logged_in
from tests.test_it_echoes_from_the_browser import browser, go_to, log_in  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@dataclass
class Link:
    text: str
    href: str
    current: bool


@dataclass
class Group:
    label: str = ""
    marked_current: bool = False
    links: list[Link] = field(default_factory=list)


class HeaderMenus(HTMLParser):
    """The groups of ``<ul class="nav-groups">``: summary text, its class, and its links."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[Group] = []
        self.in_nav = self.in_summary = False
        self.link: Link | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "ul" and "nav-groups" in (a.get("class") or ""):
            self.in_nav = True
        elif self.in_nav and tag == "details":
            self.groups.append(Group())
        elif self.in_nav and tag == "summary":
            self.in_summary = True
            self.groups[-1].marked_current = "current" in (a.get("class") or "")
        elif self.in_nav and tag == "a":
            self.link = Link("", a.get("href") or "", a.get("aria-current") == "page")

    def handle_endtag(self, tag: str) -> None:
        if tag == "summary":
            self.in_summary = False
        elif tag == "a" and self.link is not None:
            self.groups[-1].links.append(self.link)
            self.link = None

    def handle_data(self, data: str) -> None:
        if self.in_summary:
            self.groups[-1].label += data.strip()
        elif self.link is not None:
            self.link.text += data.strip()


def header_groups(html: str) -> list[Group]:
    parser = HeaderMenus()
    parser.feed(html.split('<ul class="nav-user">')[0])
    return parser.groups


def menu(html: str) -> dict[str, list[str]]:
    return {g.label: [link.text for link in g.links] for g in header_groups(html)}


@pytest.mark.django_db
def test_viewer_sees_only_what_a_viewer_may_open(viewer: User) -> None:
    groups = menu(logged_in(viewer).get("/").content.decode())
    items = [item for entries in groups.values() for item in entries]
    assert {"Browse studies", "Jobs", "Listeners", "API tokens"} <= set(items)
    assert not {"Import", "New job", "Users", "Django admin"} & set(items)
    client = logged_in(viewer)  # every link the viewer is shown opens for the viewer
    for group in header_groups(client.get("/").content.decode()):
        for link in group.links:
            assert client.get(link.href).status_code == 200, link.href


@pytest.mark.django_db
def test_administrator_sees_every_group(administrator: User) -> None:
    groups = menu(logged_in(administrator).get("/").content.decode())
    assert list(groups) == ["Archive", "Network", "Monitoring", "Admin"]
    assert "Import" in groups["Archive"] and "New job" in groups["Network"]
    assert {"Users", "Django admin", "API tokens"} <= set(groups["Admin"])


@pytest.mark.django_db
def test_current_page_is_marked_in_its_group(viewer: User) -> None:
    groups = header_groups(logged_in(viewer).get("/jobs/").content.decode())
    current = [(g.label, link.text) for g in groups for link in g.links if link.current]
    assert current == [("Network", "Jobs")]
    assert [g.label for g in groups if g.marked_current] == ["Network"]


@pytest.fixture
def narrow_and_wide(browser: Browser) -> Iterator[dict[int, Page]]:  # noqa: F811
    contexts = {w: browser.new_context(viewport={"width": w, "height": 800}) for w in (1400, 1024)}
    yield {w: c.new_page() for w, c in contexts.items()}
    for context in contexts.values():
        context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_header_is_one_row_at_1400_and_fits_at_1024(
    live_server: Any, administrator: User, narrow_and_wide: dict[int, Page]
) -> None:
    for width, page in narrow_and_wide.items():
        log_in(page, live_server.url, administrator.username)
        boxes = page.locator("header.console-header nav > ul").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect()).map(r => [r.top, r.bottom])")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{width} px: the page scrolls sideways by {overflow} px"
        if width == 1400:
            tops = {round(top) for top, _ in boxes}
            assert len(tops) == 1, f"header wraps into rows at {width} px: {boxes}"
        # Each group opens and its links work at both widths.
        go_to(page, "Network", "Listeners")
        assert page.url.endswith("/listeners/")
        go_to(page, "Archive", "Browse studies")
        assert "/archive/" in page.url
