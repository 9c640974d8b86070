"""Progress bars on the job page and in the job list: value/max are the items done so far of
the job's total, while it runs and once it has finished."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from netjobs.jobs.services import create_job
from netjobs.models import JobStatus
from tests.conftest import logged_in, wait_for_job
from tests.test_it_runs_store_jobs import FlakyStorage, flaky_scp, many_instances, study_ids

pytestmark = pytest.mark.django_db(transaction=True)
COUNT = 8


def progress_bar(html: str) -> tuple[int, int]:
    match = re.search(r'<progress value="(\d+)" max="(\d+)">', html)
    assert match, "no progress bar"
    return int(match.group(1)), int(match.group(2))


def test_progress_counts_the_items_sent(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    instances = many_instances(COUNT, tmp_path)
    with contextmanager(flaky_scp)(True) as (scp, port):
        assert isinstance(scp, FlakyStorage)
        scp.delay = 0.3
        scp.refuse = {instances[-1].sop_instance_uid}  # a failed item counts as done too
        ae = remote_ae(ae_title="FLAKY", port=port)
        job = create_job("store", {"ae": ae.pk, "studies": study_ids(instances)},
                         owner=operator)
        client = logged_in(operator)
        seen_midway = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.is_terminal:
                break
            live = client.get(f"/jobs/{job.pk}/live/").content.decode()
            if "<progress" in live:
                value, maximum = progress_bar(live)
                assert maximum == COUNT and 0 <= value <= COUNT
                job.refresh_from_db()
                # the bar never runs ahead of the items actually recorded
                assert value <= job.progress_done <= job.items.count()
                if 0 < value < COUNT:
                    seen_midway = value
            time.sleep(0.1)
        assert seen_midway is not None, "the bar never showed a part of the work"
        job = wait_for_job(job, seconds=60)
    assert job.status == JobStatus.PARTIAL
    done = job.items.count()
    assert done == COUNT and len(scp.stored) == COUNT - 1
    page = client.get(job.get_absolute_url()).content.decode()
    assert progress_bar(page) == (done, COUNT)
    listing = client.get("/jobs/").content.decode()
    row = re.search(rf'<tr id="job-row-{job.pk}">(.*?)</tr>', listing, re.S)
    assert row and progress_bar(row.group(1)) == (done, COUNT)
    assert f"{done}/{COUNT}" in row.group(1)
