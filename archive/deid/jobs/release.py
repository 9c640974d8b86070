"""Releasing the files a de-identification job held back, once a person has looked at their
pixels: they go where the job's other files went (the archive, its ZIP, its export folder,
and its remote AE), and the job's history says who released them and when."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import User
from django.utils import timezone

from archive.conversions.jobs.outputs import OutputRefused, place, zip_path
from archive.conversions.jobs.params import OutputKind
from archive.conversions.jobs.roots import export_roots
from archive.conversions.outcome import OutputFile
from archive.deid.jobs.params import DeidentifyParams
from archive.deid.jobs.run import HELD_MARK, held_folder, send_released, stage_id
from archive.imports.roots import is_under
from archive.imports.uploads import upload_root
from archive.indexing import IndexCache, store_file
from archive.models import DuplicatePolicy, InstanceSource
from archive.reading import FileRejected
from netjobs.models import ItemOutcome, Job, JobLogEntry, JobStatus, LogLevel


class ReleaseRefused(Exception):
    """The held files cannot be released (the job is not finished, nothing is held, the
    export folder is gone): the message says why."""


@dataclass(frozen=True)
class Released:
    files: int
    store_job: Job | None


def jobs_holding_files(limit: int = 20) -> list[tuple[Job, int]]:
    """Finished de-identify jobs with files waiting for review, newest first, and how many."""
    root = held_folder(0).parent
    ids = [int(p.name[4:]) for p in root.iterdir() if p.name.startswith("job-")
           and p.name[4:].isdigit()] if root.is_dir() else []
    jobs = Job.objects.filter(pk__in=ids, kind="deidentify",
                              status__in=JobStatus.terminal()).order_by("-pk")[:limit]
    return [(job, count) for job in jobs if (count := len(held_files(job)))]


def held_files(job: Job) -> list[Path]:
    folder = held_folder(job.pk)
    return sorted(p for p in folder.rglob("*.dcm") if p.is_file()) if folder.is_dir() else []


def release_held(job: Job, user: User) -> Released:
    """Deliver every held file of ``job`` as the job delivered its released ones."""
    if job.kind != "deidentify" or job.status not in JobStatus.terminal():
        raise ReleaseRefused("only a finished de-identify job's held files can be released")
    files = held_files(job)
    if not files:
        raise ReleaseRefused("this job holds no file for review")
    params = DeidentifyParams.model_validate(job.params)
    base = held_folder(job.pk)
    if params.output == OutputKind.ARCHIVE:
        _into_archive(job, files)
    elif params.output == OutputKind.FOLDER:
        _into_folder(Path(params.folder or ""), base, files)
    else:
        _into_zip(job, base, files)
    if params.send_to is not None:
        stage = upload_root() / stage_id(job.pk)
        for path in files:
            target = stage / path.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    store = send_released(job, params.send_to) if params.send_to is not None else None
    shutil.rmtree(base, ignore_errors=True)
    _record(job, user, len(files))
    return Released(len(files), store)


def _into_archive(job: Job, files: list[Path]) -> None:
    cache = IndexCache()
    for path in files:
        try:
            store_file(path, source=InstanceSource.DEIDENTIFIED, cache=cache, job=job,
                       source_detail=f"job {job.pk}: released after review",
                       policy=DuplicatePolicy.KEEP_FIRST)
        except FileRejected as exc:
            raise ReleaseRefused(f"the archive refused {path.name}: {exc}") from exc


def _into_folder(folder: Path, base: Path, files: list[Path]) -> None:
    if not is_under(folder.resolve(), export_roots()):
        raise ReleaseRefused(f"{folder} is no longer under an export root")
    for path in files:
        try:
            _place_copy(path, folder, path.relative_to(base))
        except OutputRefused as exc:
            raise ReleaseRefused(str(exc)) from exc


def _place_copy(path: Path, folder: Path, relative: Path) -> None:
    """``place`` moves its file; the held copy stays until every file is delivered."""
    copy = path.with_name(f".{path.name}.release")
    shutil.copyfile(path, copy)
    place(OutputFile(copy, str(relative)), folder, relative)


def _into_zip(job: Job, base: Path, files: list[Path]) -> None:
    target = zip_path(job.pk)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "a" if target.is_file() else "w", zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
        present = set(archive.namelist())
        for path in files:
            name = str(path.relative_to(base))
            if name not in present:
                archive.write(path, name)


def _record(job: Job, user: User, count: int) -> None:
    who, when = user.get_username(), timezone.now().strftime("%Y-%m-%d %H:%M")
    JobLogEntry.objects.create(job=job, level=LogLevel.INFO, message=(
        f"{count} held file(s) released by {who} after review of their pixels."))
    for item in job.items.filter(outcome=ItemOutcome.WARNING, message__contains=HELD_MARK):
        item.outcome = ItemOutcome.SUCCEEDED
        item.message = f"{item.message}; released after review by {who} at {when}"[:4000]
        item.save(update_fields=["outcome", "message"])
    result = dict(job.result or {})
    result["held_back"] = 0
    result["released"] = int(result.get("released", 0)) + count
    Job.objects.filter(pk=job.pk).update(result=result)
