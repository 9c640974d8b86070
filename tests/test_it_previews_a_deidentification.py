"""The preview page: one archived instance through the profile, the dump before and after
side by side with each change's rule, the same result a job gives, and nothing written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from pydicom import dcmread

from archive.deid.models import DeidProject, Pseudonym
from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from archive.storage import absolute_path
from netjobs.models import JobStatus
from tests.archive_helpers import corpus, import_folder
from tests.conftest import logged_in
from tests.conversion_helpers import run_conversion

pytestmark = pytest.mark.django_db(transaction=True)


def archived(name: str, **values: str) -> Instance:
    with import_folder() as folder:
        ds = dcmread(corpus(name))
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        ds.save_as(folder / name)
        return store_file(folder / name, source=InstanceSource.PATH_IMPORT).instance


def preview(client: Client, query: dict[str, Any]) -> HttpResponse:
    return client.get("/deidentify/preview/", query)  # type: ignore[return-value]


def rows_of(html: str) -> dict[str, str]:
    """Changes table: element path → the row's text."""
    table = re.search(r'<table class="striped deid-changes">(.*?)</table>', html, re.S)
    assert table is not None
    return {m[1]: re.sub(r"<[^>]+>", " ", m[0]) for m in re.finditer(
        r'<tr data-action="[^"]*"><td class="nowrap"><code>([^<]+)</code>.*?</tr>',
        table[1], re.S)}


def test_only_administrators_see_which_pseudonym_a_patient_gets(
        operator: User, administrator: User) -> None:
    project = DeidProject.objects.create(name="mapped")
    Pseudonym.objects.create(project=project, original_patient_id="P-6060",
                             pseudonym_id="SUBJ-0042", pseudonym_name="Subject^42",
                             origin="uploaded")
    instance = archived("MR2_UNCI.dcm", PatientName="Lee^Ann", PatientID="P-6060")
    query: dict[str, Any] = {"instance": instance.pk, "project": "mapped"}
    for_operator = logged_in(operator).get("/deidentify/preview/", query).content.decode()
    assert "SUBJ-0042" not in for_operator and "Subject^42" not in for_operator
    assert "shown to Administrators" in for_operator
    for_admin = logged_in(administrator).get("/deidentify/preview/", query).content.decode()
    assert "SUBJ-0042" in for_admin


def test_the_preview_shows_each_change_with_its_rule_and_writes_nothing(
        operator: User) -> None:
    DeidProject.objects.create(name="preview")
    instance = archived("MR2_UNCI.dcm", PatientName="Roe^Richard", PatientID="P-5511",
                        StudyDescription="Brain for Roe", InstitutionName="General Hospital")
    client = logged_in(operator)
    html = preview(client, {
        "instance": instance.pk, "project": "preview",
        "options": ["clean_descriptors", "retain_patient_characteristics"]}).content.decode()
    rows = rows_of(html)
    assert "Roe^Richard" in rows["(0010,0010)"] and "pseudonym" in rows["(0010,0010)"]
    # Clean Descriptors keeps the description, with the patient's name masked
    assert "Clean Descriptors" in rows["(0008,1030)"] and "Brain for ***" in rows["(0008,1030)"]
    assert "General Hospital" in rows["(0008,0080)"]  # X/Z/D: emptied (Type 2 here)
    assert "(0010,0040)" not in rows  # Retain Patient Characteristics keeps the sex
    assert "data-phi-clean" in html and "deid-side-by-side" in html
    assert not Pseudonym.objects.exists()  # a preview writes nothing
    assert Instance.objects.count() == 1


def test_the_preview_gives_what_a_job_gives(celery_worker_process: Path,
                                            operator: User) -> None:
    DeidProject.objects.create(name="same")
    instance = archived("693_UNCI.dcm", PatientName="Poe^Edgar", PatientID="P-1849")
    html = preview(logged_in(operator), {
        "instance": instance.pk, "project": "same"}).content.decode()
    new_uid = re.search(r"\(0008,0018\)</code>.*?<td>[0-9.]+</td><td>([0-9.]+)</td></tr>",
                        html, re.S)
    assert new_uid is not None
    job = run_conversion("deidentify", operator, instances=[instance.pk], project="same",
                         output="archive")
    assert job.status == JobStatus.SUCCEEDED, list(job.items.values("message"))
    made = Instance.objects.get(source_job=job)
    assert made.sop_instance_uid == new_uid[1]
    assert dcmread(absolute_path(made.file_path)).PatientID == \
        Pseudonym.objects.get(original_patient_id="P-1849").pseudonym_id


def test_a_file_with_burned_in_text_is_flagged_and_viewers_are_refused(
        operator: User, viewer: User) -> None:
    DeidProject.objects.create(name="us")
    instance = archived("US1_UNCI.dcm", PatientName="Moe^Mary", PatientID="P-77")
    response = preview(logged_in(operator), {
        "instance": instance.pk, "project": "us"})
    assert response.status_code == 200 and b"data-held-back" in response.content
    assert logged_in(viewer).get("/deidentify/preview/").status_code == 403


def test_bad_input_is_answered_with_the_reason(operator: User) -> None:
    DeidProject.objects.create(name="bad")
    client = logged_in(operator)
    response = preview(client, {"instance": 999999, "project": "bad"})
    assert response.status_code == 400
    instance = archived("MR2_UNCI.dcm")
    both = preview(client, {
        "instance": instance.pk, "project": "bad",
        "options": ["retain_full_dates", "retain_modified_dates"]})
    assert both.status_code == 400 and b"not both" in both.content
    dumb = preview(client, {
        "instance": instance.pk, "project": "bad", "dumb": "on", "replace": "10,40,notasex"})
    assert dumb.status_code == 422 and b"notasex" in dumb.content  # the VR refuses it
