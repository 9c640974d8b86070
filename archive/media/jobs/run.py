"""The runs of the media kinds: load the job's sources, call the File-set functions of
``archive.media`` (build, update, delete, compact), record each file's outcome and the medium.

Nothing here holds a database transaction across the file work."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from archive.conversions.jobs.outputs import job_folder
from archive.conversions.jobs.sources import WorkItem, work_items
from archive.imports.uploads import remove_staged_upload
from archive.media.build import (
    BuildOptions,
    BuildReport,
    EditReport,
    FileOutcome,
    FileOutcomeKind,
    FileSetRefused,
    MediumSource,
    build_fileset,
    compact_fileset,
    delete_records,
    update_fileset,
)
from archive.media.iso import make_iso, zip_fileset
from archive.media.jobs.params import (
    CompactParams,
    DeleteParams,
    MkmediaParams,
    RecordChoices,
    UpdateParams,
    dicomdir_in,
)
from archive.media.models import Medium, MediumFormat
from archive.media.summary import summarise
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import ItemOutcome, Job, JobItem, JobStatus, LogLevel

ITEM_OUTCOMES = {FileOutcomeKind.ADDED: ItemOutcome.SUCCEEDED,
                 FileOutcomeKind.FIXED: ItemOutcome.WARNING,
                 FileOutcomeKind.SKIPPED: ItemOutcome.SKIPPED,
                 FileOutcomeKind.FAILED: ItemOutcome.FAILED}
PROGRESS_EVERY = 25  # files between progress updates (and cancel checks)


def staging_folder(job_id: int) -> Path:
    """Where a ZIP or ISO medium is laid out before it is packed."""
    return job_folder(job_id) / "medium"


def medium_file(job_id: int, medium: MediumFormat) -> Path:
    return job_folder(job_id) / f"job-{job_id}.{medium.value}"


def dicomdir_copy(job_id: int) -> Path:
    """A copy of a packed medium's DICOMDIR, so that its records can be shown."""
    return job_folder(job_id) / "DICOMDIR"


def _sources(items: Iterable[WorkItem]) -> tuple[list[MediumSource], list[JobItem]]:
    """The readable files as sources; the others as skipped items, with the reason."""
    sources: list[MediumSource] = []
    skipped: list[JobItem] = []
    for item in items:
        if item.problem:
            skipped.append(JobItem(name=item.name[:512], outcome=ItemOutcome.SKIPPED,
                                   message=item.problem[:4000],
                                   sop_instance_uid=item.sop_instance_uid))
        else:
            sources.append(MediumSource(Path(item.path), item.name))
    return sources, skipped


def _items(job: Job, outcomes: Iterable[FileOutcome], skipped: list[JobItem]) -> None:
    rows = [JobItem(job=job, name=o.name[:512], outcome=ITEM_OUTCOMES[o.kind],
                    message=(o.message + (f" → {'/'.join(o.file_id)}" if o.file_id else ""))
                    [:4000], sop_instance_uid=o.sop_instance_uid[:64],
                    input_bytes=o.input_bytes or None, output_bytes=o.output_bytes or None)
            for o in outcomes]
    for row in skipped:
        row.job = job
    JobItem.objects.bulk_create([*rows, *skipped], batch_size=1000)


def _progress(ctx: JobContext, total: int) -> Callable[[int], None]:
    def report(done: int) -> None:
        if done == total or done % PROGRESS_EVERY == 0:
            ctx.set_progress(done)
            ctx.check_cancelled()
    return report


def _options(params: RecordChoices, fileset_id: str = "", readme: bool = True) -> BuildOptions:
    return BuildOptions(fileset_id=fileset_id, profile=params.profile, invent=params.invent,
                        transcode=params.transcode, readme=readme)


def _tally(report: BuildReport, skipped: int) -> dict[str, int]:
    kinds = [o.kind for o in report.outcomes]
    return {"files": len(kinds) + skipped,
            "added": kinds.count(FileOutcomeKind.ADDED) + kinds.count(FileOutcomeKind.FIXED),
            "fixed": kinds.count(FileOutcomeKind.FIXED),
            "skipped": kinds.count(FileOutcomeKind.SKIPPED) + skipped,
            "failed": kinds.count(FileOutcomeKind.FAILED)}


def _outcome(ctx: JobContext, result: dict[str, Any], verb: str) -> JobOutcome:
    summary = (f"{result['added']} {verb}, {result['skipped']} skipped, {result['failed']} "
               f"failed of {result['files']} file(s)"
               + (f"; {result['fixed']} with invented keys" if result["fixed"] else "") + ".")
    ctx.log(summary, LogLevel.WARNING if result["failed"] else LogLevel.INFO)
    if result["failed"]:
        return JobOutcome(JobStatus.PARTIAL, result, error=summary)
    return JobOutcome(JobStatus.SUCCEEDED, result)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# mkmedia ------------------------------------------------------------------------------------
def run_mkmedia(ctx: JobContext, params: MkmediaParams) -> JobOutcome:
    job = ctx.job
    items = work_items(params)
    if not items:
        remove_staged_upload(params.upload)
        raise JobFailed("Nothing to put on the medium: the selection is empty or the files "
                        "are gone.")
    shutil.rmtree(job_folder(job.pk), ignore_errors=True)  # a rerun starts afresh
    folder = Path(params.folder) if params.medium == MediumFormat.FOLDER and params.folder \
        else staging_folder(job.pk)
    created = not folder.exists()
    sources, skipped = _sources(items)
    ctx.set_progress(0, len(items))
    fileset_id = params.fileset_id or f"CONSOLE{job.pk}"[:16]
    started = time.monotonic()
    try:
        report = build_fileset(folder, sources, _options(params, fileset_id, params.readme),
                               progress=_progress(ctx, len(sources)))
    except FileSetRefused as exc:
        raise JobFailed(str(exc)) from None
    except BaseException:
        _remove_medium(folder, created, params.medium)
        raise
    finally:
        remove_staged_upload(params.upload)
    _items(job, report.outcomes, skipped)
    result: dict[str, Any] = _tally(report, len(skipped))
    if not result["added"]:
        _remove_medium(folder, created, params.medium)
        raise JobFailed(f"Nothing went onto the medium: {result['failed']} file(s) failed, "
                        f"{result['skipped']} skipped (see the files below).")
    size = folder_size(folder)
    location = _pack(ctx, params, folder, fileset_id)
    medium = _record_medium(job, params, location, fileset_id, report, size)
    _check_capacity(ctx, params, size)
    result.update(medium=medium.pk, fileset_id=fileset_id, profile=params.profile.value,
                  size_bytes=size, dicomdir_bytes=report.dicomdir_bytes,
                  patients=medium.patients, studies=medium.studies, series=medium.series,
                  instances=medium.instances, location=location,
                  seconds=round(time.monotonic() - started, 3),
                  phases={name: round(s, 3) for name, s in report.seconds.items()})
    ctx.log(f"File-set {fileset_id}: {medium.instances} instance(s) of {medium.studies} "
            f"study(ies), {size} bytes; DICOMDIR {report.dicomdir_bytes} bytes.")
    return _outcome(ctx, result, "on the medium")


def _remove_medium(folder: Path, created: bool, medium: MediumFormat) -> None:
    """A failed or cancelled build leaves nothing half-made behind (an export folder only if
    the job made it)."""
    if medium != MediumFormat.FOLDER or created:
        shutil.rmtree(folder, ignore_errors=True)
    elif folder.is_dir():  # it was empty before: empty it again
        for entry in folder.iterdir():
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()


def _pack(ctx: JobContext, params: MkmediaParams, folder: Path, fileset_id: str) -> str:
    """The folder as it is, or packed into the job's ZIP or ISO image."""
    if params.medium == MediumFormat.FOLDER:
        return str(folder)
    target = medium_file(ctx.job.pk, params.medium)
    try:
        if params.medium == MediumFormat.ZIP:
            zip_fileset(folder, target)
        else:
            make_iso(folder, target, fileset_id or "DICOM")
        dicomdir = dicomdir_in(folder)
        if dicomdir is not None:
            shutil.copyfile(dicomdir, dicomdir_copy(ctx.job.pk))
    except FileSetRefused as exc:
        raise JobFailed(str(exc)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ctx.log(f"{params.medium.label}: {target.stat().st_size} bytes.")
    return str(target)


def _record_medium(job: Job, params: MkmediaParams, location: str, fileset_id: str,
                   report: BuildReport, size: int) -> Medium:
    contents = summarise(report.directory)
    return Medium.objects.create(
        job=job, last_job=job, format=params.medium, location=location, fileset_id=fileset_id,
        profile=params.profile.value, size_bytes=Path(location).stat().st_size
        if Path(location).is_file() else size, dicomdir_bytes=report.dicomdir_bytes,
        patients=contents.patients, studies=contents.studies, series=contents.series,
        instances=contents.instances, contents=contents.study_rows)


def _check_capacity(ctx: JobContext, params: MkmediaParams, size: int) -> None:
    capacity = params.profile.capacity_bytes
    if capacity is not None and size > capacity:
        ctx.log(f"The medium holds {size} bytes: more than a {params.profile.label} holds "
                f"({capacity} bytes). Split the selection over several media.",
                LogLevel.WARNING)


# changing a File-set under an export root -----------------------------------------------------
def _refresh_medium(job: Job, folder: Path, report: BuildReport | EditReport) -> None:
    """A console-built folder medium keeps its dashboard row in step with its DICOMDIR."""
    contents = summarise(report.directory)
    dicomdir = dicomdir_in(folder)
    Medium.objects.filter(format=MediumFormat.FOLDER, location=str(folder)).update(
        last_job=job, size_bytes=folder_size(folder),
        dicomdir_bytes=dicomdir.stat().st_size if dicomdir else 0,
        patients=contents.patients, studies=contents.studies, series=contents.series,
        instances=contents.instances, contents=contents.study_rows)


def run_update(ctx: JobContext, params: UpdateParams) -> JobOutcome:
    items = work_items(params)
    if not items:
        remove_staged_upload(params.upload)
        raise JobFailed("Nothing to add: the selection is empty or the files are gone.")
    folder = Path(params.fileset)
    sources, skipped = _sources(items)
    ctx.set_progress(0, len(items))
    try:
        report = update_fileset(folder, sources, _options(params),
                                progress=_progress(ctx, len(sources)))
    except FileSetRefused as exc:
        raise JobFailed(str(exc)) from None
    finally:
        remove_staged_upload(params.upload)
    _items(ctx.job, report.outcomes, skipped)
    _refresh_medium(ctx.job, folder, report)
    result: dict[str, Any] = dict(_tally(report, len(skipped)))
    result.update(dicomdir_bytes=report.dicomdir_bytes,
                  phases={name: round(s, 3) for name, s in report.seconds.items()})
    return _outcome(ctx, result, "added")


def _edited(ctx: JobContext, folder: Path, report: EditReport, verb: str) -> JobOutcome:
    for message in report.messages:
        ctx.log(message)
    _refresh_medium(ctx.job, folder, report)
    counts = report.directory.count()
    result = {"changed": report.changed, "removed_files": len(report.removed_files),
              "records": sum(counts.values())}
    if report.removed_files:
        JobItem.objects.bulk_create([JobItem(job=ctx.job, name=name[:512],
                                             outcome=ItemOutcome.SUCCEEDED,
                                             message="file removed") for name in
                                     report.removed_files], batch_size=1000)
    ctx.log(f"{report.changed} record(s) {verb}.")
    if not report.changed and verb == "marked inactive":
        return JobOutcome(JobStatus.FAILED, result,
                          error="No record matched: nothing was marked inactive.")
    return JobOutcome(JobStatus.SUCCEEDED, result)


def run_delete(ctx: JobContext, params: DeleteParams) -> JobOutcome:
    folder = Path(params.fileset)
    try:
        report = delete_records(folder, sop_instance_uids=params.sop_instance_uids,
                                series_uids=params.series_uids, study_uids=params.study_uids,
                                patient_ids=params.patient_ids)
    except FileSetRefused as exc:
        raise JobFailed(str(exc)) from None
    return _edited(ctx, folder, report, "marked inactive")


def run_compact(ctx: JobContext, params: CompactParams) -> JobOutcome:
    folder = Path(params.fileset)
    try:
        report = compact_fileset(folder, remove_files=params.remove_files)
    except FileSetRefused as exc:
        raise JobFailed(str(exc)) from None
    return _edited(ctx, folder, report, "removed")
