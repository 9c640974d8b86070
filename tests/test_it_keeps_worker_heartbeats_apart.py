"""Heartbeats of several workers of one kind, and the dashboard without Redis: a worker that
stops removes only its own beat, and with Redis down the page says so for every worker at
once instead of waiting on each key."""

import json
import time
from typing import Any

import pytest
from django.contrib.auth.models import User

from console.heartbeats import (
    HeartbeatThread,
    WorkerKind,
    heartbeat_key,
    last_heartbeat,
    redis_client,
)
from tests.conftest import logged_in
from tests.peers import free_port
from tests.test_it_shows_the_dashboard import worker_item


def test_a_stopping_worker_leaves_another_workers_beat() -> None:
    kind = WorkerKind.LISTENERS
    client = redis_client()
    ours = HeartbeatThread(kind, interval=60)  # one beat, then it waits
    ours.start()
    deadline = time.monotonic() + 5
    while not last_heartbeat(kind).alive:
        assert time.monotonic() < deadline, "no heartbeat written"
        time.sleep(0.05)
    try:
        other = {"at": time.time(), "host": "other-host:4242"}
        client.set(heartbeat_key(kind), json.dumps(other), px=30_000)
        ours.stop()
        survivor = last_heartbeat(kind)
        assert survivor.alive and survivor.host == "other-host:4242"
    finally:
        client.delete(heartbeat_key(kind))


def test_our_own_beat_is_removed_on_stop() -> None:
    ours = HeartbeatThread(WorkerKind.LISTENERS, interval=60)
    ours.start()
    deadline = time.monotonic() + 5
    while not last_heartbeat(WorkerKind.LISTENERS).alive:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ours.stop()
    assert not last_heartbeat(WorkerKind.LISTENERS).alive


@pytest.mark.django_db
def test_without_redis_every_worker_says_redis_is_unreachable(
    settings: Any, viewer: User
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = logged_in(viewer).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-service="redis" data-ok="false"' in html
    for kind in WorkerKind:
        item = worker_item(html, kind)
        assert 'data-alive="false"' in item and "Redis unreachable" in item
