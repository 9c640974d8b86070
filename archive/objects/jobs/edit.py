"""The ``edit`` run. In the archive every file of the set is edited into a staging folder
first; only when all of them are, the edited files go into the index one by one, the
originals kept (an original whose row an edited file takes has its file linked aside).
Only when every edited file is in do the originals go and the before/after records get
written. Should the archive refuse one partway (a full disk), the ones already stored are
taken out again and the originals put back (``reindex.roll_back``): a failed edit loses
nothing, and the job says so. Files from a server path or an upload are edited one by one
into a ZIP or a folder."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass
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
from archive.objects.jobs.reindex import (
    IndexSnapshot,
    StoredVersion,
    keep_aside,
    retire_instance,
    roll_back,
    tidy,
)
from archive.reading import FileRejected, IndexKeys, read_index_keys
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
@dataclass(frozen=True)
class Staged:
    """A file of the set edited in the staging folder, with what changed and the keys the
    index will file it under."""

    item: WorkItem
    path: Path
    applied: list[AppliedChange]
    keys: IndexKeys

    @property
    def replaces_row(self) -> bool:
        """Its store replaces the original's row (and file): the SOP Instance UID stays."""
        return self.item.instance is not None and \
            self.keys.sop_instance_uid == self.item.sop_instance_uid


@dataclass(frozen=True)
class Stored:
    """A staged file the archive took."""

    staged: Staged
    instance: Instance  # the edited file's row
    version: StoredVersion


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
    snapshot = IndexSnapshot.take([i.instance for i in items if i.instance is not None],
                                  [s.keys for s in staged if s.applied])
    touched = {row["study_id"] for row in snapshot.series.values()}
    patients = {row["patient_id"] for row in snapshot.studies.values()}
    try:
        stored = _store_all(ctx, staged, snapshot, touched, patients)
        _settle(job, staged, stored, params.originals == Originals.KEEP)
    finally:
        tidy(touched, patients)


def _store_all(ctx: JobContext, staged: list[Staged], snapshot: IndexSnapshot,
               touched: set[int], patients: set[int]) -> list[Stored]:
    """Every edited file into the index, the originals left (or kept aside) as they are;
    on a failure the stored ones are rolled back and JobFailed says so. ``touched`` and
    ``patients`` gain the studies and patients the stored files went to."""
    job, cache = ctx.job, IndexCache()
    aside = work_folder(job.pk) / "originals"
    stored: list[Stored] = []
    for number, one in enumerate(staged, start=1):
        ctx.set_progress(number)
        if not one.applied:  # the values were already as asked: the file stays as it is
            continue
        try:
            stored.append(_store(job, one, cache, aside / f"{number:06d}.dcm"))
            study = stored[-1].instance.series.study
            touched.add(study.pk)
            patients.add(study.patient_id)
        except Exception as exc:
            problems = roll_back(snapshot, [s.version for s in stored])
            _stop_partway(job, staged, one, exc, len(stored), problems)
            if not isinstance(exc, FileRejected | OSError):
                raise
            raise JobFailed(
                f"The archive did not take the edited {one.item.name} ({exc}): nothing "
                f"changed, the {len(stored)} edited file(s) already stored were taken out "
                "again and every original is in place" + (
                    f" except {len(problems)} (see the items)" if problems else "")
                + ".") from None
    return stored


def _store(job: Job, one: Staged, cache: IndexCache, aside: Path) -> Stored:
    """The edited file into the index, in its original's row when the SOP Instance UID
    stayed (the original's file linked aside first), else beside it."""
    item = one.item
    kept = keep_aside(item.instance, aside.parent, aside.name) if (
        one.replaces_row and item.instance is not None) else None
    try:
        result = store_file(one.path, source=InstanceSource.EDIT,
                            source_detail=f"job {job.pk}: edit of {item.name}",
                            policy=DuplicatePolicy.REPLACE, cache=cache, job=job)
    except BaseException:
        if kept is not None:
            kept.unlink(missing_ok=True)
        raise
    new = result.instance
    return Stored(one, new, StoredVersion(new.pk, new.file_path, item.instance, kept))


def _settle(job: Job, staged: list[Staged], stored: list[Stored], keep: bool) -> None:
    """Every edited file is in: the originals go (or stay, linked), and each instance gets
    its before/after record."""
    by_item = {id(s.staged): s for s in stored}
    for one in staged:
        item, done = one.item, by_item.get(id(one))
        if done is None:
            JobItem.objects.create(job=job, name=item.name[:512], outcome=ItemOutcome.SUCCEEDED,
                                   message=described([]), sop_instance_uid=item.sop_instance_uid)
            continue
        new = done.instance
        if new.pk != item.instance and item.instance is not None:
            if keep:
                Instance.objects.filter(pk=new.pk).update(derived_from_id=item.instance)
            else:
                retire_instance(item.instance, new.pk)
        AttributeEdit.objects.create(
            job=job, user=job.owner, username=job.owner.get_username() if job.owner else "",
            instance_id=new.pk, study_id=new.series.study_id,
            sop_instance_uid_before=item.sop_instance_uid,
            sop_instance_uid_after=new.sop_instance_uid, originals_kept=keep,
            changes=[asdict(change) for change in one.applied])
        JobItem.objects.create(job=job, name=item.name[:512], outcome=ItemOutcome.SUCCEEDED,
                               message=described(one.applied),
                               sop_instance_uid=new.sop_instance_uid,
                               input_bytes=item.size or None, output_bytes=new.file_size)


def _stop_partway(job: Job, staged: list[Staged], failed: Staged, exc: Exception,
                  rolled_back: int, problems: dict[int, str]) -> None:
    """The items of a store that failed partway: the one the archive refused, and the
    others, each unchanged (those already stored, taken out again)."""
    position = staged.index(failed)
    rows = []
    for number, one in enumerate(staged):
        if one is failed:
            outcome, message = ItemOutcome.FAILED, (
                f"edited, but the archive did not take it: {exc}; the original is unchanged")
        elif number < position and one.item.instance in problems:
            outcome, message = ItemOutcome.FAILED, (
                f"stored, then not rolled back: {problems[one.item.instance or 0]}")
        elif number < position and one.applied:
            outcome, message = ItemOutcome.SKIPPED, (
                "rolled back: stored, then taken out again because a later file of the set "
                "failed; the original is in place")
        else:
            outcome, message = ItemOutcome.SKIPPED, (
                "not applied: the edit stopped at another file of the set; unchanged")
        rows.append(JobItem(job=job, name=one.item.name[:512], outcome=outcome,
                            sop_instance_uid=one.item.sop_instance_uid, message=message[:4000]))
    JobItem.objects.bulk_create(rows)
    logger.warning("job %s: store failed partway (%s); %d stored file(s) rolled back",
                   job.pk, exc, rolled_back)


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
            keys = read_index_keys(destination).keys
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
        uid = keys.sop_instance_uid
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
        staged.append(Staged(item, destination, applied, keys))
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
