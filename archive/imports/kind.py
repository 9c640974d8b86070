"""The ``import`` job kind: files from a server path or a browser upload into the archive."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from archive.imports.params import allowed_path, staged_upload
from archive.imports.roots import import_roots
from archive.imports.sources import count_candidates, iter_candidates
from archive.imports.uploads import remove_staged_upload, staged_upload_dir
from archive.indexing import IndexCache, StoreOutcome, store_file
from archive.media.importing import existing_medium, medium_files
from archive.models import DuplicatePolicy, InstanceSource
from archive.reading import FileRejected
from netjobs.jobs.base import JobContext, JobFailed, JobKind, JobOutcome
from netjobs.models import ItemOutcome, JobItem, JobStatus, LogLevel


class ImportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(default=None, description="Server path under an import root")
    upload: str | None = Field(default=None, description="ID of a staged browser upload")
    medium: int | None = Field(default=None, description="Or a medium the console built (ID)")
    duplicates: DuplicatePolicy = Field(
        default=DuplicatePolicy.KEEP_FIRST, description="What to do with a known SOP Instance UID"
    )

    _check_path = field_validator("path")(allowed_path)
    _check_upload = field_validator("upload")(staged_upload)
    _check_medium = field_validator("medium")(existing_medium)

    @model_validator(mode="after")
    def _one_source(self) -> ImportParams:
        if sum(value is not None for value in (self.path, self.upload, self.medium)) != 1:
            raise ValueError("give a server path, an upload or a medium: one of them")
        return self


def describe(params: ImportParams) -> str:
    if params.path:
        return f"Import from {params.path}"
    if params.medium is not None:
        return f"Import of medium {params.medium}"
    return f"Import of browser upload {params.upload}"


def run(ctx: JobContext, params: ImportParams) -> JobOutcome:
    if params.medium is not None:
        with medium_files(params.medium, ctx.job.pk) as (root, roots):
            return _import(ctx, root, roots, InstanceSource.PATH_IMPORT, params.duplicates)
    if params.upload:
        folder = staged_upload_dir(params.upload)
        if folder is None:
            raise JobFailed("The uploaded files are gone.")
        root, roots, source = folder, [folder.resolve()], InstanceSource.UPLOAD
    else:
        root, roots, source = Path(params.path or ""), import_roots(), InstanceSource.PATH_IMPORT
    try:
        return _import(ctx, root, roots, source, params.duplicates)
    finally:
        remove_staged_upload(params.upload)


def _import(
    ctx: JobContext, root: Path, roots: list[Path], source: InstanceSource,
    policy: DuplicatePolicy,
) -> JobOutcome:
    total = count_candidates(root, roots)
    ctx.set_progress(0, total)
    ctx.log(f"{total} file(s) to read under {root}; duplicates: {policy.label.lower()}.")
    counts = {"stored": 0, "replaced": 0, "duplicates": 0, "rejected": 0, "failed": 0}
    items: list[JobItem] = []
    cache = IndexCache()
    done = 0
    for candidate in iter_candidates(root, roots):
        ctx.check_cancelled()
        done += 1
        if candidate.path is None:
            counts["rejected"] += 1
            items.append(_item(ctx, candidate.name, ItemOutcome.SKIPPED, candidate.problem))
        else:
            try:
                result = store_file(
                    candidate.path, source=source, source_detail=candidate.name,
                    policy=policy, job=ctx.job, cache=cache,
                )
            except FileRejected as exc:
                counts["rejected"] += 1
                items.append(_item(ctx, candidate.name, ItemOutcome.FAILED, str(exc)))
            except OSError as exc:
                counts["failed"] += 1
                items.append(_item(ctx, candidate.name, ItemOutcome.FAILED,
                                   f"could not be written to the archive: {exc}"))
            else:
                key = {
                    StoreOutcome.STORED: "stored",
                    StoreOutcome.REPLACED: "replaced",
                    StoreOutcome.DUPLICATE_KEPT: "duplicates",
                }[result.outcome]
                counts[key] += 1
                outcome = ItemOutcome.WARNING if result.warnings else ItemOutcome.SUCCEEDED
                message = "; ".join([result.message, *result.warnings])
                items.append(_item(ctx, candidate.name, outcome, message,
                                   result.instance.sop_instance_uid))
        if len(items) >= 50 or done == total:
            _flush(ctx, items, counts, done)
    _flush(ctx, items, counts, done)
    return _outcome(ctx, counts, done)


def _item(ctx: JobContext, name: str, outcome: ItemOutcome, message: str, uid: str = "") -> JobItem:
    return JobItem(job=ctx.job, name=name[:512], outcome=outcome, message=message[:4000],
                   sop_instance_uid=uid)


def _flush(ctx: JobContext, items: list[JobItem], counts: dict[str, int], done: int) -> None:
    if items:
        JobItem.objects.bulk_create(items)
        items.clear()
    ctx.job.counters = dict(counts)
    ctx.set_progress(done)
    type(ctx.job).objects.filter(pk=ctx.job.pk).update(counters=counts)


def _outcome(ctx: JobContext, counts: dict[str, int], done: int) -> JobOutcome:
    archived = counts["stored"] + counts["replaced"] + counts["duplicates"]
    problems = counts["rejected"] + counts["failed"]
    summary = f"{archived} archived ({counts['stored']} new, {counts['replaced']} replaced, " \
              f"{counts['duplicates']} already there), {problems} not archived."
    ctx.log(summary, LogLevel.WARNING if problems else LogLevel.INFO)
    result = {"files": done, **counts}
    if done == 0:
        return JobOutcome(JobStatus.FAILED, result, error="No file found to import.")
    if problems and not archived:
        return JobOutcome(JobStatus.FAILED, result, error=f"No file could be archived. {summary}")
    if problems:
        return JobOutcome(JobStatus.PARTIAL, result, error=summary)
    return JobOutcome(JobStatus.SUCCEEDED, result)


IMPORT_KIND: JobKind[ImportParams] = JobKind(
    name="import",
    label="Import into the archive",
    params_schema=ImportParams,
    run=run,
    describe=describe,
)

__all__ = ["IMPORT_KIND", "ImportParams"]
