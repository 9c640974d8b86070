"""Running a store job: its parameters, what it sends, the per-instance results in batches,
and the outcome."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from django.db import connection
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from archive.imports.params import allowed_path, staged_upload
from archive.imports.uploads import remove_staged_upload, staged_upload_dir, upload_root
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import (
    ItemOutcome,
    Job,
    JobItem,
    JobStatus,
    LogLevel,
)
from netjobs.operations.common import (
    ae_label,
    calling_ae_title,
    local_ae_exists,
    remote_ae_exists,
    remote_or_fail,
)
from netjobs.operations.store.planning import plan, split
from netjobs.operations.store.sending import Decompress, SendResult, send_planned
from netjobs.operations.store.sources import SendItem, archive_items, folder_items

FLUSH_SECONDS = 0.5
logger = logging.getLogger(__name__)


class SendSource(BaseModel):
    """What a send job (store over DIMSE, stow over DICOMweb) sends: archive objects, a
    file or folder under an import root, or a staged upload."""

    model_config = ConfigDict(extra="forbid")

    studies: list[int] = Field(default_factory=list, description="Archive study IDs")
    series: list[int] = Field(default_factory=list, description="Archive series IDs")
    instances: list[int] = Field(default_factory=list, description="Archive instance IDs")
    path: str | None = Field(default=None, description="A file or folder under an import root")
    upload: str | None = Field(default=None, description="ID of a staged browser upload")
    only: list[str] = Field(default_factory=list,
                            description="Send only these items (SOP Instance UIDs or file "
                                        "names): what 'retry failed only' uses")

    _check_path = field_validator("path")(allowed_path)
    _check_upload = field_validator("upload")(staged_upload)

    @model_validator(mode="after")
    def _one_source(self) -> SendSource:
        sources = [bool(self.studies or self.series or self.instances), self.path is not None,
                   self.upload is not None]
        if sum(sources) != 1:
            raise ValueError("give one source: archive studies/series/instances, a server "
                             "path, or an upload")
        return self


class StoreParams(SendSource):
    ae: int = Field(description="ID of the remote AE to send to")
    calling_ae: int | None = Field(default=None, description="ID of the local AE to call from")
    decompress: Decompress = Field(
        default=Decompress.LOSSLESS,
        description="When the peer accepts only uncompressed syntaxes: never, lossless "
                    "(default) or lossy too (dcmsend --decompress-lossy)")
    associations: int = Field(default=1, ge=1, le=8, description="Parallel associations")

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)


def items_of(params: SendSource) -> list[SendItem]:
    """What the job sends; with ``only`` (retry failed only), just those items, and no other
    file's meta header is read."""
    wanted = set(params.only) if params.only else None
    if params.path is not None:
        items = list(folder_items(Path(params.path), only=wanted))
    elif params.upload is not None:
        folder = staged_upload_dir(params.upload)
        if folder is None:
            raise JobFailed(f"The upload {params.upload} is gone.")
        items = list(folder_items(folder, allowed=[upload_root()], only=wanted))
    else:
        items = archive_items(studies=params.studies, series=params.series,
                              instances=params.instances)
    if wanted is not None:
        items = [item for item in items if item.name in wanted]
    return items


class ItemLog:
    """Collects each instance's result from the sending threads; writes items, progress
    and counters in batches (a row per instance, but not a round trip per instance)."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.pending: list[SendResult] = []
        self.done = 0
        self.counts: dict[str, int] = {"instances": 0, "bytes": 0, "warnings": 0, "failed": 0,
                                       "not_sent": 0}
        self.last_flush = time.monotonic()

    def report(self, result: SendResult) -> None:
        with self.lock:
            self.pending.append(result)
            self.done += 1
            counts = self.counts
            if result.outcome in (ItemOutcome.SUCCEEDED, ItemOutcome.WARNING):
                counts["instances"] += 1
                counts["bytes"] += result.bytes_sent
            if result.outcome == ItemOutcome.WARNING:
                counts["warnings"] += 1
            elif result.outcome == ItemOutcome.FAILED:
                counts["failed"] += 1
            elif result.outcome == ItemOutcome.SKIPPED:
                counts["not_sent"] += 1
            due = time.monotonic() - self.last_flush >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
            done, counts = self.done, dict(self.counts)
            self.last_flush = time.monotonic()
        JobItem.objects.bulk_create(
            JobItem(job=self.ctx.job, name=r.item.name[:512], outcome=r.outcome,
                    message=r.message, status=r.status,
                    sop_instance_uid=r.item.sop_instance_uid[:64]) for r in batch)
        self.ctx.job.counters = counts
        Job.objects.filter(pk=self.ctx.job.pk).update(counters=counts, progress_done=done)


def run(ctx: JobContext, params: StoreParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    items = items_of(params)
    if not items:
        raise JobFailed("Nothing to send: the selection holds no instance.")
    log = ItemLog(ctx)
    ctx.set_progress(0, len(items))
    for item in items:
        if item.path is None:
            log.report(SendResult(item, ItemOutcome.FAILED, item.problem))
    sendable = [item for item in items if item.path is not None]
    groups = split(sendable, params.associations)
    plans = [plan(group) for group in groups]
    ctx.log(f"Sending {len(sendable)} instance(s) to {remote.ae_title} at {remote.host}:"
            f"{remote.port} as {calling} on {sum(len(p) for p in plans)} association(s)"
            f"{f', {len(groups)} at a time' if len(groups) > 1 else ''}.")

    def send_group(planned_group: list[Any]) -> None:
        try:
            for planned in planned_group:
                send_planned(remote, calling, planned, job=ctx.job,
                             decompress=params.decompress, cancel=ctx.cancel_event,
                             report=log.report)
        except Exception as exc:  # say so in the job, not only on the worker's stderr
            logger.exception("job %s: sending failed", ctx.job.pk)
            ctx.log(f"Sending stopped: {type(exc).__name__}: {exc}", LogLevel.ERROR)
        finally:
            if threading.current_thread() is not threading.main_thread() and len(plans) > 1:
                connection.close()

    try:
        if len(plans) == 1:
            send_group(plans[0])
        else:
            threads = [threading.Thread(target=send_group, args=(p,), daemon=True)
                       for p in plans]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        log.flush()
    outcome = outcome_of(log.counts, len(items), ctx.cancel_requested)
    if params.upload is not None and outcome.status == JobStatus.SUCCEEDED:
        remove_staged_upload(params.upload)  # kept otherwise, for "retry failed only"
    return outcome


def outcome_of(counts: dict[str, int], total: int, cancelled: bool) -> JobOutcome:
    sent = counts["instances"]
    result: dict[str, Any] = {"instances": total, "sent": sent, "warnings": counts["warnings"],
                              "failed": counts["failed"], "not_sent": counts["not_sent"],
                              "bytes": counts["bytes"]}
    if cancelled and sent + counts["failed"] < total:
        return JobOutcome(JobStatus.CANCELLED, result, "Cancelled by an operator; "
                          f"{sent} of {total} instance(s) were sent.")
    if sent == total:
        return JobOutcome(JobStatus.SUCCEEDED, result)
    error = f"{total - sent} of {total} instance(s) were not stored by the peer."
    return JobOutcome(JobStatus.PARTIAL if sent else JobStatus.FAILED, result, error)


def describe(params: StoreParams) -> str:
    target = ae_label(params.ae)
    if params.path:
        what = params.path
    elif params.upload:
        what = f"upload {params.upload}"
    else:
        parts = [f"{len(v)} {one if len(v) == 1 else many}"
                 for one, many, v in (("study", "studies", params.studies),
                                      ("series", "series", params.series),
                                      ("instance", "instances", params.instances)) if v]
        what = ", ".join(parts)
    only = f" ({len(params.only)} failed before)" if params.only else ""
    return f"C-STORE {what}{only} to {target}"


def retry_failed(job: Job) -> dict[str, Any] | None:
    names = list(job.items.exclude(outcome__in=[ItemOutcome.SUCCEEDED, ItemOutcome.WARNING])
                 .values_list("name", flat=True))
    return {**job.params, "only": names} if names else None
