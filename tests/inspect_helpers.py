"""Helpers for the inspect pages' browser tests: own storage folders, archiving a corpus
file, and logging in straight onto a page (not through the dashboard)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from tests.archive_helpers import corpus
from tests.conftest import PASSWORD


@pytest.fixture
def own_folders(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.INSPECT_DIR = tmp_path / "inspect"


def archived(name: str) -> Instance:
    return store_file(corpus(name), source=InstanceSource.UPLOAD).instance


def open_logged_in(page: Page, base: str, username: str, path: str) -> None:
    """Log in from the login page and land on ``path``."""
    page.goto(f"{base}/login/?next={path}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(path) + r"$"))
