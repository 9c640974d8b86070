"""Template helpers of the job and AE pages: times as local "2026-12-04 19:31:05" with a
relative "3 minutes ago" title, the remote AE (peer) of each job in a table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

from netjobs.jobs.display import Peer, peer_of, peers_for
from netjobs.models import Job

register = template.Library()


def relative(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    if abs((now - moment).total_seconds()) < 60:
        return "just now"
    if moment <= now:
        return f"{timesince(moment, now, depth=1)} ago"
    return f"in {timeuntil(moment, now, depth=1)}"


@register.filter
def when(value: Any, precision: str = "seconds") -> SafeString | str:
    """``<time>`` in the server's local time zone, the relative time as its title."""
    if not isinstance(value, dt.datetime):
        return "—"
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    shown = local.strftime("%Y-%m-%d %H:%M" if precision == "minutes" else "%Y-%m-%d %H:%M:%S")
    return format_html('<time datetime="{}" title="{}">{}</time>', local.isoformat(),
                       relative(value), shown)


@register.filter
def clock(value: Any, precision: str = "seconds") -> SafeString | str:
    """Only the local time of day (for a job's start/finish, the date being in its head);
    ``clock:"ms"`` adds milliseconds (log entries)."""
    if not isinstance(value, dt.datetime):
        return "—"
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    shown = local.strftime("%H:%M:%S")
    if precision == "ms":
        shown += f".{local.microsecond // 1000:03d}"
    return format_html('<time datetime="{}" title="{} ({})">{}</time>', local.isoformat(),
                       local.strftime("%Y-%m-%d %H:%M:%S"), relative(value), shown)


@register.simple_tag
def job_rows(jobs: Iterable[Job]) -> list[tuple[Job, Peer | None]]:
    """Each job with its remote AE or DICOMweb endpoint, in a query per kind of peer for the
    whole table."""
    listed = list(jobs)
    peers = peers_for(listed)
    return [(job, peer_of(job, peers)) for job in listed]


@register.filter
def kind_label(name: str) -> str:
    """A job kind's label ("C-STORE (send)"), or its name if the kind is gone."""
    from netjobs.jobs.registry import KINDS

    kind = KINDS.get(name)
    return kind.label if kind is not None else name
