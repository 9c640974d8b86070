"""A retry links both ways ("retry of #6" / "retried as #9"); Retry is hidden on the page
and refused by the API where it cannot work (still running, its upload is gone); "Retry
failed only" shows the command lines of just what it re-sends."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.imports.uploads import stage_uploads, staged_upload_dir
from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from archive.storage import absolute_path
from netjobs.jobs.services import create_job
from netjobs.models import ItemOutcome, Job, JobStatus
from tests.archive_helpers import corpus
from tests.conftest import logged_in, wait_for_job
from tests.peers import dcmtk_storescp

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_retry_links_to_its_job_and_back(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    client = logged_in(operator)
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        first = wait_for_job(create_job("echo", {"ae": ae.pk}, owner=operator))
        assert first.status == JobStatus.SUCCEEDED, first.error
        page = client.get(first.get_absolute_url()).content.decode()
        assert f'action="/jobs/{first.pk}/retry/"' in page
        response = client.post(f"/jobs/{first.pk}/retry/")
        retry = Job.objects.exclude(pk=first.pk).get()
        assert response.status_code == 302 and response["Location"] == retry.get_absolute_url()
        wait_for_job(retry)
    assert retry.retry_of_id == first.pk
    new_page = client.get(retry.get_absolute_url()).content.decode()
    assert re.search(rf'id="retry-of">retry of <a href="/jobs/{first.pk}/">#{first.pk}</a>',
                     new_page)
    old_page = client.get(first.get_absolute_url()).content.decode()
    assert re.search(rf'id="retried-as">retried as <a href="/jobs/{retry.pk}/">#{retry.pk}</a>',
                     old_page)
    listing = client.get("/jobs/").content.decode()
    row = re.search(rf'<tr id="job-row-{retry.pk}">(.*?)</tr>', listing, re.S)
    assert row and f'retry of <a href="/jobs/{first.pk}/">#{first.pk}</a>' in row.group(1)


def test_a_running_job_offers_a_confirmed_cancel_and_no_retry(
    operator: User, remote_ae: Any
) -> None:
    job = Job.objects.create(kind="echo", params={"ae": remote_ae().pk}, owner=operator,
                             status=JobStatus.RUNNING, summary="C-ECHO")
    client = logged_in(operator)
    page = client.get(job.get_absolute_url()).content.decode()
    cancel = re.search(rf'<form[^>]*action="/jobs/{job.pk}/cancel/"[^>]*>', page)
    assert cancel and "data-confirm=" in cancel.group(0)
    assert f"/jobs/{job.pk}/retry/" not in page
    refused = client.post(f"/api/jobs/{job.pk}/retry")
    assert refused.status_code == 409 and "still running" in refused.json()["detail"]
    assert Job.objects.count() == 1


def test_a_sent_upload_cannot_be_retried_on_the_page_or_by_the_api(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    upload = stage_uploads([SimpleUploadedFile("MR2_UNCI.dcm",
                                               corpus("MR2_UNCI.dcm").read_bytes())])
    client = logged_in(operator)
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = wait_for_job(create_job("store", {"ae": ae.pk, "upload": upload},
                                      owner=operator), seconds=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert staged_upload_dir(upload) is None  # sent: the upload is removed
    page = client.get(job.get_absolute_url()).content.decode()
    assert f"/jobs/{job.pk}/retry/" not in page and f"/jobs/{job.pk}/retry-failed/" not in page
    reason = re.search(r'<small class="muted" id="retry-refusal">(.*?)</small>', page, re.S)
    assert reason and "no staged upload" in reason.group(1)
    refused = client.post(f"/api/jobs/{job.pk}/retry")
    assert refused.status_code == 409 and "no staged upload" in refused.json()["detail"]
    by_page = client.post(f"/jobs/{job.pk}/retry/", follow=True).content.decode()
    assert "no staged upload" in by_page
    assert Job.objects.count() == 1


def test_retry_failed_only_shows_the_commands_of_just_what_it_resends(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    for name in ("MR2_UNCI.dcm", "693_J2KR.dcm"):  # uncompressed, JPEG 2000 lossless
        store_file(corpus(name), source=InstanceSource.PATH_IMPORT)
    instances = {i.sop_instance_uid: i for i in Instance.objects.all()}
    assert len(instances) == 2
    study_ids = sorted({i.series.study_id for i in instances.values()})
    with dcmtk_storescp(tmp_path) as peer:  # takes uncompressed syntaxes only
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids,
                                                "decompress": "never"}, owner=operator),
                           seconds=60)
    not_sent = set(job.items.exclude(outcome=ItemOutcome.SUCCEEDED)
                   .values_list("sop_instance_uid", flat=True))
    sent = set(instances) - not_sent
    assert job.status == JobStatus.PARTIAL and len(not_sent) == 1 and len(sent) == 1
    page = logged_in(operator).get(job.get_absolute_url()).content.decode()
    assert f'action="/jobs/{job.pk}/retry-failed/"' in page
    block = re.search(r'<details class="retry-failed-commands" id="retry-failed-commands">'
                      r"(.*?)</details>", page, re.S)
    assert block, "no command lines for retry failed only"
    lines = re.findall(r'<code class="command" id="retry-cmd-\d+">(.*?)</code>', block.group(1),
                       re.S)
    assert {"dcmsend", "storescu"} <= {shlex.split(line)[0] for line in lines}
    (failed_uid,), (sent_uid,) = not_sent, sent
    for line in lines:
        words = shlex.split(line)
        assert str(absolute_path(instances[failed_uid].file_path)) in words
        assert str(absolute_path(instances[sent_uid].file_path)) not in words
        assert str(absolute_path(instances[sent_uid].file_path).parent) not in words
