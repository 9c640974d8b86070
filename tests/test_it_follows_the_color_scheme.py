"""The theme: Auto follows the browser's prefers-color-scheme; a user's Light or Dark choice
overrides it and is remembered across sessions; bad theme values and unsafe redirects are
refused without an error page."""

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from console.models import Theme, UserPreference
from tests.conftest import logged_in
from tests.test_it_echoes_from_the_browser import browser, log_in  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def luminance(css_colour: str) -> float:
    """Relative luminance (WCAG) of a computed ``rgb(r, g, b)`` colour, 0 black .. 1 white."""
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+(?:\.\d+)?", css_colour)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def background(page: Page) -> float:
    colour = page.evaluate("getComputedStyle(document.body).backgroundColor")
    if "rgba(0, 0, 0, 0)" in colour:  # transparent body: the root element paints it
        colour = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    return luminance(colour)


def text_colour(page: Page) -> float:
    return luminance(page.evaluate("getComputedStyle(document.body).color"))


@pytest.fixture
def dark_page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 800}, color_scheme="dark")
    yield context.new_page()
    context.close()


def choose_theme(page: Page, name: str) -> None:
    page.locator(".nav-user summary").click()
    page.locator(".theme-form").get_by_role("button", name=name, exact=True).click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dark_preference_applies_and_a_choice_overrides_it(
    live_server: Any, viewer: User, dark_page: Page
) -> None:
    page = dark_page
    log_in(page, live_server.url, viewer.username)
    # Auto: no forced theme on the page, the browser's dark preference decides.
    assert page.locator("html").get_attribute("data-theme") is None
    assert background(page) < 0.1 and text_colour(page) > 0.4

    choose_theme(page, "Light")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert background(page) > 0.8 and text_colour(page) < 0.2
    assert UserPreference.objects.get(user=viewer).theme == Theme.LIGHT

    # Remembered: a new session of the same user in a dark-preferring browser stays light.
    page.context.clear_cookies()
    log_in(page, live_server.url, viewer.username)
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert background(page) > 0.8

    choose_theme(page, "Auto")
    assert page.locator("html").get_attribute("data-theme") is None
    assert background(page) < 0.1


@pytest.mark.django_db
def test_light_preference_with_dark_choice_is_dark(viewer: User) -> None:
    client = logged_in(viewer)
    response = client.post("/account/theme/", {"theme": "dark", "next": "/jobs/"})
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    page = client.get("/").content.decode()
    assert 'data-theme="dark"' in page
    assert 'value="dark" class="small" aria-pressed="true"' in page


@pytest.mark.django_db
def test_bad_theme_is_a_message_not_an_error(viewer: User) -> None:
    client = logged_in(viewer)
    response = client.post("/account/theme/", {"theme": "purple", "next": "/jobs/"}, follow=True)
    assert response.status_code == 200
    assert "Unknown theme &#x27;purple&#x27;" in response.content.decode()
    assert not UserPreference.objects.filter(user=viewer).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", ""])
def test_unsafe_or_missing_next_goes_home(viewer: User, target: str) -> None:
    response = logged_in(viewer).post("/account/theme/", {"theme": "light", "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db
def test_htmx_choice_answers_no_content(viewer: User) -> None:
    response = logged_in(viewer).post("/account/theme/", {"theme": "dark"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert UserPreference.objects.get(user=viewer).theme == Theme.DARK


@pytest.mark.django_db
def test_theme_needs_login_post_and_csrf(viewer: User) -> None:
    from django.test import Client

    anonymous = Client().post("/account/theme/", {"theme": "dark"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert logged_in(viewer).get("/account/theme/").status_code == 405
    strict = logged_in(viewer, enforce_csrf=True).post("/account/theme/", {"theme": "dark"})
    assert strict.status_code == 403
    assert not UserPreference.objects.filter(user=viewer).exists()
