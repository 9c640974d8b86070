"""The media job kinds: ``mkmedia`` (dcmmkdir, dcmdir -c, gdcmgendir) and the File-set
changes ``dicomdir-update`` (dcmdir -u), ``dicomdir-delete`` (dcmdir -d) and
``dicomdir-compact`` (dcmdir -z)."""

from __future__ import annotations

import shlex
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from archive.conversions.jobs.kinds import items_csv, quoted, source_files, what
from archive.media.jobs.forms import CompactForm, DeleteForm, MkmediaForm, UpdateForm
from archive.media.jobs.params import CompactParams, DeleteParams, MkmediaParams, UpdateParams
from archive.media.jobs.run import (
    medium_file,
    run_compact,
    run_delete,
    run_mkmedia,
    run_update,
)
from archive.media.models import Medium, MediumFormat
from netjobs.jobs.base import CommandLine, Download, FileDownload, JobKind, Rendered
from netjobs.models import Job


class MediaKind(StrEnum):
    MKMEDIA = "mkmedia"
    UPDATE = "dicomdir-update"
    DELETE = "dicomdir-delete"
    COMPACT = "dicomdir-compact"


# what the job page says ----------------------------------------------------------------------
def describe_mkmedia(params: MkmediaParams) -> str:
    into = f"into {params.folder}" if params.medium == MediumFormat.FOLDER else \
        f"as {'a ZIP' if params.medium == MediumFormat.ZIP else 'an ISO image'}"
    return f"Burn {what(params)} to a {params.profile.value} medium {into}"


def describe_update(params: UpdateParams) -> str:
    return f"Add {what(params)} to the File-set {params.fileset}"


def describe_delete(params: DeleteParams) -> str:
    return f"Mark {params.count} selection(s) inactive in the File-set {params.fileset}"


def describe_compact(params: CompactParams) -> str:
    files = " and delete their files" if params.remove_files else ""
    return f"Remove the inactive records of the File-set {params.fileset}{files}"


# the same with command-line tools -----------------------------------------------------------
def mkmedia_command_lines(params: MkmediaParams) -> list[CommandLine]:
    out = shlex.quote(params.folder or "medium")
    fsid = shlex.quote(params.fileset_id or "CONSOLE")
    readme = " +R README" if params.readme else ""
    invent = " +I" if params.invent else ""
    option = params.profile.dcmmkdir_option
    lines = [
        CommandLine("shell", f"mkdir -p {out}/DICOM && cp {quoted(source_files(params))} "
                             f"{out}/DICOM/  # names of at most 8 of A-Z 0-9 _"),
        CommandLine("DCMTK", f"dcmmkdir {option} +r{invent} +F {fsid}{readme} +id {out} "
                             f"+D {out}/DICOMDIR DICOM"),
        CommandLine("dcm4che", f"dcmdir -c {out}/DICOMDIR --fs-id {fsid}"
                               f"{f' --fs-desc {out}/README' if params.readme else ''} "
                               f"{out}/DICOM"),
        CommandLine("GDCM", f"gdcmgendir -r -i {out}/DICOM -o {out}/DICOMDIR"),
    ]
    if params.medium == MediumFormat.ISO:
        lines.append(CommandLine("xorriso", f"xorriso -as mkisofs -iso-level 1 -V {fsid} "
                                            f"-o medium.iso {out}"))
    return lines


def update_command_lines(params: UpdateParams) -> list[CommandLine]:
    dicomdir = shlex.quote(f"{params.fileset}/DICOMDIR")
    files = quoted(source_files(params))
    return [CommandLine("dcm4che", f"dcmdir -u {dicomdir} {files}"),
            CommandLine("DCMTK", f"dcmmkdir +A {params.profile.dcmmkdir_option} "
                                 f"+id {shlex.quote(params.fileset)} +D {dicomdir} <files>")]


def delete_command_lines(params: DeleteParams) -> list[CommandLine]:
    dicomdir = shlex.quote(f"{params.fileset}/DICOMDIR")
    return [CommandLine("dcm4che", f"dcmdir -d {dicomdir} <the files of those records>")]


def compact_command_lines(params: CompactParams) -> list[CommandLine]:
    dicomdir = shlex.quote(f"{params.fileset}/DICOMDIR")
    return [CommandLine("dcm4che", f"dcmdir -z {dicomdir}")]


# downloads ---------------------------------------------------------------------------------
def _medium_of(job: Job) -> Medium | None:
    return Medium.objects.filter(job=job).exclude(format=MediumFormat.FOLDER).first()


def _medium_download(job: Job) -> Rendered | None:
    medium = _medium_of(job)
    if medium is None or not medium.is_present:
        return None
    fmt = MediumFormat(medium.format)
    content_type = "application/zip" if fmt == MediumFormat.ZIP else "application/x-iso9660-image"
    name = f"{medium.fileset_id or f'job-{job.pk}'}.{fmt.value}"
    return FileDownload(medium_file(job.pk, fmt), content_type, name)


def _has_medium(job: Job) -> bool:
    medium = _medium_of(job)
    return medium is not None and medium.is_present


FILES_CSV = Download("files.csv", "Files (CSV)", items_csv)
MKMEDIA_DOWNLOADS = (Download("medium", "The medium (ZIP or ISO)", _medium_download,
                              available=_has_medium), FILES_CSV)


def produced(job: Job) -> list[Any]:
    """The medium a job built, or the File-set it changed (its page, or its records)."""
    from archive.conversions.dashboard import Link  # the dashboard imports the registry

    media = list(Medium.objects.filter(job=job))
    if not media and job.params.get("fileset"):
        media = list(Medium.objects.filter(format=MediumFormat.FOLDER,
                                           location=job.params["fileset"]))
        if not media:
            url = reverse("media:dicomdir") + "?" + urlencode({"path": job.params["fileset"]})
            return [Link(f"the File-set's records ({job.params['fileset']})", url)]
    return [Link(f"Medium {m.fileset_id or m.pk}", m.get_absolute_url()) for m in media]


MKMEDIA_KIND: JobKind[MkmediaParams] = JobKind(
    name=MediaKind.MKMEDIA.value, label="Burn to media (dcmmkdir, dcmdir -c)",
    params_schema=MkmediaParams, run=run_mkmedia, describe=describe_mkmedia, form=MkmediaForm,
    command_lines=mkmedia_command_lines, downloads=MKMEDIA_DOWNLOADS, item_sizes=True,
    produced=produced, uses_associations=False)
UPDATE_KIND: JobKind[UpdateParams] = JobKind(
    name=MediaKind.UPDATE.value, label="Add to a File-set (dcmdir -u)",
    params_schema=UpdateParams, run=run_update, describe=describe_update, form=UpdateForm,
    command_lines=update_command_lines, downloads=(FILES_CSV,), item_sizes=True,
    produced=produced, uses_associations=False)
DELETE_KIND: JobKind[DeleteParams] = JobKind(
    name=MediaKind.DELETE.value, label="Delete DICOMDIR records (dcmdir -d)",
    params_schema=DeleteParams, run=run_delete, describe=describe_delete, form=DeleteForm,
    command_lines=delete_command_lines, produced=produced, uses_associations=False)
COMPACT_KIND: JobKind[CompactParams] = JobKind(
    name=MediaKind.COMPACT.value, label="Compact a DICOMDIR (dcmdir -z)",
    params_schema=CompactParams, run=run_compact, describe=describe_compact,
    form=CompactForm, command_lines=compact_command_lines, downloads=(FILES_CSV,),
    produced=produced, uses_associations=False)

MEDIA_JOB_KINDS = (MKMEDIA_KIND, UPDATE_KIND, DELETE_KIND, COMPACT_KIND)
