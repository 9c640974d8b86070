"""The run of every conversion kind: its files shared out in batches (see ``share``), each
converted by the kind's plain function and delivered; a file that cannot be converted fails
alone, with the reason, and the rest go on."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Count, Sum

from archive.conversions.jobs.outputs import OutputRefused, Sink, staged_files, work_folder
from archive.conversions.jobs.params import ConversionParams
from archive.conversions.jobs.share import (
    WorkQueue,
    new_taker,
    publish_progress,
    stop_asked,
    wait_for_helpers,
    work_batches,
)
from archive.conversions.jobs.sources import WorkItem, work_items
from archive.conversions.outcome import ConversionFailed, ConversionSkipped, FileConversion
from archive.imports.uploads import remove_staged_upload
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import ItemOutcome, Job, JobItem, JobStatus, LogLevel

logger = logging.getLogger(__name__)

P = TypeVar("P", bound=ConversionParams)


@dataclass(frozen=True)
class Conversion(Generic[P]):
    """How a kind converts one file, and whether converting nothing is a failure."""

    convert: Callable[[Path, Path, P], FileConversion]
    nothing_is_failure: bool = True  # swap: a run where no file needed it succeeded
    sink: Callable[[Job, P], Sink] = Sink  # where the outputs go (de-identify: its own)
    # what ``convert`` gets instead of the parameters, made once per job in each process
    # that works on it (de-identify: its configuration, read afresh from the project)
    bind: Callable[[Job, P], Any] | None = None

    def bound(self, job: Job, params: P) -> Any:
        return params if self.bind is None else self.bind(job, params)


CONVERSIONS: dict[str, Conversion[Any]] = {}  # filled by the kinds module


@dataclass
class _Done:
    item: JobItem
    increments: dict[str, int]


def convert_item(job: Job, item: WorkItem, conversion: Conversion[Any], params: Any,
                 sink: Sink) -> _Done:
    """Convert and deliver one file; every failure ends as this file's item, never more."""
    counts = {"files": 1, "input_bytes": 0}  # bytes of what converted, as in the result
    if item.problem:
        return _Done(_item(job, item, ItemOutcome.SKIPPED, item.problem), counts | {
            "skipped": 1})
    folder = work_folder(job.pk) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    try:
        result = conversion.convert(Path(item.path), folder, params)
        output_bytes = result.output_bytes  # before delivery moves the outputs away
        delivered = sink.deliver(item, result)
    except ConversionSkipped as exc:
        return _Done(_item(job, item, ItemOutcome.SKIPPED, str(exc)), counts | {"skipped": 1})
    except (ConversionFailed, OutputRefused) as exc:
        return _Done(_item(job, item, ItemOutcome.FAILED, str(exc)), counts | {"failed": 1})
    except OSError as exc:
        return _Done(_item(job, item, ItemOutcome.FAILED,
                           f"could not be read or written: {exc}"), counts | {"failed": 1})
    except Exception as exc:  # a converter's bug: this file fails, the job goes on
        logger.exception("job %s: converting %s crashed", job.pk, item.name)
        return _Done(_item(job, item, ItemOutcome.FAILED,
                           f"internal error ({type(exc).__name__}: {exc})"),
                     counts | {"failed": 1})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    warnings = [*result.warnings, *delivered.warnings]
    message = "; ".join(part for part in (result.message, delivered.message, *warnings) if part)
    uids = delivered.sop_instance_uids
    done = _item(job, item, ItemOutcome.WARNING if warnings else ItemOutcome.SUCCEEDED, message,
                 uids[0] if len(uids) == 1 else "")
    done.input_bytes = result.input_bytes
    done.output_bytes = output_bytes
    counts["input_bytes"] = result.input_bytes
    return _Done(done, counts | {"converted": 1, "outputs": len(result.outputs),
                                 "output_bytes": output_bytes, "frames": result.frames})


def _item(job: Job, item: WorkItem, outcome: ItemOutcome, message: str,
          uid: str = "") -> JobItem:
    return JobItem(job=job, name=item.name[:512], outcome=outcome, message=message[:4000],
                   sop_instance_uid=uid or item.sop_instance_uid, input_bytes=item.size or None)


def handle_batch(job: Job, conversion: Conversion[Any], params: Any, sink: Sink,
                 queue: WorkQueue, by_helper: bool, batch: list[WorkItem]) -> None:
    """Convert a batch; its items are saved and counted together (few round trips)."""
    done = [convert_item(job, item, conversion, params, sink) for item in batch]
    JobItem.objects.bulk_create([d.item for d in done])
    totals: dict[str, int] = {"helper_batches": 1} if by_helper else {}
    for d in done:
        for name, amount in d.increments.items():
            totals[name] = totals.get(name, 0) + amount
    publish_progress(job.pk, queue.count(**totals))


def offer_helpers(job_id: int, batches: int) -> int:
    """Helper tasks for other free worker processes: at most one per batch beyond the first."""
    from netjobs.tasks import run_job_share_task

    helpers = max(0, min(settings.CONVERSION_HELPERS, batches - 1))
    for _ in range(helpers):
        run_job_share_task.delay(job_id)
    return helpers


CANCEL_WAIT_SECONDS = 60.0  # how long a cancelled job waits for helpers' files in progress


def _after(seconds: float) -> Callable[[], bool]:
    deadline = time.monotonic() + seconds
    return lambda: time.monotonic() > deadline


def run_conversion(ctx: JobContext, params: ConversionParams,
                   conversion: Conversion[Any]) -> JobOutcome:
    job = ctx.job
    items = work_items(params)
    if not items:
        remove_staged_upload(params.upload)
        raise JobFailed("No file to convert: the selection is empty or the files are gone.")
    ctx.set_progress(0, len(items))
    queue = WorkQueue(job.pk)
    sink = conversion.sink(job, params)
    started = time.monotonic()
    try:
        bound = conversion.bound(job, params)  # before any work is shared out
        batches = queue.fill(items, max(1, settings.CONVERSION_BATCH_FILES))
        helpers = offer_helpers(job.pk, batches)
        ctx.log(f"{len(items)} file(s) in {batches} batch(es); {helpers} helper task(s) "
                "offered to free worker processes.")
        handle = partial(handle_batch, job, conversion, bound, sink, queue, False)
        work_batches(queue, f"job-{job.pk}", handle, lambda: ctx.cancel_requested)
        wait_for_helpers(queue, handle, lambda: ctx.cancel_requested)
        if ctx.cancel_requested:
            queue.drop_waiting()
            wait_for_helpers(queue, lambda batch: None, _after(CANCEL_WAIT_SECONDS))
            ctx.check_cancelled()
        counts = queue.count()
        _record_lost(job, items)
        archive = sink.finish()
    finally:
        queue.clear()
        if not job.items.filter(outcome=ItemOutcome.FAILED).exists():
            remove_staged_upload(params.upload)  # else kept for "retry failed only"
        shutil.rmtree(work_folder(job.pk), ignore_errors=True)
        shutil.rmtree(staged_files(job.pk), ignore_errors=True)
    if archive is not None:
        ctx.log(f"ZIP of the results: {archive.stat().st_size} bytes.")
    return summarise(ctx, counts, time.monotonic() - started, conversion.nothing_is_failure)


LOST = ("not converted: the worker process that took it stopped before it was done "
        "(see the worker's log); retry failed only runs it again")


def _record_lost(job: Job, items: list[WorkItem]) -> int:
    """A file that no item records (its batch went with a helper that crashed) fails with
    the reason, rather than vanishing from a job that looks complete."""
    recorded = set(job.items.values_list("name", flat=True))
    lost = [item for item in items if item.name[:512] not in recorded]
    JobItem.objects.bulk_create([_item(job, item, ItemOutcome.FAILED, LOST) for item in lost])
    return len(lost)


def summarise(ctx: JobContext, counts: dict[str, int], seconds: float,
              nothing_is_failure: bool = True, verb: str = "converted") -> JobOutcome:
    """The job's outcome from its items: counts, sizes, rates; failed if nothing (or
    anything, with nothing done) went through."""
    job = ctx.job
    by_outcome = dict(job.items.values_list("outcome").annotate(n=Count("pk"))
                      .values_list("outcome", "n"))
    sums = job.items.exclude(outcome__in=[ItemOutcome.SKIPPED, ItemOutcome.FAILED]).aggregate(
        input_bytes=Sum("input_bytes"), output_bytes=Sum("output_bytes"))
    converted = by_outcome.get(ItemOutcome.SUCCEEDED, 0) + by_outcome.get(ItemOutcome.WARNING, 0)
    skipped, failed = by_outcome.get(ItemOutcome.SKIPPED, 0), by_outcome.get(ItemOutcome.FAILED, 0)
    files = converted + skipped + failed
    input_bytes, output_bytes = sums["input_bytes"] or 0, sums["output_bytes"] or 0
    result: dict[str, Any] = {
        "files": files, "converted": converted, "skipped": skipped, "failed": failed,
        "outputs": counts.get("outputs", 0), "frames": counts.get("frames", 0),
        "input_bytes": input_bytes, "output_bytes": output_bytes,
        "seconds": round(seconds, 3),
        "files_per_second": round(files / seconds, 2) if seconds > 0 else None,
        "mb_per_second": round(input_bytes / 1024**2 / seconds, 2) if seconds > 0 else None,
        "batches_by_helpers": counts.get("helper_batches", 0),
    }
    if output_bytes:
        result["compression_ratio"] = round(input_bytes / output_bytes, 2)
    summary = f"{converted} {verb}, {skipped} skipped, {failed} failed of {files} file(s)."
    ctx.log(summary, LogLevel.WARNING if failed else LogLevel.INFO)
    if failed and converted:
        return JobOutcome(JobStatus.PARTIAL, result, error=summary)
    if failed or (not converted and nothing_is_failure):
        return JobOutcome(JobStatus.FAILED, result, error=f"Nothing {verb}. {summary}"
                          if not converted else summary)
    return JobOutcome(JobStatus.SUCCEEDED, result)


def work_share(job_id: int) -> int:
    """A helper task's work: batches of a running conversion job, until none is left."""
    from netjobs.jobs.registry import get_kind

    close_old_connections()
    job = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).first()
    conversion = CONVERSIONS.get(job.kind) if job is not None else None
    if job is None or conversion is None:
        return 0
    params = get_kind(job.kind).validate(job.params)
    queue = WorkQueue(job.pk)
    handle = partial(handle_batch, job, conversion, conversion.bound(job, params),
                     conversion.sink(job, params), queue, True)
    return work_batches(queue, new_taker(), handle, lambda: stop_asked(job_id))
