"""One conversion job, shared by the worker processes that are free.

The job's own run fills a Redis list with batches of files and offers helper tasks; the job
and every helper that starts take batches until none is left. A batch being worked on is
recorded under its taker, who keeps a short-lived "alive" key fresh; if a taker dies, the
job takes its batch back. Live counts are Redis hash increments, copied onto the job row
(never backwards); the final result is counted from the job's items in the database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from django.conf import settings

from archive.conversions.jobs.sources import WorkItem
from netjobs.models import Job, JobStatus

logger = logging.getLogger(__name__)

ALIVE_SECONDS = 30
WAIT_POLL_SECONDS = 0.2
KEYS_EXPIRE_SECONDS = 7 * 24 * 3600  # a job whose worker died leaves nothing for good
# Take the next batch and record it under its taker in one step: no moment in which a
# batch is neither waiting nor claimed.
_TAKE = """
local batch = redis.call('LPOP', KEYS[1])
if batch then
  redis.call('HSET', KEYS[2], ARGV[1], batch)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return batch
"""


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10,
                                socket_connect_timeout=5)


class WorkQueue:
    """The shared batches of one job, in Redis under the console's queue prefix."""

    def __init__(self, job_id: int, client: redis.Redis | None = None) -> None:
        self.job_id = job_id
        self.client = client or redis_client()
        base = f"{settings.QUEUE_PREFIX}conversion:{job_id}"
        self.todo, self.claimed, self.counts = f"{base}:todo", f"{base}:claimed", \
            f"{base}:counts"
        self.alive_prefix = f"{base}:alive:"

    # filling and taking ----------------------------------------------------------------------
    def fill(self, items: list[WorkItem], batch_size: int) -> int:
        self.clear()
        batches = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
        if batches:
            self.client.rpush(self.todo, *[json.dumps([it.as_dict() for it in batch])
                                           for batch in batches])
            self.client.expire(self.todo, KEYS_EXPIRE_SECONDS)
        return len(batches)

    def take(self, taker: str) -> list[WorkItem] | None:
        raw = self.client.eval(_TAKE, 2, self.todo, self.claimed, taker, KEYS_EXPIRE_SECONDS)
        if not isinstance(raw, bytes | str):
            return None
        return [WorkItem.from_dict(d) for d in json.loads(raw)]

    def done(self, taker: str) -> None:
        self.client.hdel(self.claimed, taker)

    def drop_waiting(self) -> None:
        """Cancel: no batch is handed out any more."""
        self.client.delete(self.todo)

    def orphaned(self) -> list[tuple[str, list[WorkItem]]]:
        """Batches whose takers stopped keeping their alive key fresh (the process died)."""
        found = []
        for taker, raw in self.client.hgetall(self.claimed).items():
            name = taker.decode() if isinstance(taker, bytes) else str(taker)
            if not self.client.exists(self.alive_prefix + name):
                found.append((name, [WorkItem.from_dict(d) for d in json.loads(raw)]))
        return found

    def in_progress(self) -> int:
        return int(self.client.hlen(self.claimed))

    @contextmanager
    def alive(self, taker: str) -> Iterator[None]:
        """Keep the taker's alive key fresh from a thread while it works."""
        stop = threading.Event()
        key = self.alive_prefix + taker

        def refresh() -> None:
            while not stop.wait(ALIVE_SECONDS / 6):
                try:
                    self.client.set(key, 1, ex=ALIVE_SECONDS)
                except redis.RedisError:  # a passing Redis error must not end the beat
                    logger.warning("conversion %s: alive key not refreshed", self.job_id,
                                   exc_info=True)

        thread = threading.Thread(target=refresh, name=f"alive-{taker}", daemon=True)
        self.client.set(key, 1, ex=ALIVE_SECONDS)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
            self.client.delete(key)

    # counting ----------------------------------------------------------------------------
    def count(self, **increments: int) -> dict[str, int]:
        pipe = self.client.pipeline()
        for name, amount in increments.items():
            if amount:
                pipe.hincrby(self.counts, name, amount)
        pipe.expire(self.counts, KEYS_EXPIRE_SECONDS)
        pipe.hgetall(self.counts)
        snapshot = pipe.execute()[-1]
        return {k.decode(): int(v) for k, v in snapshot.items()}

    def clear(self) -> None:
        self.client.delete(self.todo, self.claimed, self.counts)


def publish_progress(job_id: int, snapshot: dict[str, int]) -> None:
    """Copy a counts snapshot onto the job row, unless a later one is already there."""
    done = snapshot.get("files", 0)
    Job.objects.filter(pk=job_id, progress_done__lte=done).update(
        progress_done=done, counters=snapshot)


def new_taker() -> str:
    return uuid.uuid4().hex[:12]


def stop_asked(job_id: int) -> bool:
    row = Job.objects.filter(pk=job_id).values("status", "cancel_requested_at").first()
    return row is None or row["status"] != JobStatus.RUNNING or \
        row["cancel_requested_at"] is not None


def work_batches(queue: WorkQueue, taker: str, handle: Callable[[list[WorkItem]], Any],
                 should_stop: Callable[[], bool]) -> int:
    """Take and handle batches until none is left or a stop is asked; returns how many."""
    taken = 0
    with queue.alive(taker):
        while not should_stop():
            batch = queue.take(taker)
            if batch is None:
                break
            try:
                handle(batch)
            finally:
                queue.done(taker)
            taken += 1
    return taken


def wait_for_helpers(queue: WorkQueue, handle: Callable[[list[WorkItem]], Any],
                     should_stop: Callable[[], bool]) -> None:
    """After the list ran dry: wait while helpers finish their batches, taking back (and
    doing) those of helpers that died; a stop ends the wait."""
    while queue.in_progress() and not should_stop():
        for taker, batch in queue.orphaned():
            queue.done(taker)
            handle(batch)
        time.sleep(WAIT_POLL_SECONDS)
