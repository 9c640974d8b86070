"""Helpers for tests of the listeners: a listener, waiting for its records, DCMTK tools."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from netjobs.models import Association, Listener
from tests.peers import DCMTK_ENV, free_port, require_tool


def make_listener(**fields: Any) -> Listener:
    values: dict[str, Any] = {"name": "main", "ae_title": "CONSOLE", "port": free_port(),
                              "acse_timeout": 5, "dimse_timeout": 5, "network_timeout": 5}
    values.update(fields)
    return Listener.objects.create(**values)


def settled(listener: Listener, count: int, seconds: float = 10) -> None:
    """Wait until ``count`` associations of the listener have ended and been recorded (the
    sender may return before the listener's association thread has written its record)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if Association.objects.filter(listener=listener, ended_at__isnull=False).count() >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} finished associations after {seconds} s")


def dcmtk(tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool(tool), *args], env=DCMTK_ENV, capture_output=True,
                          text=True, timeout=timeout)
