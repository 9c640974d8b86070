"""Heartbeats of the console's workers in Redis: one key per worker kind, with a TTL.

A Celery worker writes its kind's key every HEARTBEAT_SECONDS from a daemon thread started
on ``worker_ready``; the key expires HEARTBEAT_TTL_SECONDS after the last write, so a worker
that died (or lost Redis) shows as "not running" on the dashboard within that time. The
listener worker (CONSOLE_LISTENER_HOST=1) writes the listener kind, every other worker the
job kind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
HEARTBEAT_TTL_SECONDS = 30.0
REDIS_TIMEOUT_SECONDS = 2.0


class WorkerKind(StrEnum):
    JOBS = "jobs"
    LISTENERS = "listeners"

    @property
    def label(self) -> str:
        return {WorkerKind.JOBS: "Job worker", WorkerKind.LISTENERS: "Listener worker"}[self]


@dataclass(frozen=True)
class Heartbeat:
    """The last heartbeat of a worker kind, or why there is none."""

    kind: WorkerKind
    seconds_ago: float | None  # None: no live key (never written, expired, or Redis down)
    host: str = ""
    error: str = ""

    @property
    def alive(self) -> bool:
        return self.seconds_ago is not None


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                socket_connect_timeout=REDIS_TIMEOUT_SECONDS)


def heartbeat_key(kind: WorkerKind) -> str:
    """Per queue prefix, so test runs and demo sites sharing a Redis keep apart."""
    return f"{settings.QUEUE_PREFIX}console:heartbeat:{kind.value}"


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(kind: WorkerKind, client: redis.Redis | None = None,
         ttl_seconds: float = HEARTBEAT_TTL_SECONDS) -> None:
    """Write the kind's heartbeat now; it lives ttl_seconds."""
    value = json.dumps({"at": time.time(), "host": this_process()})
    (client or redis_client()).set(heartbeat_key(kind), value, px=max(1, int(ttl_seconds * 1000)))


def last_heartbeat(kind: WorkerKind, client: redis.Redis | None = None) -> Heartbeat:
    try:
        raw = (client or redis_client()).get(heartbeat_key(kind))
    except redis.RedisError as exc:
        return Heartbeat(kind, None, error=f"Redis: {exc}")
    if raw is None:
        return Heartbeat(kind, None)
    try:
        data = json.loads(raw)
        at, host = float(data["at"]), str(data.get("host", ""))
    except (ValueError, KeyError, TypeError):
        return Heartbeat(kind, None, error="unreadable heartbeat value")
    return Heartbeat(kind, max(0.0, time.time() - at), host=host)


class HeartbeatThread:
    """Writes one kind's heartbeat every interval until stopped; Redis errors are logged and
    the next beat tried again."""

    def __init__(self, kind: WorkerKind, interval: float = HEARTBEAT_SECONDS) -> None:
        self.kind = kind
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{kind}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=REDIS_TIMEOUT_SECONDS * 2)
        with contextlib.suppress(redis.RedisError):  # else the key expires on its own
            client = redis_client()
            # Only our own beat: another worker of the same kind may have written the key
            # since, and it is still alive.
            if last_heartbeat(self.kind, client).host == this_process():
                client.delete(heartbeat_key(self.kind))

    def _run(self) -> None:
        client = redis_client()
        while not self._stop.is_set():
            try:
                beat(self.kind, client)
            except redis.RedisError as exc:
                logger.warning("heartbeat of the %s: %s", self.kind.label.lower(), exc)
            self._stop.wait(self.interval)


_running: HeartbeatThread | None = None


def worker_kind() -> WorkerKind:
    from netjobs.listeners.worker import hosts_listeners

    return WorkerKind.LISTENERS if hosts_listeners() else WorkerKind.JOBS


@worker_ready.connect
def start_worker_heartbeat(**kwargs: Any) -> None:
    global _running
    if _running is None:
        _running = HeartbeatThread(worker_kind())
        _running.start()


@worker_shutdown.connect
def stop_worker_heartbeat(**kwargs: Any) -> None:
    global _running
    if _running is not None:
        _running.stop()
        _running = None
