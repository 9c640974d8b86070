"""Releasing the files a de-identification job held back, once a person has looked at their
pixels: they go where the job's other files went (the archive, its ZIP, its export folder,
and its remote AE), and the job's history says who released them and when."""

from __future__ import annotations

import os
import secrets
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import User
from django.utils import timezone

from archive.conversions.jobs.outputs import OutputRefused, job_folders, place, zip_path
from archive.conversions.jobs.params import OutputKind
from archive.conversions.jobs.roots import export_roots
from archive.conversions.outcome import OutputFile
from archive.deid.jobs.run import HELD_MARK, held_files, held_folder, send_released
from archive.imports.roots import is_under
from archive.imports.uploads import upload_root
from archive.indexing import IndexCache, store_file
from archive.models import DuplicatePolicy, InstanceSource
from archive.reading import FileRejected
from netjobs.jobs.services import ParamsInvalid, RoleMissing
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
    ids = list(job_folders(held_folder(0).parent))
    jobs = Job.objects.filter(pk__in=ids, kind="deidentify",
                              status__in=JobStatus.terminal()).order_by("-pk")[:limit]
    return [(job, count) for job in jobs if (count := len(held_files(job)))]


def release_held(job: Job, user: User) -> Released:
    """Deliver every held file of ``job`` as the job delivered its released ones. The
    review folder is claimed first, so two releases of one job never run together; what
    could not be delivered waits for review again."""
    if job.kind != "deidentify" or job.status not in JobStatus.terminal():
        raise ReleaseRefused("only a finished de-identify job's held files can be released")
    base = held_folder(job.pk)
    claimed = base.with_name(f"{base.name}.releasing")
    try:
        os.rename(base, claimed)
    except OSError:  # nothing held, or another release holds the claim
        raise ReleaseRefused("this job holds no file for review (or another release of it "
                             "is under way)") from None
    try:
        files = sorted(p for p in claimed.rglob("*.dcm") if p.is_file())
        if not files:
            raise ReleaseRefused("this job holds no file for review")
        send_to = job.params.get("send_to")  # as given: the job ran with them
        stage = secrets.token_hex(16) if send_to is not None else None
        _deliver(job, claimed, files, stage)
        _record(job, user, len(files))
        store = _send(job, send_to, stage, len(files)) if stage is not None else None
        return Released(len(files), store)
    finally:
        left = [p for p in claimed.rglob("*.dcm") if p.is_file()] if claimed.is_dir() else []
        if left and not base.exists():
            os.rename(claimed, base)
        else:
            shutil.rmtree(claimed, ignore_errors=True)


def _deliver(job: Job, base: Path, files: list[Path], stage: str | None) -> None:
    output = job.params.get("output")
    if output == OutputKind.ARCHIVE:
        deliver = _into_archive(job)
    elif output == OutputKind.FOLDER:
        deliver = _into_folder(Path(str(job.params.get("folder") or "")), base)
    else:
        _into_zip(job, base, files, stage)
        return
    for path in files:
        staged = _stage(base, path, stage)
        try:
            deliver(path)
        except BaseException:
            if staged is not None:
                staged.unlink(missing_ok=True)
            raise
        path.unlink(missing_ok=True)  # delivered: it no longer waits for review


def _stage(base: Path, path: Path, stage: str | None) -> Path | None:
    if stage is None:
        return None
    target = upload_root() / stage / path.relative_to(base)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return target


def _send(job: Job, send_to: int, stage: str, count: int) -> Job | None:
    try:
        return send_released(job, send_to, stage)
    except (ParamsInvalid, RoleMissing, OutputRefused) as exc:
        shutil.rmtree(upload_root() / stage, ignore_errors=True)
        raise ReleaseRefused(f"{count} file(s) released, but not sent: {exc}") from exc


def _into_archive(job: Job) -> Callable[[Path], None]:
    cache = IndexCache()

    def deliver(path: Path) -> None:
        try:
            store_file(path, source=InstanceSource.DEIDENTIFIED, cache=cache, job=job,
                       source_detail=f"job {job.pk}: released after review",
                       policy=DuplicatePolicy.KEEP_FIRST)
        except FileRejected as exc:
            raise ReleaseRefused(f"the archive refused a held file: {exc}") from exc
    return deliver


def _into_folder(folder: Path, base: Path) -> Callable[[Path], None]:
    if not is_under(folder.resolve(), export_roots()):
        raise ReleaseRefused(f"{folder} is no longer under an export root")

    def deliver(path: Path) -> None:
        relative = path.relative_to(base)
        copy = path.with_name(f".{path.name}.release")  # place() moves what it is given
        shutil.copyfile(path, copy)
        try:
            place(OutputFile(copy, str(relative)), folder, relative)
        except OutputRefused:
            copy.unlink(missing_ok=True)
            raise ReleaseRefused("the export folder already holds a released file, or "
                                 "cannot be written") from None
    return deliver


def _into_zip(job: Job, base: Path, files: list[Path], stage: str | None) -> None:
    """The job's ZIP written again with the held files added, then put in place at once (a
    download streaming the old one keeps reading it)."""
    target = zip_path(job.pk)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.release")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        present: set[str] = set()
        if target.is_file():
            with zipfile.ZipFile(target) as old:
                for info in old.infolist():
                    with old.open(info) as member, archive.open(info.filename, "w") as copy:
                        shutil.copyfileobj(member, copy)
                    present.add(info.filename)
        for path in files:
            name = str(path.relative_to(base))
            if name not in present:
                archive.write(path, name)
    for path in files:
        _stage(base, path, stage)
    os.replace(partial, target)
    for path in files:
        path.unlink(missing_ok=True)


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
