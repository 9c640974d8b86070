"""What the Conversions page shows: the recent conversion jobs with their throughput, sizes
and what they produced, the running ones with their progress, and totals over the last 24 h
and 7 days, overall and by kind (and transcode target).

A finished job's numbers come from ``Job.result`` (written once, at the end); a running job's
from ``Job.counters`` (what is done so far) and its elapsed time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone

from archive.conversions.jobs.names import CONVERSION_KINDS, ConversionKind
from archive.conversions.syntaxes import TargetSyntax
from archive.models import Instance, Study
from netjobs.jobs.registry import UnknownJobKind, get_kind
from netjobs.models import Job, JobStatus

RECENT_JOBS = 50  # rows of the recent-jobs table
STUDIES_SHOWN = 3  # study links per job before "and n more"
ZIP_DOWNLOAD = "files"  # the name of a conversion job's ZIP download
PERIODS: tuple[tuple[str, dt.timedelta], ...] = (
    ("Last 24 h", dt.timedelta(hours=24)), ("Last 7 days", dt.timedelta(days=7)))

KIND_LABELS: dict[str, str] = {
    ConversionKind.TRANSCODE: "Transcode", ConversionKind.SPLIT: "Split multi-frame",
    ConversionKind.SWAP_BYTES: "Swap bytes", ConversionKind.EXPORT_IMAGES: "Export images",
}
NEW_LABELS: dict[str, str] = {
    ConversionKind.TRANSCODE: "transcode", ConversionKind.SPLIT: "split",
    ConversionKind.SWAP_BYTES: "swap bytes", ConversionKind.EXPORT_IMAGES: "export images",
}
MENU_LABELS: dict[str, str] = {
    ConversionKind.TRANSCODE: "Transcode to another syntax…",
    ConversionKind.SPLIT: "Split multi-frame…",
    ConversionKind.SWAP_BYTES: "Swap pixel bytes…",
    ConversionKind.EXPORT_IMAGES: "Export frames as images…",
}
ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING)


@dataclass(frozen=True)
class Link:
    label: str
    url: str = ""  # empty: shown as text (a server folder)
    kind: str = ""  # zip, instances, study, folder


@dataclass(frozen=True)
class JobFigures:
    """Counts, sizes and throughput of one job: final (result) or so far (counters)."""

    files: int = 0
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    outputs: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    seconds: float | None = None
    files_per_second: float | None = None
    mb_per_second: float | None = None

    @property
    def ratio(self) -> float | None:
        """Compression ratio, input / output, when something was written."""
        return round(self.input_bytes / self.output_bytes, 2) if self.output_bytes else None


@dataclass
class ConversionRow:
    job: Job
    kind_label: str
    target_label: str
    figures: JobFigures
    produced: list[Link] = field(default_factory=list)

    @property
    def is_active(self) -> bool:
        return self.job.status in ACTIVE


@dataclass(frozen=True)
class Totals:
    """Jobs, files and bytes of a group of jobs; mean files/s is the files of the finished
    ones over their summed run time (each job weighted by its length)."""

    label: str
    jobs: int
    files: int
    input_bytes: int
    output_bytes: int
    mean_files_per_second: float | None

    @property
    def ratio(self) -> float | None:
        return round(self.input_bytes / self.output_bytes, 2) if self.output_bytes else None


@dataclass
class ConversionBoard:
    active: list[ConversionRow]
    recent: list[ConversionRow]
    periods: list[Totals]
    by_kind: list[Totals]

    @property
    def is_empty(self) -> bool:
        return not self.active and not self.recent


# one job's figures --------------------------------------------------------------------------
def _int(values: dict[str, Any], key: str) -> int:
    try:
        return int(values.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def _float(values: dict[str, Any], key: str) -> float | None:
    value = values.get(key)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _elapsed(job: Job, now: dt.datetime) -> float | None:
    if job.started_at is None:
        return None
    return max(((job.finished_at or now) - job.started_at).total_seconds(), 0.0)


def job_figures(job: Job, now: dt.datetime | None = None) -> JobFigures:
    """The job's result once it has one; before that its counters and elapsed time."""
    now = now or timezone.now()
    final = job.result if isinstance(job.result, dict) and "files" in job.result else None
    values: dict[str, Any] = final if final is not None else (job.counters or {})
    counts = {key: _int(values, key) for key in (
        "files", "converted", "skipped", "failed", "outputs", "input_bytes", "output_bytes")}
    if final is not None:
        return JobFigures(**counts, seconds=_float(final, "seconds"),
                          files_per_second=_float(final, "files_per_second"),
                          mb_per_second=_float(final, "mb_per_second"))
    seconds = _elapsed(job, now)
    if not seconds:
        return JobFigures(**counts, seconds=seconds)
    return JobFigures(**counts, seconds=seconds,
                      files_per_second=round(counts["files"] / seconds, 2),
                      mb_per_second=round(counts["input_bytes"] / 1024**2 / seconds, 2))


def target_label(job: Job) -> str:
    """The transcode target's name ("JPEG-LS Lossless"); empty for the other kinds."""
    value = (job.params or {}).get("target")
    if job.kind != ConversionKind.TRANSCODE or not value:
        return ""
    try:
        return TargetSyntax(value).label
    except ValueError:
        return str(value)


# what a job produced ------------------------------------------------------------------------
def zip_link(job: Job) -> Link | None:
    """The job's ZIP download, when its kind offers it (built, not yet removed)."""
    try:
        kind = get_kind(job.kind)
    except UnknownJobKind:
        return None
    if not any(d.name == ZIP_DOWNLOAD for d in kind.downloads_for(job)):
        return None
    return Link("ZIP download", reverse("netjobs:job_download", args=[job.pk, ZIP_DOWNLOAD]),
                "zip")


def archived_outputs(job_ids: Iterable[int]) -> dict[int, list[Link]]:
    """Per job: the number of instances it archived and a link to each study they are in
    (one query for the counts, one for the studies)."""
    rows = list(Instance.objects.filter(source_job_id__in=list(job_ids))
                .values("source_job_id", "series__study_id").annotate(n=Count("pk"))
                .order_by("source_job_id", "series__study_id"))
    studies = Study.objects.select_related("patient").in_bulk(
        {row["series__study_id"] for row in rows})
    per_job: dict[int, list[tuple[Study, int]]] = defaultdict(list)
    for row in rows:
        per_job[row["source_job_id"]].append((studies[row["series__study_id"]], row["n"]))
    return {job_id: _study_links(found) for job_id, found in per_job.items()}


def _study_links(found: list[tuple[Study, int]]) -> list[Link]:
    total = sum(n for _, n in found)
    noun = "instance" if total == 1 else "instances"
    where = f"in {len(found)} stud{'y' if len(found) == 1 else 'ies'}"
    links = [Link(f"{total} {noun} archived {where}", "", "instances")]
    links += [Link(study.title, study.get_absolute_url(), "study")
              for study, _ in found[:STUDIES_SHOWN]]
    if len(found) > STUDIES_SHOWN:
        links.append(Link(f"and {len(found) - STUDIES_SHOWN} more", "", "instances"))
    return links


def produced_links(job: Job, archived: dict[int, list[Link]]) -> list[Link]:
    params = job.params or {}
    links = list(archived.get(job.pk, []))
    if params.get("output") == "zip":
        found = zip_link(job)
        if found is not None:
            links.append(found)
    if params.get("output") == "folder" and params.get("folder"):
        links.append(Link(str(params["folder"]), "", "folder"))
    return links


# the board ----------------------------------------------------------------------------------
def conversion_jobs() -> QuerySet[Job]:
    return Job.objects.filter(kind__in=CONVERSION_KINDS).select_related("owner")


def rows_for(jobs: list[Job], now: dt.datetime) -> list[ConversionRow]:
    archived = archived_outputs(job.pk for job in jobs)
    return [ConversionRow(job, KIND_LABELS.get(job.kind, job.kind), target_label(job),
                          job_figures(job, now), produced_links(job, archived))
            for job in jobs]


def totals(label: str, jobs: list[Job], now: dt.datetime) -> Totals:
    figures = [job_figures(job, now) for job in jobs]
    finished = [f for job, f in zip(jobs, figures, strict=True)
                if job.is_terminal and f.seconds]
    seconds = sum(f.seconds or 0.0 for f in finished)
    return Totals(label=label, jobs=len(jobs), files=sum(f.files for f in figures),
                  input_bytes=sum(f.input_bytes for f in figures),
                  output_bytes=sum(f.output_bytes for f in figures),
                  mean_files_per_second=round(sum(f.files for f in finished) / seconds, 2)
                  if seconds else None)


def by_kind(jobs: list[Job], now: dt.datetime) -> list[Totals]:
    groups: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        groups[(job.kind, target_label(job))].append(job)
    order = {kind: n for n, kind in enumerate(CONVERSION_KINDS)}
    return [totals(f"{KIND_LABELS.get(kind, kind)}{f' → {target}' if target else ''}",
                   group, now)
            for (kind, target), group in sorted(groups.items(),
                                                key=lambda g: (order.get(g[0][0], 99), g[0][1]))]


def build_board(now: dt.datetime | None = None) -> ConversionBoard:
    now = now or timezone.now()
    active = list(conversion_jobs().filter(status__in=ACTIVE))
    recent = list(conversion_jobs().exclude(status__in=ACTIVE)[:RECENT_JOBS])
    longest = max(span for _, span in PERIODS)
    window = list(conversion_jobs().filter(created_at__gte=now - longest))
    periods = [totals(label, [job for job in window if job.created_at >= now - span], now)
               for label, span in PERIODS]
    return ConversionBoard(active=rows_for(active, now), recent=rows_for(recent, now),
                           periods=periods, by_kind=by_kind(window, now))


def new_job_links() -> list[Link]:
    """The form of each conversion kind ("New transcode" …)."""
    return [Link(f"New {NEW_LABELS[kind]}", reverse("netjobs:job_new", args=[kind.value]),
                 kind.value) for kind in ConversionKind]
