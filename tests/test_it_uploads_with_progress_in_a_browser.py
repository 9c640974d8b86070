"""The import page in headless Chromium: files dropped on the drop zone and a folder chosen
are listed, the upload runs as an XMLHttpRequest with its progress bar and the button
disabled, and the import job names its items by their original relative paths."""

import base64
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from netjobs.models import Job
from tests.archive_helpers import corpus
from tests.test_it_echoes_from_the_browser import browser, page  # noqa: F401
from tests.test_it_sends_studies_in_bulk_from_the_browser import log_in_to_archive

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DROP = """([name, data]) => {
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type: "application/dicom"}));
  const zone = document.getElementById("drop-zone");
  zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
  zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
}"""

WATCH_SEND = """() => {
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    const button = document.querySelector("#upload-form button[type=submit]");
    sessionStorage.setItem("at-send", JSON.stringify({
      disabled: button.disabled, progress: !document.getElementById("upload-progress").hidden,
      paths: body.getAll("upload_path")}));
    this.upload.addEventListener("progress", () => sessionStorage.setItem("progressed", "1"));
    return send.call(this, body);
  };
}"""


def test_drop_and_folder_upload_with_progress(celery_worker_process: Path, live_server: Any,
                                              operator: User, page: Page,  # noqa: F811
                                              tmp_path: Path) -> None:
    folder = tmp_path / "exam"
    (folder / "MR").mkdir(parents=True)
    shutil.copyfile(corpus("MR2_J2KR.dcm"), folder / "MR" / "IMG 0001.dcm")
    log_in_to_archive(page, live_server.url, operator.username)
    page.goto(f"{live_server.url}/archive/import/")
    expect(page.locator("nav.breadcrumbs")).to_contain_text("Import")
    data = base64.b64encode(corpus("693_UNCI.dcm").read_bytes()).decode()
    page.evaluate(DROP, ["dropped.dcm", data])
    expect(page.locator("#drop-list")).to_contain_text("1 file")
    page.locator("#upload-folder").set_input_files(str(folder))
    expect(page.locator("#drop-list")).to_contain_text("2 files")
    expect(page.locator("#drop-list")).to_contain_text("exam/MR/IMG 0001.dcm")
    page.evaluate(WATCH_SEND)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                        timeout=30_000)
    state = page.evaluate("() => JSON.parse(sessionStorage.getItem('at-send'))")
    assert state["disabled"] is True and state["progress"] is True
    assert sorted(state["paths"]) == ["dropped.dcm", "exam/MR/IMG 0001.dcm"]
    assert page.evaluate("() => sessionStorage.getItem('progressed')") == "1"
    job = Job.objects.get(kind="import")
    assert set(job.items.values_list("name", flat=True)) == {"dropped.dcm",
                                                             "exam/MR/IMG 0001.dcm"}
    expect(page.locator("table.items")).to_contain_text("exam/MR/IMG 0001.dcm")
