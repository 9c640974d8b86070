"""The job kinds ``create`` (jpg2dcm, pdf2dcm, img2dcm, gdcmimg), ``extract`` (dcm2pdf)
and ``edit`` (dcmodify, xml2dcm): summaries, equivalent command lines, registration."""

from __future__ import annotations

import shlex
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from archive.conversions.jobs.kinds import (
    DOWNLOADS,
    destination,
    produced,
    quoted,
    retry_failed,
    source_files,
    what,
    where,
)
from archive.conversions.jobs.run import CONVERSIONS, Conversion, run_conversion
from archive.conversions.outcome import ConversionFailed, FileConversion
from archive.objects.common import Identity
from archive.objects.documents import DocumentKind, detect_document
from archive.objects.edit import EditRefused, NewUids, edit_command_lines
from archive.objects.extract import extract
from archive.objects.images import image_command_lines, image_format_of
from archive.objects.jobs.create import image_options, run_create
from archive.objects.jobs.edit import parse_changes, run_edit
from archive.objects.jobs.forms import CreateForm, EditForm, ExtractForm
from archive.objects.jobs.params import CreateParams, EditParams, ExtractParams, UidPolicy
from archive.objects.video import container_of
from netjobs.jobs.base import CommandLine, JobContext, JobKind, JobOutcome
from netjobs.models import ItemOutcome, Job


class ObjectKind(StrEnum):
    CREATE = "create"
    EXTRACT = "extract"
    EDIT = "edit"


# create -----------------------------------------------------------------------------------
def belongs_text(params: CreateParams) -> str:
    if params.attach_study is not None:
        return f"a new series of study {params.attach_study}"
    if params.attach_patient is not None:
        return f"a new study of patient {params.attach_patient}"
    who = params.patient_name or params.patient_id
    return f"a new study of {who}" if who else "a new patient and study"


def describe_create(params: CreateParams) -> str:
    frames = ", images as one multi-frame instance" if params.multi_frame else ""
    return f"Create DICOM objects from {what(params)} in {belongs_text(params)}{frames} " \
           f"{where(params)}"


def first_file(params: CreateParams) -> Path | None:
    files = source_files(params)
    folder = Path(files[0]) if files and not files[0].startswith("<") else None
    if folder is None or folder.is_file():
        return folder
    return next((p for p in sorted(folder.rglob("*")) if p.is_file()), None)


def create_command_lines(params: CreateParams) -> list[CommandLine]:
    """The peer tools' commands for the first file, by what it is."""
    source = first_file(params)
    if source is None:
        return []
    name, out = shlex.quote(str(source)), shlex.quote(destination(params) + "/object.dcm")
    with source.open("rb") as handle:  # the magic bytes, not ffprobe: a page shows these
        head = handle.read(512)
    if params.raw is not None or image_format_of(source) is not None:
        identity = Identity(attributes=Dataset(), series_instance_uid="")
        formats = [f for f in [image_format_of(source)] if f is not None]
        return [CommandLine(tool, command) for tool, command in image_command_lines(
            image_options(params, identity), [str(source)],
            destination(params) + "/object.dcm", formats)]
    if container_of(head) is not None:
        return [CommandLine("dcm4che", f"jpg2dcm {name} {out}")]
    try:
        kind = detect_document(source)
    except ConversionFailed:
        return []
    title = f" --title {shlex.quote(params.title)}" if params.title else ""
    lines = [CommandLine("dcm4che", f"pdf2dcm {name} {out}")]
    if kind == DocumentKind.PDF:
        lines += [CommandLine("DCMTK", f"pdf2dcm{title} {name} {out}"),
                  CommandLine("GDCM", f"gdcmpdf {name} {out}")]
    elif kind == DocumentKind.CDA:
        lines.append(CommandLine("DCMTK", f"cda2dcm{title} {name} {out}"))
    elif kind == DocumentKind.STL:
        lines.append(CommandLine("DCMTK", f"stl2dcm{title} {name} {out}"))
    return lines


# extract ----------------------------------------------------------------------------------
def _extract(source: Path, out_dir: Path, params: ExtractParams) -> FileConversion:
    return extract(source, out_dir, frame=params.frame)


CONVERSIONS[ObjectKind.EXTRACT] = Conversion(_extract)


def run_extract(ctx: JobContext, params: ExtractParams) -> JobOutcome:
    return run_conversion(ctx, params, CONVERSIONS[ObjectKind.EXTRACT])


def describe_extract(params: ExtractParams) -> str:
    frame = f" (frame {params.frame})" if params.frame else ""
    return f"Extract documents, videos and JPEG frames{frame} of {what(params)} {where(params)}"


def extract_command_lines(params: ExtractParams) -> list[CommandLine]:
    files = source_files(params)
    first = quoted(files[:1]) if files else "<file>"
    out = shlex.quote(destination(params))
    return [CommandLine("dcm4che", f"dcm2pdf {first} {out}"),
            CommandLine("DCMTK", f"dcm2pdf {first} {out}/document.pdf"),
            CommandLine("GDCM", f"gdcmraw -i {first} -t 42,11 -o {out}/document.pdf")]


# edit -------------------------------------------------------------------------------------
def describe_edit(params: EditParams) -> str:
    try:
        count = f"{len(parse_changes(params))} change(s)"
    except EditRefused:
        count = "changes"
    uids = ", new UIDs" if params.uids == UidPolicy.NEW else ""
    kept = ", originals kept" if params.originals.value == "keep" else ""
    return f"Edit {what(params)}: {count}{uids}{kept} {where(params)}"


def edit_command_lines_for(params: EditParams) -> list[CommandLine]:
    try:
        changes = parse_changes(params)
    except EditRefused:
        return []
    files = source_files(params)
    first = files[0] if files else "<file>"
    return [CommandLine(tool, command) for tool, command in edit_command_lines(
        changes, NewUids() if params.uids == UidPolicy.NEW else None, first,
        destination(params) + "/edited.dcm")]


def retry_edit(job: Job) -> dict[str, Any] | None:
    """Again for the files that failed and those left unedited because of them."""
    names = list(job.items.filter(outcome__in=[ItemOutcome.FAILED, ItemOutcome.SKIPPED])
                 .values_list("name", flat=True))
    return {**job.params, "only": names} if names else None


def retry_create(job: Job) -> dict[str, Any] | None:
    """Again for the files that failed; a multi-frame instance is made of all its images
    again (one failed image failed the whole instance)."""
    again = retry_failed(job)
    if again is not None and job.params.get("multi_frame"):
        again["only"] = []
    return again


RETRIES = {ObjectKind.EDIT: retry_edit, ObjectKind.CREATE: retry_create}


def _kind(name: ObjectKind, label: str, schema: type[Any], run: Any, form: type[Any],
          describe: Any, commands: Any) -> JobKind[Any]:
    return JobKind(name=name.value, label=label, params_schema=schema, run=run,
                   describe=describe, form=form, command_lines=commands,
                   retry_failed=RETRIES.get(name, retry_failed),
                   downloads=DOWNLOADS, produced=produced,
                   item_sizes=True, uses_associations=False)


CREATE_KIND = _kind(ObjectKind.CREATE, "Create DICOM objects (jpg2dcm, pdf2dcm, img2dcm)",
                    CreateParams, run_create, CreateForm, describe_create, create_command_lines)
EXTRACT_KIND = _kind(ObjectKind.EXTRACT, "Extract documents and videos (dcm2pdf)",
                     ExtractParams, run_extract, ExtractForm, describe_extract,
                     extract_command_lines)
EDIT_KIND = _kind(ObjectKind.EDIT, "Edit attributes (dcmodify, xml2dcm)", EditParams, run_edit,
                  EditForm, describe_edit, edit_command_lines_for)

OBJECT_JOB_KINDS = (CREATE_KIND, EXTRACT_KIND, EDIT_KIND)
