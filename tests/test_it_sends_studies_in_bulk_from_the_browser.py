"""Bulk send from the archive list in headless Chromium: an operator ticks two of three
studies, chooses the peer under "Send to…", and the real worker's store job delivers exactly
those studies' instances to DCMTK's storescp (read back with pydicom)."""

import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pydicom import dcmread

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from netjobs.models import Job, JobStatus
from tests.archive_helpers import corpus
from tests.conftest import PASSWORD
from tests.peers import dcmtk_storescp
from tests.test_it_echoes_from_the_browser import browser, go_to, page  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_to_archive(tab: Page, base: str, username: str) -> None:
    """Log in from the archive list's own login redirect (lands on the list)."""
    tab.goto(f"{base}/archive/")
    tab.get_by_label("User name").fill(username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab.get_by_role("heading", name="Archive", exact=True)).to_be_visible()


def test_an_operator_sends_two_studies(celery_worker_process: Path, live_server: Any,
                                       operator: User, remote_ae: Any, page: Page,  # noqa: F811
                                       tmp_path: Path) -> None:
    for name in ("693_UNCI.dcm", "693_J2KR.dcm", "MR2_J2KR.dcm", "RG3_J2KR.dcm"):
        store_file(corpus(name), source=InstanceSource.PATH_IMPORT)
    studies = list(Study.objects.order_by("pk"))
    assert len(studies) == 3
    chosen, left_out = studies[:2], studies[2]
    expected = set(Instance.objects.filter(series__study__in=chosen)
                   .values_list("sop_instance_uid", flat=True))
    assert len(expected) == 3
    with dcmtk_storescp(tmp_path, "PACS") as peer:
        remote_ae(ae_title="PACS", port=peer.port)
        log_in_to_archive(page, live_server.url, operator.username)
        go_to(page, "Archive", "Browse studies")
        expect(page.locator("#result-count")).to_contain_text("3 studies")
        for study in chosen:
            page.locator(f'tr[data-study="{study.study_instance_uid}"] input[name=study]').check()
        expect(page.locator("#selected-count")).to_have_text("2 selected")
        page.locator("summary", has_text="Send to…").click()
        page.get_by_role("button", name="PACS").click()
        expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                            timeout=30000)
        job = Job.objects.get()
        assert job.kind == "store" and job.status == JobStatus.SUCCEEDED
        assert sorted(job.params["studies"]) == sorted(s.pk for s in chosen)
        assert job.result["sent"] == 3
        received = {str(dcmread(p).SOPInstanceUID)
                    for p in (tmp_path / "storescp-in").iterdir() if p.is_file()}
    assert received == expected
    left_uids = set(Instance.objects.filter(series__study=left_out)
                    .values_list("sop_instance_uid", flat=True))
    assert not received & left_uids


def test_select_all_ticks_every_row(live_server: Any, operator: User,
                                    page: Page) -> None:  # noqa: F811
    for name in ("693_UNCI.dcm", "MR2_J2KR.dcm"):
        store_file(corpus(name), source=InstanceSource.PATH_IMPORT)
    log_in_to_archive(page, live_server.url, operator.username)
    page.locator("#select-all").check()
    expect(page.locator("input[name=study]:checked")).to_have_count(2)
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download ZIP").click()
    assert download.value.url.count("study=") == 2 and "csrf" not in download.value.url
    with zipfile.ZipFile(download.value.path()) as zf:
        assert len(zf.namelist()) == Instance.objects.count() == 2
    page.locator("summary", has_text="Send to…").click()
    expect(page.locator(".send-menu")).to_contain_text("No remote AE yet")
