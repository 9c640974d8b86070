"""Main UI flows in headless Chromium: an operator adds a photo and a video to an archived
study from its Objects… menu (the form shows only the fields of the choice made), the
video plays in its instance page; then edits the photo's attributes with the change rows
and finds the before/after record on the instance page."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from archive.models import AttributeEdit, Instance, InstanceSource, Study
from tests.conversion_helpers import archive_corpus
from tests.object_job_helpers import make_jpeg, make_mp4
from tests.test_it_echoes_from_the_browser import browser, log_in, page  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_adds_a_photo_and_a_video_then_edits_the_photo(
        celery_worker_process: Path, live_server: Any, operator: User, page: Page,  # noqa: F811
        tmp_path: Path) -> None:
    archive_corpus("MR-SIEMENS-DICOM-WithOverlays.dcm")
    study = Study.objects.get()
    photo, video = make_jpeg(tmp_path / "photo.jpg"), make_mp4(tmp_path / "scope.mp4")
    log_in(page, live_server.url, operator.username)
    page.goto(f"{live_server.url}{study.get_absolute_url()}")
    page.locator("summary", has_text="Objects…").click()
    page.locator(".objects-menu a[data-kind=create]").click()
    expect(page.get_by_role("heading", name=re.compile("New Create DICOM objects"))).to_be_visible()
    expect(page.get_by_label("Patient name")).to_be_hidden()  # the study brings its patient
    page.get_by_label("A new patient and study").check()
    expect(page.get_by_label("Patient name")).to_be_visible()
    page.get_by_label("A new series in an archived study").check()
    expect(page.get_by_label("Patient name")).to_be_hidden()
    page.locator("input[type=file][name=upload]").set_input_files([str(photo), str(video)])
    page.get_by_label("Images as").select_option("vl_photographic")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                        timeout=60000)
    expect(page.locator("#commands")).to_contain_text("img2dcm")

    created = Instance.objects.filter(source=InstanceSource.CREATED)
    assert created.count() == 2 and {i.series.study_id for i in created} == {study.pk}
    movie = created.get(sop_class_uid="1.2.840.10008.5.1.4.1.1.77.1.1.1")
    page.goto(f"{live_server.url}{movie.get_absolute_url()}")
    player = page.locator("video.instance-video")
    expect(player).to_be_visible()
    if page.evaluate("document.createElement('video').canPlayType('video/mp4; "
                     "codecs=\"avc1.64001e\"')"):
        page.wait_for_function("document.querySelector('video.instance-video').readyState >= 1",
                               timeout=20000)
        assert page.evaluate("document.querySelector('video.instance-video').videoWidth") == 160

    still = created.get(sop_class_uid="1.2.840.10008.5.1.4.1.1.77.1.4")
    page.goto(f"{live_server.url}{still.get_absolute_url()}")
    page.locator("summary", has_text="Objects…").click()
    page.locator(".objects-menu a[data-kind=edit]").click()
    page.locator("input[name=path_0]").fill("SeriesDescription")
    page.locator("input[name=value_0]").fill("Wound photos")
    expect(page.locator("textarea[name=dcmodify]")).to_be_hidden()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#job-live")).to_have_attribute("data-job-status", "succeeded",
                                                        timeout=60000)
    expect(page.locator("#commands")).to_contain_text("dcmodify")
    edit = AttributeEdit.objects.get()
    assert edit.instance is not None
    page.goto(f"{live_server.url}{edit.instance.get_absolute_url()}")
    history = page.locator(".edit-history")
    expect(history).to_contain_text("SeriesDescription")
    expect(history).to_contain_text("Wound photos")
