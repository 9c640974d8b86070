"""A main UI flow in headless Chromium: an operator opens a study, presses Send, picks the
peer and sees the job finish live with its per-instance results and command lines."""

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from archive.indexing import store_file
from archive.models import InstanceSource, Study
from netjobs.models import Job, JobStatus
from tests.archive_helpers import corpus
from tests.peers import dcmtk_storescp
from tests.test_it_echoes_from_the_browser import browser, log_in, page  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_sends_a_study(celery_worker_process: Path, live_server: Any,
                                   operator: User, remote_ae: Any, page: Page,  # noqa: F811
                                   tmp_path: Path) -> None:
    for name in ("693_UNCI.dcm", "693_J2KR.dcm"):
        store_file(corpus(name), source=InstanceSource.PATH_IMPORT)
    study = Study.objects.get()
    with dcmtk_storescp(tmp_path, "PACS") as peer:
        ae = remote_ae(ae_title="PACS", port=peer.port)
        log_in(page, live_server.url, operator.username)
        page.goto(f"{live_server.url}{study.get_absolute_url()}")
        page.locator("summary", has_text="Send to…").click()
        page.get_by_role("link", name="More options…").click()
        expect(page.get_by_role("heading", name=re.compile("New C-STORE"))).to_be_visible()
        page.get_by_label("Send to").select_option(str(ae.pk))
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                            timeout=30000)
        expect(page.locator("table.items")).to_contain_text("0x0000 success")
        expect(page.locator("#commands")).to_contain_text("dcmsend -aet DICOMCONSOLE -aec PACS")
        job = Job.objects.get()
        assert job.status == JobStatus.SUCCEEDED and job.result["sent"] == 2
        received = [p for p in (tmp_path / "storescp-in").iterdir() if p.is_file()]
        assert len(received) == 2
