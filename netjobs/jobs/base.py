"""What a job kind is, and what a run function gets and gives back."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from pydantic import BaseModel

from console.roles import Role
from netjobs.models import Job, JobLogEntry, JobStatus, LogLevel

logger = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)


class JobFailed(Exception):
    """An expected failure: the job ends ``failed`` with this message as its error."""


class JobCancelled(Exception):
    """Raised by ``JobContext.check_cancelled`` once an operator asked to cancel."""


@dataclass(frozen=True)
class JobOutcome:
    status: JobStatus
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True)
class CommandLine:
    """The same operation with a command-line tool set, for an operator to reproduce it."""

    tool_set: str  # "DCMTK", "dcm4che", "GDCM"
    command: str


@dataclass(frozen=True)
class FileDownload:
    """A download too big to build in memory: a file on disk, streamed to the browser."""

    path: Path
    content_type: str
    filename: str


Rendered = tuple[bytes, str, str] | FileDownload  # content, content type, file name


@dataclass(frozen=True)
class Download:
    """A file a finished (or running) job offers: a report, results as CSV or JSON, the
    files a conversion produced."""

    name: str  # in the URL: /jobs/<id>/download/<name>
    label: str
    render: Callable[[Job], Rendered | None]  # None: not (or no longer) there
    available: Callable[[Job], bool] | None = None  # None: always offered
    required_role: Role = Role.VIEWER  # who may fetch it (files with PHI: Administrators)

    def offered(self, job: Job) -> bool:
        return self.available is None or self.available(job)


@dataclass(frozen=True)
class JobKind(Generic[P]):
    """One kind of job: its typed parameters, a one-line summary, and its run function;
    optionally a form for the UI, the equivalent command lines, a "retry failed only",
    downloads, and what its page shows of what it produced."""

    name: str
    label: str
    params_schema: type[P]
    run: Callable[[JobContext, P], JobOutcome]
    describe: Callable[[P], str]
    required_role: Role = Role.OPERATOR
    form: type[Any] | None = None  # a netjobs.jobs.forms.JobForm subclass
    command_lines: Callable[[P], list[CommandLine]] | None = None
    retry_failed: Callable[[Job], dict[str, Any] | None] | None = None  # None: nothing failed
    downloads: tuple[Download, ...] = ()
    produced: Callable[[Job], list[Any]] | None = None  # links to what the job made
    item_sizes: bool = False  # its items carry input → output sizes (not DIMSE statuses)
    uses_associations: bool = True  # the job page lists the job's associations

    def validate(self, params: dict[str, Any], *, new: bool = False) -> P:
        """The typed parameters. ``new``: for a job about to be created, when validators may
        check what holds only before it runs (``info.context["new_job"]``), such as an empty
        output folder."""
        return self.params_schema.model_validate(params, context={"new_job": new})

    def commands_for(self, params: dict[str, Any]) -> list[CommandLine]:
        if self.command_lines is None:
            return []
        try:
            return self.command_lines(self.validate(params))
        except Exception:  # params of an old job that no longer validate
            return []

    def download(self, name: str) -> Download | None:
        return next((d for d in self.downloads if d.name == name), None)

    def downloads_for(self, job: Job) -> list[Download]:
        return [d for d in self.downloads if d.offered(job)]


class JobContext:
    """Handed to a run function: logging into the job, progress, counters, cancellation.

    While the job runs, a watcher thread stamps the heartbeat and turns an operator's cancel
    request into ``cancel_event`` so that network loops can stop between items.
    """

    def __init__(self, job: Job) -> None:
        self.job = job
        self.cancel_event = threading.Event()
        self._stop_watch = threading.Event()

    # logging and progress -------------------------------------------------------------------
    def log(self, message: str, level: LogLevel = LogLevel.INFO) -> None:
        JobLogEntry.objects.create(job=self.job, level=level, message=message)
        logger.log(
            logging.getLevelName(level.upper()), "job %s: %s", self.job.pk, message
        )

    def set_progress(self, done: int, total: int | None = None) -> None:
        self.job.progress_done = done
        fields = {"progress_done": done}
        if total is not None:
            self.job.progress_total = total
            fields["progress_total"] = total
        Job.objects.filter(pk=self.job.pk).update(**fields)

    def update_result(self, **fields: Any) -> None:
        """Merge ``fields`` into the job's result and save it (a live result, read while the
        job runs; a kind run inside another, as in the workflow, adds to it)."""
        self.job.result = {**self.job.result, **fields}
        Job.objects.filter(pk=self.job.pk).update(result=self.job.result)

    def add_counters(self, **increments: int) -> None:
        counters = dict(self.job.counters)
        for name, amount in increments.items():
            counters[name] = counters.get(name, 0) + amount
        self.job.counters = counters
        Job.objects.filter(pk=self.job.pk).update(counters=counters)

    # cancellation -------------------------------------------------------------------------
    @property
    def cancel_requested(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()

    @contextmanager
    def watching(self) -> Iterator[None]:
        watcher = threading.Thread(
            target=self._watch, name=f"job-{self.job.pk}-watch", daemon=True
        )
        watcher.start()
        try:
            yield
        finally:
            self._stop_watch.set()
            watcher.join(timeout=5)

    def _watch(self) -> None:
        beat_every = settings.JOB_HEARTBEAT_SECONDS
        last_beat = 0.0
        try:
            while not self._stop_watch.wait(0.5):
                try:
                    last_beat = self._watch_once(last_beat, beat_every)
                except Exception:  # a passing DB error must not end heartbeats for good
                    logger.exception("job %s: watcher check failed; retrying", self.job.pk)
                    close_old_connections()
        finally:
            connection.close()

    def _watch_once(self, last_beat: float, beat_every: float) -> float:
        values = Job.objects.filter(pk=self.job.pk).values_list("cancel_requested_at", flat=True)
        if values and values[0] is not None:
            self.cancel_event.set()
        if time.monotonic() - last_beat >= beat_every:
            Job.objects.filter(pk=self.job.pk).update(heartbeat_at=timezone.now())
            return time.monotonic()
        return last_beat


def mark_started(job_id: int) -> bool:
    """pending → running, atomically; False if the job is no longer pending."""
    now = timezone.now()
    updated = Job.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    return updated == 1


def mark_finished(job: Job, outcome: JobOutcome) -> bool:
    """running → the outcome's status; False if the job was no longer running (reaped)."""
    return (
        Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=outcome.status,
            result=outcome.result,
            error=outcome.error,
            finished_at=timezone.now(),
        )
        == 1
    )
