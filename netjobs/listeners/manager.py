"""The listener manager: runs in the listener worker, and makes the listeners that should run
run there. A listener is claimed in the database (owner + heartbeat), so the same port is
never served by two workers; a dead or failed listener is started again within 30 s."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from netjobs.listeners.server import ListenerStartError, RunningListener, start
from netjobs.models import DesiredState, Listener, ListenerStatus

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=15)  # an owner silent this long has gone away


def retry_failed_after() -> timedelta:
    """How long a failed listener waits before the next start (well under the 30 s limit)."""
    return timedelta(seconds=settings.LISTENER_RETRY_SECONDS)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ListenerManager:
    def __init__(self, owner: str | None = None, poll_seconds: float = 1.0) -> None:
        self.owner = owner or worker_identity()
        self.poll_seconds = poll_seconds
        self.running: dict[int, RunningListener] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start_background(self) -> None:
        Listener.objects.filter(enabled=True).update(desired_state=DesiredState.RUNNING)
        self._thread = threading.Thread(target=self._loop, name="listener-manager", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for listener_id in list(self.running):
            self._stop_one(listener_id, ListenerStatus.STOPPED, "")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception:
                logger.exception("listener manager: reconcile failed; retrying")
                close_old_connections()
            self._stop.wait(self.poll_seconds)

    # --- one pass -------------------------------------------------------------------------
    def reconcile(self) -> None:
        now = timezone.now()
        for listener_id in list(self.running):
            self._check_running(listener_id)
        for listener in Listener.objects.filter(desired_state=DesiredState.RUNNING):
            if listener.pk not in self.running:
                self._maybe_start(listener)
        if self.running:
            Listener.objects.filter(pk__in=list(self.running), owner=self.owner).update(
                heartbeat_at=now)

    def _check_running(self, listener_id: int) -> None:
        running = self.running[listener_id]
        row = Listener.objects.filter(pk=listener_id).first()
        if row is None:
            running.stop()
            del self.running[listener_id]
        elif row.desired_state != DesiredState.RUNNING or row.owner != self.owner:
            self._stop_one(listener_id, ListenerStatus.STOPPED, "")
        elif row.restart_requested_at and row.restart_requested_at > running.started_at:
            self._stop_one(listener_id, ListenerStatus.STARTING, "")
        elif not running.thread.is_alive():
            self._stop_one(listener_id, ListenerStatus.FAILED, "The listener stopped serving "
                           "unexpectedly; it is being started again.")

    def _maybe_start(self, listener: Listener) -> None:
        current = timezone.now()
        if (listener.status == ListenerStatus.FAILED and listener.owner == self.owner
                and listener.heartbeat_at
                and current - listener.heartbeat_at < retry_failed_after()
                and not (listener.restart_requested_at
                         and listener.restart_requested_at > listener.heartbeat_at)):
            return
        claimed = Listener.objects.filter(pk=listener.pk).filter(
            Q(owner="") | Q(owner=self.owner) | Q(heartbeat_at__isnull=True)
            | Q(heartbeat_at__lt=current - STALE_AFTER)
        ).update(owner=self.owner, heartbeat_at=current, status=ListenerStatus.STARTING)
        if not claimed:
            return
        try:
            running = start(listener)
        except ListenerStartError as exc:
            Listener.objects.filter(pk=listener.pk).update(
                status=ListenerStatus.FAILED, last_error=str(exc), heartbeat_at=current)
            logger.error("listener %s: %s", listener.pk, exc)
            return
        except OSError as exc:
            reason = exc.strerror or str(exc)
            message = (f"Cannot listen on {listener.bind_address}:{listener.port}: {reason}"
                       + (" — another program (or listener) already uses this port."
                          if "in use" in reason.lower() else "."))
            Listener.objects.filter(pk=listener.pk).update(
                status=ListenerStatus.FAILED, last_error=message, heartbeat_at=current)
            logger.error("listener %s: %s", listener.pk, message)
            return
        self.running[listener.pk] = running
        host, port = running.server.server_address[:2]
        Listener.objects.filter(pk=listener.pk).update(
            status=ListenerStatus.RUNNING, last_error="", bound_address=f"{host}:{port}",
            started_at=running.started_at, heartbeat_at=current)
        logger.info("listener %s running on %s:%s", listener.pk, host, port)

    def _stop_one(self, listener_id: int, status: ListenerStatus, error: str) -> None:
        running = self.running.pop(listener_id)
        running.stop()
        updates: dict[str, object] = {"status": status, "bound_address": ""}
        if error:
            updates["last_error"] = error
        if status == ListenerStatus.STOPPED:
            updates["owner"] = ""
        if status == ListenerStatus.FAILED:
            updates["heartbeat_at"] = timezone.now()  # the retry wait counts from the failure
        Listener.objects.filter(pk=listener_id, owner=self.owner).update(**updates)
