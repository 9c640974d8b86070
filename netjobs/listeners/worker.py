"""Hooks the listener manager into the Celery worker that hosts the listeners.

Only a worker started with CONSOLE_LISTENER_HOST=1 (the run command's ``listener`` process,
compose's ``listener`` service) hosts listeners; ordinary job workers never do. The manager
is a thread of the worker, not a task, so the broker never redelivers it."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery.signals import worker_ready, worker_shutdown

logger = logging.getLogger(__name__)
_manager: Any = None


def hosts_listeners() -> bool:
    return os.environ.get("CONSOLE_LISTENER_HOST", "") == "1"


@worker_ready.connect
def start_listener_manager(**kwargs: Any) -> None:
    global _manager
    if not hosts_listeners() or _manager is not None:
        return
    from netjobs.listeners.manager import ListenerManager

    _manager = ListenerManager()
    _manager.start_background()
    logger.info("listener manager started as %s", _manager.owner)


@worker_shutdown.connect
def stop_listener_manager(**kwargs: Any) -> None:
    global _manager
    if _manager is not None:
        _manager.shutdown()
        _manager = None
