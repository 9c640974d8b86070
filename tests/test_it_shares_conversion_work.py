"""A conversion job's batches in Redis: each file is handled exactly once, whoever takes it;
a helper that died has its batch taken back; live counts never go backwards."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import User

from archive.conversions.jobs.share import (
    WorkQueue,
    publish_progress,
    wait_for_helpers,
    work_batches,
)
from archive.conversions.jobs.sources import WorkItem
from netjobs.models import Job, JobStatus

ITEMS = [WorkItem(name=f"file-{i:02d}", path=f"/nowhere/{i}") for i in range(10)]


def test_a_dead_helpers_batch_is_taken_back_and_done_once() -> None:
    queue = WorkQueue(990_001)
    assert queue.fill(ITEMS, 3) == 4
    assert queue.take("helper-that-died") is not None  # taken, never finished, no alive key
    handled: list[str] = []

    def handle(batch: list[WorkItem]) -> None:
        handled.extend(item.name for item in batch)

    assert work_batches(queue, "job", handle, lambda: False) == 3
    wait_for_helpers(queue, handle, lambda: False)
    assert sorted(handled) == [item.name for item in ITEMS]
    assert queue.in_progress() == 0
    queue.clear()


def test_the_job_waits_for_a_live_helper_to_finish_its_batch() -> None:
    queue = WorkQueue(990_002)
    queue.fill(ITEMS, 5)
    handled: list[str] = []
    helper_took = threading.Event()

    def slow(batch: list[WorkItem]) -> None:
        helper_took.set()
        time.sleep(0.8)
        handled.extend(item.name for item in batch)

    def helper() -> None:
        with queue.alive("helper"):
            batch = queue.take("helper")
            assert batch is not None
            slow(batch)
            queue.done("helper")

    thread = threading.Thread(target=helper)
    thread.start()
    assert helper_took.wait(5)
    work_batches(queue, "job", lambda b: handled.extend(i.name for i in b), lambda: False)
    wait_for_helpers(queue, lambda b: handled.extend(i.name for i in b), lambda: False)
    assert sorted(handled) == [item.name for item in ITEMS]  # the helper's five are in
    thread.join()
    queue.clear()


def test_a_stop_ends_the_taking() -> None:
    queue = WorkQueue(990_003)
    queue.fill(ITEMS, 2)
    taken: list[int] = []
    work_batches(queue, "job", lambda b: taken.append(len(b)), lambda: len(taken) >= 2)
    assert taken == [2, 2]
    queue.clear()


@pytest.mark.django_db
def test_live_counts_on_the_job_never_go_backwards(operator: User) -> None:
    job = Job.objects.create(kind="transcode", status=JobStatus.RUNNING, owner=operator)
    publish_progress(job.pk, {"files": 5, "converted": 5})
    publish_progress(job.pk, {"files": 3, "converted": 3})  # an older snapshot, late
    job.refresh_from_db()
    assert (job.progress_done, job.counters) == (5, {"files": 5, "converted": 5})
    publish_progress(job.pk, {"files": 6, "converted": 5, "failed": 1})
    job.refresh_from_db()
    assert job.progress_done == 6 and job.counters["failed"] == 1


@pytest.mark.django_db
def test_a_file_whose_batch_was_lost_fails_with_the_reason(operator: User) -> None:
    from archive.conversions.jobs.run import _record_lost
    from netjobs.models import ItemOutcome, JobItem

    job = Job.objects.create(kind="transcode", status=JobStatus.RUNNING, owner=operator)
    JobItem.objects.create(job=job, name=ITEMS[0].name, outcome=ItemOutcome.SUCCEEDED)
    assert _record_lost(job, ITEMS[:3]) == 2
    lost = job.items.filter(outcome=ItemOutcome.FAILED)
    assert sorted(lost.values_list("name", flat=True)) == [ITEMS[1].name, ITEMS[2].name]
    assert all("stopped before it was done" in item.message for item in lost)
    assert _record_lost(job, ITEMS[:3]) == 0  # recorded once
