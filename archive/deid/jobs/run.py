"""The runs of ``deidentify`` and ``reidentify``: each file through the engine, checked for
what it leaves behind, then delivered like any conversion's output — or held back for review.

A de-identified file is released only when the PHI scan of the written file finds none of
the input's identifying values; a file that may show burned-in text waits in the job's review
folder. Nothing of a refused file is released.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from archive.conversions.jobs.outputs import Delivered, OutputRefused, Sink, place
from archive.conversions.jobs.params import ConversionParams
from archive.conversions.jobs.sources import WorkItem
from archive.conversions.outcome import ConversionFailed, FileConversion, OutputFile
from archive.deid.config import (
    DeidConfig,
    DeidRefused,
    Pseudonym,
    SafePrivate,
    derived_pseudonym,
)
from archive.deid.dumb import parse_rules
from archive.deid.engine import deidentify_file, read_source
from archive.deid.jobs.params import DeidentifyParams, ReidentifyParams, key_file
from archive.deid.keys import ReidentifyFailed
from archive.deid.method import METHOD_RECORD
from archive.deid.models import DeidProject, PseudonymOrigin
from archive.deid.models import Pseudonym as PseudonymRow
from archive.deid.phi import scan_file
from archive.deid.reversible import reidentify
from archive.imports.uploads import upload_root
from archive.models import InstanceSource
from archive.objects.edit.files import write_like_source
from archive.storage import uid_component
from netjobs.jobs.base import JobFailed
from netjobs.models import Job, JobLogEntry, LogLevel

logger = logging.getLogger(__name__)
HELD_BACK = "held_back"
HELD_MARK = "held back for review"  # in the item's message of a file held back
NEUTRAL_NAME = "de-identified"  # what the archive records as the source of an output
PSEUDONYM_ATTEMPTS = 5
PATIENT_ID_CHARS = 64


# the project's configuration -----------------------------------------------------------------
def parse_safe_private(text: str) -> tuple[SafePrivate, ...]:
    """The project's safe private list: one ``"CREATOR", gggg, xx`` per line."""
    found: list[SafePrivate] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip().strip('"') for part in line.rsplit(",", 2)]
        try:
            creator, group, element = parts[0], int(parts[1], 16), int(parts[2], 16)
        except (IndexError, ValueError):
            raise ValueError(f'line {number}: {line!r} is not "CREATOR", gggg, xx') from None
        if not creator or group % 2 == 0 or not 0 <= element <= 0xFF:
            raise ValueError(f"line {number}: {line!r} needs a creator, an odd group and an "
                             "element byte 00–FF")
        found.append(SafePrivate(creator, group, element))
    return tuple(found)


class MappingTable:
    """Pseudonyms from the project's mapping table; a patient it lacks gets one derived from
    the project key, written to the table (so every later delivery finds the same)."""

    def __init__(self, project: DeidProject) -> None:
        self.project = project
        self.known: dict[str, Pseudonym] = {}

    def __call__(self, patient_id: str, patient_name: str) -> Pseudonym:
        original = patient_id.strip()
        if not original:  # no ID to key a row on: one derived from the name, not kept
            return derived_pseudonym(self.project.key, self.project.pseudonym_prefix)(
                f"\x00{patient_name.strip()}", patient_name)
        if len(original) > PATIENT_ID_CHARS:
            raise DeidRefused(f"the Patient ID is longer than {PATIENT_ID_CHARS} characters "
                              "(LO): not a valid value, so no pseudonym row can hold it")
        if original not in self.known:
            self.known[original] = self._lookup(original, patient_name)
        return self.known[original]

    def _lookup(self, original: str, patient_name: str) -> Pseudonym:
        for attempt in range(PSEUDONYM_ATTEMPTS):
            row = PseudonymRow.objects.filter(project=self.project,
                                              original_patient_id=original).first()
            if row is not None:
                return Pseudonym(row.pseudonym_id, row.pseudonym_name)
            made = derived_pseudonym(self.project.key, self.project.pseudonym_prefix,
                                     attempt)(original, patient_name)
            try:
                with transaction.atomic():
                    PseudonymRow.objects.create(
                        project=self.project, original_patient_id=original,
                        original_patient_name=patient_name[:324],
                        pseudonym_id=made.patient_id, pseudonym_name=made.patient_name,
                        origin=PseudonymOrigin.GENERATED)
                return made
            except IntegrityError:  # another worker wrote it, or the pseudonym is taken
                continue
        raise DeidRefused(f"no free pseudonym for this patient after {PSEUDONYM_ATTEMPTS} "
                          "tries")


@dataclass(frozen=True)
class DeidRun:
    """What each file of one de-identify job is converted with, in one worker process."""

    params: DeidentifyParams
    config: DeidConfig


def bind_deidentify(job: Job, params: DeidentifyParams) -> DeidRun:
    """The job's configuration, read from its project now (a certificate, safe list or
    mapping table changed since an earlier job is seen), with its own pseudonym cache."""
    return DeidRun(params, deid_config(params))


def deid_config(params: DeidentifyParams) -> DeidConfig:
    project = DeidProject.objects.filter(name=params.project).first()
    if project is None:
        raise JobFailed(f"The project {params.project!r} no longer exists: nothing was "
                        "de-identified.")
    if params.dumb:
        return DeidConfig(dumb=parse_rules(params.empty, params.remove, params.replace),
                          hold_back_burned_in=params.hold_back)
    return DeidConfig(
        options=frozenset(params.options), project_key=project.key,
        safe_private=parse_safe_private(project.safe_private),
        certificate_pem=project.certificate_pem.encode() if params.reversible else None,
        pseudonym=MappingTable(project), hold_back_burned_in=params.hold_back)


# converting one file --------------------------------------------------------------------------
def deidentify_one(source: Path, out_dir: Path, run: DeidRun) -> FileConversion:
    config = run.config
    try:
        path, result = deidentify_file(source, out_dir, config)
    except DeidRefused as exc:
        raise ConversionFailed(str(exc)) from exc
    findings = [] if config.dumb is not None else scan_file(
        path, result.phi, retained_uids=result.retained_uids)
    if findings:
        path.unlink(missing_ok=True)
        shown = "; ".join(f"{f.value.source} at {f.where}" for f in findings[:3])  # no value
        raise ConversionFailed(f"not released: identifying values are still in the output "
                               f"({shown}{'…' if len(findings) > 3 else ''})")
    ds = result.dataset
    name = "/".join(uid_component(str(ds.get(k, "") or "unknown")) for k in (
        "StudyInstanceUID", "SeriesInstanceUID")) + f"/{uid_component(ds.SOPInstanceUID)}.dcm"
    output = OutputFile(path, name, str(ds.SOPInstanceUID))
    changed = sum(1 for change in result.changes if change.reason != METHOD_RECORD)
    message = f"{changed} attribute(s) changed"  # no patient: the job page is for Viewers
    conversion = FileConversion(outputs=[output], input_bytes=source.stat().st_size,
                                message=message, warnings=list(result.warnings))
    if result.held_back:
        conversion.metrics[HELD_BACK] = 1
        conversion.warnings.append(f"{HELD_MARK}: {result.held_back}")
    return conversion


def reidentify_one(source: Path, out_dir: Path, params: ReidentifyParams) -> FileConversion:
    key = key_file(params.private_key)
    if key is None:
        raise ConversionFailed("the private key of this job is gone: run it again with the key")
    try:
        ds, warnings = read_source(source)
        original = reidentify(ds, key.read_bytes())  # kept without its password
    except (DeidRefused, ReidentifyFailed) as exc:
        raise ConversionFailed(str(exc)) from exc
    sop = str(original.get("SOPInstanceUID", "") or "unknown")
    path = out_dir / f"{uid_component(sop)}.dcm"
    try:
        write_like_source(original, path)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConversionFailed(f"the re-identified data set cannot be written: {exc}") from exc
    return FileConversion(outputs=[OutputFile(path, path.name, sop)],
                          input_bytes=source.stat().st_size,
                          message="re-identified",
                          warnings=warnings)


# delivering -----------------------------------------------------------------------------------
def held_folder(job_id: int) -> Path:
    return Path(settings.VAR_DIR) / "deid-held" / f"job-{job_id}"


class DeidSink(Sink):
    """Outputs named by their new UIDs only (never the source's folder or file name), files
    to review kept apart, and a copy of each released file for the follow-up store job."""

    def __init__(self, job: Job, params: ConversionParams) -> None:
        super().__init__(job, params, InstanceSource.DEIDENTIFIED)
        self.send_to = getattr(params, "send_to", None)

    def deliver(self, item: WorkItem, conversion: FileConversion) -> Delivered:
        # the archive must not see the output as a conversion of its source: no link to it
        # (derived from), no replacing it (Retain UIDs keeps its UID), no name of it
        item = replace(item, folder="", instance=None, sop_instance_uid="", name=NEUTRAL_NAME)
        if conversion.metrics.get(HELD_BACK):
            base = held_folder(self.job_id)
            try:
                for output in conversion.outputs:
                    place(output, base, Path(output.name))
            except (OutputRefused, OSError):
                raise OutputRefused("the review folder already holds this de-identified "
                                    "instance, or cannot be written") from None
            return Delivered("kept for review")
        staged = self._stage_for_sending(conversion) if self.send_to is not None else []
        try:
            delivered = super().deliver(item, conversion)
        except (OutputRefused, OSError):  # not delivered: not sent either; no path named
            for path in staged:
                path.unlink(missing_ok=True)
            raise OutputRefused("the destination already holds this de-identified instance, "
                                "or cannot be written") from None
        except BaseException:
            for path in staged:
                path.unlink(missing_ok=True)
            raise
        # the job page (Viewers) names the source; it does not say what it became
        warnings = list(delivered.warnings)
        for uid in delivered.sop_instance_uids:
            warnings = [w.replace(uid, "the de-identified instance") for w in warnings]
        return Delivered(delivered.message.split(":")[0], warnings, [])

    def _stage_for_sending(self, conversion: FileConversion) -> list[Path]:
        stage, staged = self.send_stage(), []
        for output in conversion.outputs:
            target = stage / output.name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(output.path, target)
            except OSError:
                shutil.copyfile(output.path, target)
            staged.append(target)
        return staged

    def send_stage(self) -> Path:
        folder = upload_root() / stage_id(self.job_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def finish(self) -> Path | None:
        built = super().finish()
        if self.send_to is not None:
            send_released(self.job, self.send_to)
        return built


def stage_id(job_id: int) -> str:
    """The staged-upload ID of a job's files to send: 32 hex digits, fixed per job so that
    every worker process of the job adds to the same folder."""
    return f"de1d{job_id:028x}"


def held_files(job: Job) -> list[Path]:
    folder = held_folder(job.pk)
    return sorted(p for p in folder.rglob("*.dcm") if p.is_file()) if folder.is_dir() else []


def send_released(job: Job, ae_id: int, stage: str | None = None) -> Job | None:
    """Queue the store job that sends the released files of ``stage`` (the job's own staged
    upload by default; none when nothing was released)."""
    from netjobs.jobs.services import create_job

    stage = stage or stage_id(job.pk)
    folder = upload_root() / stage
    if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    if job.owner is None:
        raise OutputRefused("the job has no owner to send its files as")
    store = create_job("store", {"ae": ae_id, "upload": stage}, job.owner)
    JobLogEntry.objects.create(job=job, level=LogLevel.INFO,
                               message=f"Store job {store.pk} queued: it sends the released "
                                       "files.")
    return store


class ReidSink(Sink):
    def __init__(self, job: Job, params: ConversionParams) -> None:
        super().__init__(job, params, InstanceSource.REIDENTIFIED)

    def deliver(self, item: WorkItem, conversion: FileConversion) -> Delivered:
        delivered = super().deliver(replace(item, folder=""), conversion)
        return Delivered(delivered.message.split(":")[0], delivered.warnings, [])
