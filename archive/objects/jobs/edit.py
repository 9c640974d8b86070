"""The ``edit`` run. In the archive every file of the set is edited into a staging folder
first; only when all of them are, the edited files take their originals' places in the
index one by one (each original's file goes once its edited file is in), each with its
before/after record. Should the archive refuse one then (a full disk), the edit stops
there and the job says which files are edited and which are unchanged.
Files from a server path or an upload are edited one by one into a ZIP or a folder."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from archive.conversions.jobs.outputs import Sink, staged_files, work_folder
from archive.conversions.jobs.run import Conversion, convert_item, summarise
from archive.conversions.jobs.sources import WorkItem, archived_instances, work_items
from archive.conversions.outcome import ConversionFailed, FileConversion, OutputFile
from archive.imports.uploads import remove_staged_upload
from archive.indexing import IndexCache, store_file
from archive.models import AttributeEdit, DuplicatePolicy, Instance, InstanceSource
from archive.objects.edit import (
    AppliedChange,
    AttributeChange,
    EditRefused,
    UidMap,
    changes_from_dcmodify,
    changes_from_form,
    changes_from_json,
    changes_from_xml,
    edit_file,
)
from archive.objects.jobs.params import ChangeSource, EditParams, Originals, UidPolicy
from archive.objects.jobs.reindex import retire_instance, tidy
from archive.reading import FileRejected, read_index_keys
from archive.storage import absolute_path
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import ItemOutcome, Job, JobItem

logger = logging.getLogger(__name__)
SHOWN_NAMES = 6  # attribute names in an item's message


def parse_changes(params: EditParams) -> list[AttributeChange]:
    """The changes as the parameters give them; EditRefused with the reason."""
    source = params.change_source
    if source == ChangeSource.FORM:
        return changes_from_form([row.model_dump() for row in params.changes])
    text = params.change_text()
    if source == ChangeSource.DCMODIFY:
        return changes_from_dcmodify(text)
    if source == ChangeSource.XML:
        return changes_from_xml(text.encode())
    return changes_from_json(text.encode())


def first_dataset(params: EditParams) -> Dataset | None:
    """The first archived instance of the set, read (pixel data left on disk)."""
    first = archived_instances(params).order_by("pk").values_list("file_path", flat=True).first()
    if first is None:
        return None
    try:
        return dcmread(absolute_path(first), defer_size=4096)
    except (OSError, InvalidDicomError, ValueError):
        return None  # that file fails when the job edits it, with the reason


def uid_map_for(items: list[WorkItem]) -> UidMap:
    """New UIDs for the set: every study, series and SOP instance of its files."""
    datasets = []
    for item in items:
        try:
            datasets.append(dcmread(item.path, stop_before_pixels=True, specific_tags=[
                "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"]))
        except (OSError, InvalidDicomError, ValueError):
            continue  # this file fails when it is edited, with the reason
    return UidMap.from_datasets(datasets)


def described(applied: list[AppliedChange]) -> str:
    if not applied:
        return "nothing changed (the values were already as asked)"
    names = list(dict.fromkeys(change.keyword or change.tag for change in applied))
    shown = ", ".join(names[:SHOWN_NAMES]) + (f" and {len(names) - SHOWN_NAMES} more"
                                              if len(names) > SHOWN_NAMES else "")
    return f"{len(applied)} change(s): {shown}"


def run_edit(ctx: JobContext, params: EditParams) -> JobOutcome:
    try:
        changes = parse_changes(params)
    except EditRefused as exc:
        raise JobFailed(f"The changes cannot be applied: {exc}") from None
    items = work_items(params)
    if not items:
        remove_staged_upload(params.upload)
        raise JobFailed("Nothing to edit: the selection is empty or the files are gone.")
    uid_map = uid_map_for(items) if params.uids == UidPolicy.NEW else None
    ctx.set_progress(0, len(items))
    started = time.monotonic()
    try:
        if params.from_archive and params.output.value == "archive":
            _edit_in_archive(ctx, params, items, changes, uid_map)
            counts = {"outputs": len(items)}
        else:
            counts = _edit_copies(ctx, params, items, changes, uid_map)
    finally:
        if not ctx.job.items.filter(outcome=ItemOutcome.FAILED).exists():
            remove_staged_upload(params.upload)
        shutil.rmtree(work_folder(ctx.job.pk), ignore_errors=True)
        shutil.rmtree(staged_files(ctx.job.pk), ignore_errors=True)
    return summarise(ctx, counts, time.monotonic() - started, verb="edited")


# into a ZIP or a folder: file by file -----------------------------------------------------
def _edit_copies(ctx: JobContext, params: EditParams, items: list[WorkItem],
                 changes: list[AttributeChange], uid_map: UidMap | None) -> dict[str, int]:
    def edit(source: Path, out_dir: Path, _params: EditParams) -> FileConversion:
        destination = out_dir / source.name
        try:
            applied = edit_file(source, destination, changes, uid_map)
        except EditRefused as exc:
            raise ConversionFailed(str(exc)) from None
        except (InvalidDicomError, ValueError) as exc:
            raise ConversionFailed(f"not a readable DICOM file: {exc}") from None
        uid = str(dcmread(destination, stop_before_pixels=True,
                          specific_tags=["SOPInstanceUID"]).get("SOPInstanceUID", ""))
        return FileConversion(outputs=[OutputFile(destination, source.name, uid)],
                              input_bytes=source.stat().st_size, message=described(applied))

    sink = Sink(ctx.job, params, InstanceSource.EDIT)
    conversion: Conversion[EditParams] = Conversion(edit)
    for number, item in enumerate(items, start=1):
        ctx.check_cancelled()
        convert_item(ctx.job, item, conversion, params, sink).item.save()
        ctx.set_progress(number)
    archive = sink.finish()
    if archive is not None:
        ctx.log(f"ZIP of the edited files: {archive.stat().st_size} bytes.")
    return {"outputs": len(items)}


# in the archive: all or nothing -------------------------------------------------------------
Staged = tuple[WorkItem, Path, list[AppliedChange], str]  # item, edited file, changes, new UID


def _edit_in_archive(ctx: JobContext, params: EditParams, items: list[WorkItem],
                     changes: list[AttributeChange], uid_map: UidMap | None) -> None:
    job = ctx.job
    staged, failures = _stage(ctx, items, changes, uid_map)
    if failures:
        _record_refusal(job, items, failures)
        first_name, first_reason = failures[0]
        raise JobFailed(f"Nothing changed: {len(failures)} of {len(items)} file(s) could not "
                        f"be edited (first: {first_name}: {first_reason}).")
    ctx.log(f"All {len(staged)} file(s) edited in the staging folder; the archive follows.")
    before = dict(Instance.objects.filter(pk__in=[i.instance for i in items]).values_list(
        "pk", "series__study_id"))
    patients = set(Instance.objects.filter(pk__in=before).values_list(
        "series__study__patient_id", flat=True))
    cache, touched = IndexCache(), set(before.values())
    keep = params.originals == Originals.KEEP
    try:
        for number, (item, path, applied, _uid) in enumerate(staged, start=1):
            ctx.set_progress(number)
            if not applied:  # the values were already as asked: the file stays as it is
                JobItem.objects.create(job=job, name=item.name[:512],
                                       outcome=ItemOutcome.SUCCEEDED, message=described([]),
                                       sop_instance_uid=item.sop_instance_uid)
                continue
            try:
                study_id = _store(job, item, path, applied, cache, keep)
            except (FileRejected, OSError) as exc:
                _stop_partway(job, item, exc, staged[number:])
                raise JobFailed(
                    f"The archive did not take the edited {item.name} ({exc}): {number - 1} "
                    f"file(s) before it are edited, it and the {len(staged) - number} after "
                    "it are unchanged; retry failed only edits those.") from None
            touched.add(study_id)
    finally:
        tidy(touched, patients)


def _stop_partway(job: Job, item: WorkItem, exc: Exception, rest: list[Staged]) -> None:
    JobItem.objects.create(job=job, name=item.name[:512], outcome=ItemOutcome.FAILED,
                           sop_instance_uid=item.sop_instance_uid,
                           message=f"edited, but the archive did not take it: {exc}; the "
                                   "original is unchanged")
    JobItem.objects.bulk_create([
        JobItem(job=job, name=other.name[:512], outcome=ItemOutcome.SKIPPED,
                sop_instance_uid=other.sop_instance_uid,
                message="not applied: the edit stopped at an earlier file; unchanged")
        for other, *_ in rest])


def _store(job: Job, item: WorkItem, path: Path, applied: list[AppliedChange],
           cache: IndexCache, keep: bool) -> int:
    """The edited file into the index in its original's place (or beside it), with its
    before/after record; returns the study it is in now."""
    result = store_file(path, source=InstanceSource.EDIT,
                        source_detail=f"job {job.pk}: edit of {item.name}",
                        policy=DuplicatePolicy.REPLACE, cache=cache, job=job)
    new = result.instance
    if new.pk != item.instance:
        if keep:
            Instance.objects.filter(pk=new.pk).update(derived_from_id=item.instance)
        elif item.instance is not None:
            retire_instance(item.instance, new.pk)
    study_id = new.series.study_id
    AttributeEdit.objects.create(
        job=job, user=job.owner, username=job.owner.get_username() if job.owner else "",
        instance_id=new.pk, study_id=study_id, sop_instance_uid_before=item.sop_instance_uid,
        sop_instance_uid_after=new.sop_instance_uid, originals_kept=keep,
        changes=[asdict(change) for change in applied])
    JobItem.objects.create(job=job, name=item.name[:512], outcome=ItemOutcome.SUCCEEDED,
                           message=described(applied), sop_instance_uid=new.sop_instance_uid,
                           input_bytes=item.size or None, output_bytes=new.file_size)
    return study_id


def _stage(ctx: JobContext, items: list[WorkItem], changes: list[AttributeChange],
           uid_map: UidMap | None) -> tuple[list[Staged], list[tuple[str, str]]]:
    folder = work_folder(ctx.job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    set_uids = {item.sop_instance_uid for item in items}
    staged: list[Staged] = []
    failures: list[tuple[str, str]] = []
    taken: dict[str, str] = {}  # SOP Instance UID after the edit → the file that has it
    for number, item in enumerate(items, start=1):
        ctx.check_cancelled()
        destination = folder / f"{number:06d}.dcm"
        try:
            applied = edit_file(Path(item.path), destination, changes, uid_map)
            uid = read_index_keys(destination).keys.sop_instance_uid
        except EditRefused as exc:
            failures.append((item.name, str(exc)))
            continue
        except (OSError, InvalidDicomError, FileRejected, ValueError) as exc:
            failures.append((item.name, f"could not be read or written: {exc}"))
            continue
        except Exception as exc:  # an editor's bug: this file fails, with the reason
            logger.exception("job %s: editing %s crashed", ctx.job.pk, item.name)
            failures.append((item.name, f"internal error ({type(exc).__name__}: {exc})"))
            continue
        if uid in taken:
            failures.append((item.name, f"the edit gives it the SOP Instance UID {uid}, which "
                                        f"{taken[uid]} of the set has too: one UID is one "
                                        "instance"))
            continue
        if uid != item.sop_instance_uid and (uid in set_uids or Instance.objects.filter(
                sop_instance_uid=uid).exists()):
            failures.append((item.name, f"the new SOP Instance UID {uid} is another archived "
                                        "instance's: it would replace that one"))
            continue
        taken[uid] = item.name
        staged.append((item, destination, applied, uid))
        ctx.set_progress(number)
    return staged, failures


def _record_refusal(job: Job, items: list[WorkItem], failures: list[tuple[str, str]]) -> None:
    reasons = dict(failures)
    JobItem.objects.bulk_create([
        JobItem(job=job, name=item.name[:512], sop_instance_uid=item.sop_instance_uid,
                outcome=ItemOutcome.FAILED if item.name in reasons else ItemOutcome.SKIPPED,
                message=reasons.get(item.name, "not applied: another file of the set could "
                                               "not be edited, so the archive is unchanged")
                [:4000])
        for item in items])
