"""The conversion job kinds split, swap bytes and export images, and what every conversion
kind shares: the summary's wording, command-line sources, downloads and "retry failed only"
(transcode, the largest, has a module of its own)."""

from __future__ import annotations

import csv
import io
import shlex
from pathlib import Path
from typing import Any

from archive.conversions.images import ImageExportOptions, export_images
from archive.conversions.jobs.forms import ExportImagesForm, SplitForm, SwapForm
from archive.conversions.jobs.names import ConversionKind
from archive.conversions.jobs.outputs import zip_path
from archive.conversions.jobs.params import (
    ConversionParams,
    ExportImagesParams,
    OutputKind,
    SourceParams,
    SplitParams,
    SwapParams,
)
from archive.conversions.jobs.run import CONVERSIONS, Conversion, run_conversion
from archive.conversions.jobs.sources import archived_instances
from archive.conversions.outcome import FileConversion
from archive.conversions.split import SplitOptions, split_file
from archive.conversions.swap import SwapOptions, swap_file
from archive.imports.uploads import staged_upload_dir
from archive.storage import absolute_path
from netjobs.jobs.base import CommandLine, Download, FileDownload, JobContext, JobKind, JobOutcome
from netjobs.models import ItemOutcome, Job

SHOWN_FILES = 3  # source files named on a command line before "<n more>"


# converting one file ------------------------------------------------------------------------
def _split(source: Path, out_dir: Path, params: SplitParams) -> FileConversion:
    return split_file(source, out_dir, SplitOptions(frames=tuple(params.frames) or None,
                                                    uid_root=None))


def _swap(source: Path, out_dir: Path, params: SwapParams) -> FileConversion:
    return swap_file(source, out_dir, SwapOptions(only_if_wrong=params.only_if_wrong))


def image_options(params: ExportImagesParams) -> ImageExportOptions:
    return ImageExportOptions(
        format=params.format, quality=params.quality, window=params.window,
        preset=params.preset, center=params.center, width=params.width,
        frame_delay_ms=params.frame_delay_ms)


def _export(source: Path, out_dir: Path, params: ExportImagesParams) -> FileConversion:
    return export_images(source, out_dir, image_options(params))


CONVERSIONS.update({
    ConversionKind.SPLIT: Conversion(_split),
    ConversionKind.SWAP_BYTES: Conversion(_swap, nothing_is_failure=False),
    ConversionKind.EXPORT_IMAGES: Conversion(_export),
})


def _runner(kind: ConversionKind) -> Any:
    def run(ctx: JobContext, params: ConversionParams) -> JobOutcome:
        return run_conversion(ctx, params, CONVERSIONS[kind])
    return run


# what the job page says -----------------------------------------------------------------------
def what(params: SourceParams) -> str:
    if params.path:
        return params.path
    if params.upload:
        return f"browser upload {params.upload[:8]}"
    parts = [f"{len(ids)} {noun}{'s' if len(ids) != 1 else ''}" for ids, noun in (
        (params.studies, "study"), (params.series, "series"), (params.instances, "instance"))
        if ids]
    text = ", ".join(parts).replace("studys", "studies").replace("seriess", "series")
    return text + (f" ({len(params.only)} file(s) again)" if params.only else "")


def where(params: ConversionParams) -> str:
    return {OutputKind.ARCHIVE: "into the archive", OutputKind.ZIP: "as a ZIP",
            OutputKind.FOLDER: f"into {params.folder}"}[params.output]


def describe_split(params: SplitParams) -> str:
    frames = f" (frames {_ranges(params.frames)})" if params.frames else ""
    return f"Split {what(params)} into single frames{frames} {where(params)}"


def describe_swap(params: SwapParams) -> str:
    how = "where wrongly ordered" if params.only_if_wrong else "unconditionally"
    return f"Swap pixel bytes of {what(params)} {how} {where(params)}"


def describe_export(params: ExportImagesParams) -> str:
    return f"Export {what(params)} as {params.format.value.upper()} {where(params)}"


def _ranges(numbers: list[int]) -> str:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


# command lines --------------------------------------------------------------------------------
def source_files(params: SourceParams) -> list[str]:
    """What to name as the input on a command line: the path, the staged upload's folder,
    or the first archived files (and how many more)."""
    if params.path:
        return [params.path]
    if params.upload:
        folder = staged_upload_dir(params.upload)
        return [str(folder) if folder else "<uploaded files>"]
    rows = archived_instances(params)
    if params.only:
        rows = rows.filter(sop_instance_uid__in=params.only)
    total = rows.count()
    files = [str(absolute_path(p)) for p in rows.order_by("pk").values_list(
        "file_path", flat=True)[:SHOWN_FILES]]
    return files + ([f"<{total - SHOWN_FILES} more file(s)>"] if total > SHOWN_FILES else [])


def quoted(files: list[str]) -> str:
    return " ".join(f if f.startswith("<") else shlex.quote(f) for f in files)


def destination(params: ConversionParams) -> str:
    return params.folder if params.output == OutputKind.FOLDER and params.folder else "out"


def split_command_lines(params: SplitParams) -> list[CommandLine]:
    frames = f" -f {','.join(map(str, params.frames))}" if params.frames else ""
    out = shlex.quote(destination(params))
    files = quoted(source_files(params))
    return [CommandLine("dcm4che", f"emf2sf{frames} --out-dir {out} {files}")]


def swap_command_lines(params: SwapParams) -> list[CommandLine]:
    condition = " --if-big-endian" if params.only_if_wrong else ""
    return [CommandLine("dcm4che", f"swappxdata{condition} {quoted(source_files(params))}")]


def export_command_lines(params: ExportImagesParams) -> list[CommandLine]:
    files = quoted(source_files(params))
    out = shlex.quote(destination(params))
    fmt = params.format.value
    window4che, windowdcmtk = "", " +Wi 1"
    if params.center is not None and params.width is not None:
        window4che = f" -c {params.center:g} -w {params.width:g}"
        windowdcmtk = f" +Ww {params.center:g} {params.width:g}"
    lines = [CommandLine("dcm4che", f"dcm2jpg -F {fmt.upper()}{window4che}"
                                    f"{f' -q {params.quality / 100:g}' if fmt == 'jpeg' else ''}"
                                    f" {files} {out}")]
    if fmt in ("png", "jpeg"):
        writer = "--write-png" if fmt == "png" else f"--write-jpeg +Jq {params.quality}"
        lines.append(CommandLine("DCMTK", f"dcmj2pnm {writer}{windowdcmtk} --all-frames "
                                          f"{files} {out}/image"))
        lines.append(CommandLine("GDCM", f"gdcm2pnm {files} {out}/image.{fmt}"))
    return lines


# downloads and retry ----------------------------------------------------------------------------
def _zip_download(job: Job) -> FileDownload | None:
    path = zip_path(job.pk)
    return FileDownload(path, "application/zip", f"job-{job.pk}-{job.kind}.zip") \
        if path.is_file() else None


def _zip_ready(job: Job) -> bool:
    return job.params.get("output") == OutputKind.ZIP and zip_path(job.pk).is_file()


def items_csv(job: Job) -> tuple[bytes, str, str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "outcome", "input_bytes", "output_bytes", "sop_instance_uid",
                     "message"])
    for item in job.items.all():
        writer.writerow([item.name, item.outcome, item.input_bytes or "",
                         item.output_bytes or "", item.sop_instance_uid, item.message])
    return out.getvalue().encode(), "text/csv; charset=utf-8", f"job-{job.pk}-files.csv"


DOWNLOADS = (Download("files", "Results (ZIP)", _zip_download, available=_zip_ready),
             Download("files.csv", "Files (CSV)", items_csv))


def retry_failed(job: Job) -> dict[str, Any] | None:
    failed = list(job.items.filter(outcome=ItemOutcome.FAILED).values_list("name", flat=True))
    return {**job.params, "only": failed} if failed else None


def conversion_kind(name: ConversionKind, label: str, schema: type[Any], form: type[Any],
          describe: Any, commands: Any) -> JobKind[Any]:
    return JobKind(name=name.value, label=label, params_schema=schema, run=_runner(name),
                   describe=describe, form=form, command_lines=commands,
                   retry_failed=retry_failed, downloads=DOWNLOADS, produced=produced,
                   item_sizes=True, uses_associations=False)


def produced(job: Job) -> list[Any]:
    """What a conversion made: its archived instances by study, its ZIP, its folder."""
    from archive.conversions.dashboard import archived_outputs, produced_links

    return produced_links(job, archived_outputs([job.pk]))


SPLIT_KIND = conversion_kind(
    ConversionKind.SPLIT, "Split multi-frame (emf2sf)", SplitParams, SplitForm,
    describe_split, split_command_lines)
SWAP_KIND = conversion_kind(
    ConversionKind.SWAP_BYTES, "Swap pixel bytes (swappxdata)", SwapParams, SwapForm,
    describe_swap, swap_command_lines)
EXPORT_IMAGES_KIND = conversion_kind(
    ConversionKind.EXPORT_IMAGES, "Export images (dcm2jpg, gdcm2pnm)", ExportImagesParams,
    ExportImagesForm, describe_export, export_command_lines)

CONVERSION_JOB_KINDS = (SPLIT_KIND, SWAP_KIND, EXPORT_IMAGES_KIND)
