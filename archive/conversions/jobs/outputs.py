"""Where a conversion's outputs go: into the archive (linked to their source), into a ZIP
the job offers for download, or into a folder under an export root."""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from archive.conversions.jobs.params import ConversionParams, OutputKind
from archive.conversions.jobs.roots import export_roots
from archive.conversions.jobs.sources import WorkItem
from archive.conversions.outcome import FileConversion, OutputFile
from archive.imports.roots import is_under
from archive.indexing import IndexCache, StoreOutcome, store_file
from archive.models import DuplicatePolicy, Instance, InstanceSource
from archive.reading import FileRejected
from archive.storage import uid_component
from netjobs.models import Job, JobStatus


@dataclass
class Delivered:
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    sop_instance_uids: list[str] = field(default_factory=list)


def job_folder(job_id: int) -> Path:
    return Path(settings.CONVERSION_DIR) / f"job-{job_id}"


def zip_path(job_id: int) -> Path:
    return job_folder(job_id) / f"job-{job_id}.zip"


def staged_files(job_id: int) -> Path:
    return job_folder(job_id) / "files"


def work_folder(job_id: int) -> Path:
    return job_folder(job_id) / "work"


class Sink:
    """Delivers one source file's outputs; ``finish`` runs once, after every file."""

    def __init__(self, job: Job, params: ConversionParams,
                 source: InstanceSource = InstanceSource.CONVERSION) -> None:
        self.job = job
        self.job_id = job.pk
        self.params = params
        self.source = source  # what the archive records as where its instances came from
        self.cache = IndexCache()

    def deliver(self, item: WorkItem, conversion: FileConversion) -> Delivered:
        if self.params.output == OutputKind.ARCHIVE:
            return self._into_archive(item, conversion.outputs)
        if self.params.output == OutputKind.ZIP:
            base, where = staged_files(self.job_id), "for the ZIP"
        else:
            base = Path(self.params.folder or "")
            where = f"to {base}"
            if not is_under(base.resolve(), export_roots()):
                raise OutputRefused(f"{base} is no longer under an export root")
        folder = Path(item.folder)
        if len(conversion.outputs) > 1:  # a split, the frames of one file: a folder each
            folder = folder / source_stem(item)
        names = [place(output, base, folder / output.name) for output in conversion.outputs]
        shown = names[0] if len(names) == 1 else f"{len(names)} files in {folder}"
        return Delivered(f"written {where}: {shown}" if names else "",
                         sop_instance_uids=[o.sop_instance_uid for o in conversion.outputs
                                            if o.sop_instance_uid])

    def _into_archive(self, item: WorkItem, outputs: list[OutputFile]) -> Delivered:
        delivered = Delivered()
        stored = replaced = 0
        for output in outputs:
            same_instance = bool(item.instance) and output.sop_instance_uid == \
                item.sop_instance_uid
            try:
                result = store_file(
                    output.path, source=self.source,
                    source_detail=f"job {self.job_id}: {item.name}",
                    policy=DuplicatePolicy.REPLACE if same_instance else
                    DuplicatePolicy.KEEP_FIRST,
                    cache=self.cache, job=self.job,
                )
            except FileRejected as exc:
                raise OutputRefused(f"the archive refused the result: {exc}") from exc
            delivered.sop_instance_uids.append(result.instance.sop_instance_uid)
            if result.outcome == StoreOutcome.DUPLICATE_KEPT:
                delivered.warnings.append(
                    f"{result.instance.sop_instance_uid} was already in the archive: the "
                    "first copy is kept")
                continue
            if item.instance and result.instance.pk != item.instance:
                Instance.objects.filter(pk=result.instance.pk).update(derived_from=item.instance)
            replaced += result.outcome == StoreOutcome.REPLACED
            stored += result.outcome == StoreOutcome.STORED
        parts = ([f"{stored} new instance{'s' if stored != 1 else ''} archived"] if stored
                 else []) + (["replaced the archived copy"] if replaced else [])
        delivered.message = ", ".join(parts)
        return delivered

    def finish(self) -> Path | None:
        """Build the ZIP (output 'zip'); the staged files go once they are in it."""
        if self.params.output != OutputKind.ZIP:
            return None
        return build_zip(self.job_id)


class OutputRefused(Exception):
    """The destination did not take a result (the archive refused it)."""


def source_stem(item: WorkItem) -> str:
    """A folder name for one source's outputs: its SOP Instance UID or its file name."""
    if item.instance:
        return uid_component(item.sop_instance_uid)
    stem = Path(item.name).stem
    return stem if stem not in ("", ".", "..") else uid_component(item.name)


def place(output: OutputFile, base: Path, relative: Path) -> str:
    """Put ``output`` at ``base / relative``: never outside ``base`` (links included), never
    over a file that is there already (the file fails instead, with the reason)."""
    destination = base / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    parent = destination.parent.resolve()
    if not parent.is_relative_to(base.resolve()):
        raise OutputRefused(f"{relative} would be written outside {base}")
    target = parent / destination.name
    try:
        os.link(output.path, target)
    except FileExistsError:
        raise OutputRefused(f"{target} exists already: it is not overwritten (choose a new "
                            "folder)") from None
    except OSError:  # another file system: a copy beside it, linked into place
        temporary = parent / f".{destination.name}.{os.getpid()}.part"
        shutil.copyfile(output.path, temporary)
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise OutputRefused(f"{target} exists already: it is not overwritten") from None
        finally:
            temporary.unlink(missing_ok=True)
    output.path.unlink(missing_ok=True)
    return str(relative.name)


def build_zip(job_id: int) -> Path | None:
    files = staged_files(job_id)
    if not files.is_dir():
        return None
    target = zip_path(job_id)
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for path in sorted(p for p in files.rglob("*") if p.is_file()):
            archive.write(path, str(path.relative_to(files)))
    os.replace(partial, target)
    shutil.rmtree(files, ignore_errors=True)
    return target


def sweep_conversion_results() -> list[int]:
    """Remove the folders (ZIP results) of conversion jobs that finished more than
    CONVERSION_RETENTION_HOURS ago, or are gone from the history; returns their job IDs."""
    stale = stale_job_folders(Path(settings.CONVERSION_DIR))
    for path in stale.values():
        shutil.rmtree(path, ignore_errors=True)
    return list(stale)


def job_folders(root: Path) -> dict[int, Path]:
    """The ``job-<id>`` folders under ``root``, by job ID."""
    if not root.is_dir():
        return {}
    return {int(p.name[4:]): p for p in root.iterdir()
            if p.is_dir() and p.name.startswith("job-") and p.name[4:].isdigit()}


def stale_job_folders(root: Path) -> dict[int, Path]:
    """The ``job-<id>`` folders under ``root`` whose job finished more than
    CONVERSION_RETENTION_HOURS ago or is gone from the history, by job ID."""
    found = job_folders(root)
    if not found:
        return {}
    cutoff = timezone.now() - timedelta(hours=settings.CONVERSION_RETENTION_HOURS)
    keep = set(Job.objects.filter(pk__in=found).exclude(
        status__in=JobStatus.terminal(), finished_at__lt=cutoff).values_list("pk", flat=True))
    return {pk: path for pk, path in found.items() if pk not in keep}
