"""What the dashboard shows, gathered by small functions that each answer one question with a
bounded number of queries (never one per listener or AE): are the listeners, workers, Redis
and the database up; what is in the archive; what went wrong in the last 24 h; when was each
remote AE last checked; and what a fresh console still needs."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncHour
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from archive.models import Instance, Patient, Series, Study
from console.dashboard_guidance import Step, first_run_steps
from console.heartbeats import Heartbeat, WorkerKind, last_heartbeat, redis_client
from netjobs.dicom.status import failure_status_q
from netjobs.jobs.checks import last_checks, with_last_check_id
from netjobs.listeners.manager import STALE_AFTER
from netjobs.listeners.services import offered_services
from netjobs.models import (
    AEKind,
    ApplicationEntity,
    Association,
    AssociationOutcome,
    AssociationRole,
    DimseDirection,
    DimseMessage,
    Job,
    JobStatus,
    Listener,
    ListenerStatus,
)

WINDOW = timedelta(hours=24)
MAX_AE_ROWS = 50


def association_monitor_url(**params: str | int) -> str:
    """The association monitor filtered by params (its route may not be installed yet)."""
    try:
        base = reverse("netjobs:association_list")
    except NoReverseMatch:
        base = "/associations/"
    return f"{base}?{urlencode(params)}" if params else base


# --- health: listeners, workers, Redis, database ------------------------------------------


@dataclass(frozen=True)
class LastAssociation:
    started_at: datetime
    calling_ae_title: str
    outcome: AssociationOutcome


@dataclass(frozen=True)
class ListenerRow:
    listener: Listener
    services: list[str]
    last_association: LastAssociation | None
    silent_seconds: float | None  # running, but the manager's heartbeat is this old (stale)

    @property
    def address(self) -> str:
        return f"{self.listener.bind_address}:{self.listener.port}"

    @property
    def monitor_url(self) -> str:
        return association_monitor_url(listener=self.listener.pk)


def listener_rows(now: datetime) -> list[ListenerRow]:
    """Every listener with its last association: one query."""
    latest = Association.objects.filter(listener=OuterRef("pk")).order_by("-started_at", "-pk")
    listeners = Listener.objects.annotate(
        last_started_at=Subquery(latest.values("started_at")[:1]),
        last_calling=Subquery(latest.values("calling_ae_title")[:1]),
        last_outcome=Subquery(latest.values("outcome")[:1]),
    )
    rows = []
    for listener in listeners:
        extra: Any = listener
        last = None
        if extra.last_started_at is not None:
            last = LastAssociation(extra.last_started_at, extra.last_calling,
                                   AssociationOutcome(extra.last_outcome))
        silent = None
        if (listener.status == ListenerStatus.RUNNING and listener.heartbeat_at is not None
                and now - listener.heartbeat_at > STALE_AFTER):
            silent = (now - listener.heartbeat_at).total_seconds()
        rows.append(ListenerRow(listener, [s.label for s in offered_services(listener)],
                                last, silent))
    return rows


def worker_heartbeats(client: redis.Redis | None = None) -> list[Heartbeat]:
    return [last_heartbeat(kind, client) for kind in WorkerKind]


@dataclass(frozen=True)
class ServiceCheck:
    name: str
    ok: bool
    detail: str  # the round trip when reachable, the error text when not


def redis_check(client: redis.Redis | None = None) -> ServiceCheck:
    started = time.perf_counter()
    try:
        (client or redis_client()).ping()
    except redis.RedisError as exc:
        return ServiceCheck("Redis", False, str(exc) or type(exc).__name__)
    return ServiceCheck("Redis", True, f"{(time.perf_counter() - started) * 1000:.1f} ms")


def database_check() -> ServiceCheck:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return ServiceCheck("Database", False, str(exc) or type(exc).__name__)
    return ServiceCheck("Database", True, f"{connection.vendor}, "
                                          f"{(time.perf_counter() - started) * 1000:.1f} ms")


# --- archive -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveTotals:
    patients: int
    studies: int
    series: int
    instances: int
    stored_bytes: int
    free_bytes: int | None
    volume_bytes: int | None
    volume_error: str = ""

    @property
    def is_empty(self) -> bool:
        return self.studies == 0

    @property
    def volume_used_bytes(self) -> int | None:
        """Used on the whole volume (by anything, not only the archive)."""
        if self.volume_bytes is None or self.free_bytes is None:
            return None
        return self.volume_bytes - self.free_bytes


def existing_folder(path: Path) -> Path:
    """The path, or its nearest existing parent (the storage folder may not exist yet)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def archive_totals() -> ArchiveTotals:
    instances = Instance.objects.aggregate(n=Count("pk"), stored=Sum("file_size"))
    free = volume = None
    error = ""
    try:
        usage = shutil.disk_usage(existing_folder(Path(settings.STORAGE_ROOT)))
        free, volume = usage.free, usage.total
    except OSError as exc:
        error = f"{settings.STORAGE_ROOT}: {exc.strerror or exc}"
    return ArchiveTotals(
        patients=Patient.objects.count(), studies=Study.objects.count(),
        series=Series.objects.count(), instances=instances["n"],
        stored_bytes=instances["stored"] or 0, free_bytes=free, volume_bytes=volume,
        volume_error=error,
    )


@dataclass(frozen=True)
class HourCount:
    start: datetime  # in the current time zone
    count: int


def hour_starts(now: datetime, hours: int = 24) -> list[datetime]:
    """The starts of the last ``hours`` hours, the current (partial) hour last."""
    current = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=back) for back in range(hours - 1, -1, -1)]


def instances_per_hour(now: datetime, hours: int = 24) -> list[HourCount]:
    """Instances received per hour (by received_at): one grouped query."""
    starts = hour_starts(now, hours)
    counts = dict(
        Instance.objects.filter(received_at__gte=starts[0])
        .annotate(hour=TruncHour("received_at")).values_list("hour")
        .annotate(n=Count("pk")).values_list("hour", "n")
    )
    by_instant = {hour.timestamp(): n for hour, n in counts.items()}
    return [HourCount(start, by_instant.get(start.timestamp(), 0)) for start in starts]


# --- problems of the last 24 h -------------------------------------------------------------


class ProblemKind(StrEnum):
    FAILED_JOBS = "failed_jobs"
    PARTIAL_JOBS = "partial_jobs"
    REJECTED_ASSOCIATIONS = "rejected_associations"
    ABORTED_ASSOCIATIONS = "aborted_associations"
    REFUSED_INSTANCES = "refused_instances"


PROBLEM_LABELS = {
    ProblemKind.FAILED_JOBS: "Failed jobs",
    ProblemKind.PARTIAL_JOBS: "Partly failed jobs",
    ProblemKind.REJECTED_ASSOCIATIONS: "Rejected associations",
    ProblemKind.ABORTED_ASSOCIATIONS: "Aborted associations",
    ProblemKind.REFUSED_INSTANCES: "Refused instances (C-STORE failures answered by a listener)",
}


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    count: int
    url: str

    @property
    def label(self) -> str:
        return PROBLEM_LABELS[self.kind]


def refused_instances(since: datetime) -> int:
    """C-STORE responses with a failure status that the listeners sent since then."""
    return DimseMessage.objects.filter(
        failure_status_q(), at__gte=since, command="C-STORE-RSP", direction=DimseDirection.SENT,
        association__role=AssociationRole.ACCEPTOR,
        # bounds the scan by the indexed start time (an association lasting a day is rare)
        association__started_at__gte=since - WINDOW,
    ).count()


def problems(now: datetime) -> list[Problem]:
    """Each kind of problem since now - 24 h with its count and the filtered list (three
    queries)."""
    since = now - WINDOW
    jobs = Job.objects.filter(created_at__gte=since).aggregate(
        failed=Count("pk", filter=Q(status=JobStatus.FAILED)),
        partial=Count("pk", filter=Q(status=JobStatus.PARTIAL)),
    )
    associations = Association.objects.filter(started_at__gte=since).aggregate(
        rejected=Count("pk", filter=Q(outcome=AssociationOutcome.REJECTED)),
        aborted=Count("pk", filter=Q(outcome=AssociationOutcome.ABORTED)),
    )
    jobs_url = reverse("netjobs:job_list")
    return [
        Problem(ProblemKind.FAILED_JOBS, jobs["failed"],
                f"{jobs_url}?{urlencode({'status': JobStatus.FAILED, 'since': '24h'})}"),
        Problem(ProblemKind.PARTIAL_JOBS, jobs["partial"],
                f"{jobs_url}?{urlencode({'status': JobStatus.PARTIAL, 'since': '24h'})}"),
        Problem(ProblemKind.REJECTED_ASSOCIATIONS, associations["rejected"],
                association_monitor_url(result=AssociationOutcome.REJECTED, since="24h")),
        Problem(ProblemKind.ABORTED_ASSOCIATIONS, associations["aborted"],
                association_monitor_url(result=AssociationOutcome.ABORTED, since="24h")),
        Problem(ProblemKind.REFUSED_INSTANCES, refused_instances(since),
                association_monitor_url(direction="inbound", failures=1, since="24h")),
    ]


# --- remote AEs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteAERow:
    ae: ApplicationEntity
    last_check: Job | None  # the latest echo or connectivity job of this AE


def remote_ae_rows(limit: int = MAX_AE_ROWS) -> list[RemoteAERow]:
    """Remote AEs (up to limit) with their latest echo/connectivity job: two queries."""
    aes = list(with_last_check_id(ApplicationEntity.objects.filter(kind=AEKind.REMOTE))
               .order_by("ae_title", "host", "port")[:limit])
    checks = last_checks(aes)
    return [RemoteAERow(ae, checks.get(ae.pk)) for ae in aes]


# --- the whole page ------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    listeners: list[ListenerRow]
    workers: list[Heartbeat]
    services: list[ServiceCheck]
    archive: ArchiveTotals
    per_hour: list[HourCount]
    problems: list[Problem]
    remote_aes: list[RemoteAERow]
    steps: list[Step]
    recent_jobs: list[Job]

    @property
    def open_problems(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.count]


def build_dashboard(user: Any, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    client = redis_client()
    archive = archive_totals()
    redis_state = redis_check(client)
    # Without Redis no heartbeat can be read: say so instead of waiting for each timeout.
    workers = worker_heartbeats(client) if redis_state.ok else [
        Heartbeat(kind, None, error=f"Redis unreachable: {redis_state.detail}")
        for kind in WorkerKind]
    return Dashboard(
        listeners=listener_rows(now),
        workers=workers,
        services=[redis_state, database_check()],
        archive=archive,
        per_hour=instances_per_hour(now),
        problems=problems(now),
        remote_aes=remote_ae_rows(),
        steps=first_run_steps(user, has_studies=not archive.is_empty),
        recent_jobs=list(Job.objects.select_related("owner")[:8]),
    )
