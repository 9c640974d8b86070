"""The ``store`` job kind as the console shows it: the form, the equivalent command lines,
the transfer report and items CSV, and "retry failed only"."""

from __future__ import annotations

import csv
import io
import shlex
from pathlib import Path
from typing import Any

from django import forms

from archive.forms import SourceFields
from archive.imports.uploads import staged_upload_dir
from archive.models import Instance, Series
from archive.storage import absolute_path
from netjobs.jobs.base import CommandLine, Download, JobKind
from netjobs.jobs.forms import JobForm, local_ae_field, remote_ae_field
from netjobs.models import ApplicationEntity, Job
from netjobs.operations.common import calling_ae_title
from netjobs.operations.store.run import SendSource, StoreParams, describe, retry_failed, run
from netjobs.operations.store.sending import Decompress


class StoreForm(JobForm, SourceFields):
    ae = remote_ae_field("Send to")
    calling_ae = local_ae_field()
    upload_help = "DICOM files to send (not archived)."
    decompress = forms.ChoiceField(
        choices=[(d.value, label) for d, label in (
            (Decompress.LOSSLESS, "Lossless compressed only (default)"),
            (Decompress.LOSSY, "Lossy compressed too"),
            (Decompress.NEVER, "Never"))],
        initial=Decompress.LOSSLESS.value,
        help_text="Decompress when the peer accepts only uncompressed transfer syntaxes.")
    associations = forms.IntegerField(min_value=1, max_value=8, initial=1,
                                      help_text="Associations in parallel.")

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {
            "ae": data["ae"].pk,
            "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
            "decompress": data["decompress"], "associations": data["associations"]}
        values.update(self.source_params())
        return values


ONLY_SHOWN = 20  # files named on a "retry failed only" command line before "<n more>"


def _only_files(params: SendSource) -> list[str]:
    """The files of just the items ``only`` names (what "retry failed only" re-sends)."""
    if params.path:
        root = Path(params.path)
        files = [str(root if root.is_file() else root / name) for name in params.only]
    elif params.upload:
        folder = staged_upload_dir(params.upload)
        files = [str(folder / name) if folder else name for name in params.only]
    else:
        found = dict(Instance.objects.filter(sop_instance_uid__in=params.only)
                     .values_list("sop_instance_uid", "file_path"))
        files = [str(absolute_path(found[uid])) for uid in params.only if uid in found]
    extra = len(files) - ONLY_SHOWN
    return files[:ONLY_SHOWN] + ([f"<{extra} more file(s)>"] if extra > 0 else [])


def command_paths(params: SendSource) -> list[str]:
    """What to name on a command line: the archive folders of the studies or series (the
    storage keeps a study's instances under one folder), else the path or upload; with
    ``only``, just those files."""
    if params.only:
        return _only_files(params) or ["<files>"]
    if params.path:
        return [params.path]
    paths = Instance.objects.filter(
        series__study_id__in=params.studies).values_list("file_path", flat=True)[:1]
    folders = [str(absolute_path(p).parent.parent) for p in paths]  # the study's folder
    for series in Series.objects.filter(pk__in=params.series):
        first = series.instances.values_list("file_path", flat=True).first()
        if first:
            folders.append(str(absolute_path(first).parent))
    if params.instances:
        folders += [str(absolute_path(p)) for p in Instance.objects.filter(
            pk__in=params.instances).values_list("file_path", flat=True)]
    if len(params.studies) > 1:
        folders += [f"<{len(params.studies) - 1} more study folder(s)>"]
    return folders or ["<files>"]


def command_lines(params: StoreParams) -> list[CommandLine]:
    remote = ApplicationEntity.objects.get(pk=params.ae)
    calling = calling_ae_title(params.calling_ae)
    files = " ".join(shlex.quote(f) if not f.startswith("<") else f
                     for f in command_paths(params))
    decompress = {Decompress.NEVER: " --decompress-never",
                  Decompress.LOSSY: " --decompress-lossy"}.get(params.decompress, "")
    tls = " +tls <key> <cert> +cf <ca>" if remote.tls_enabled else ""
    q = shlex.quote
    aet, aec, host = q(calling), q(remote.ae_title), q(remote.host)
    peer = q(f"{remote.ae_title}@{remote.host}:{remote.port}")
    return [
        CommandLine("DCMTK", f"dcmsend -aet {aet} -aec {aec} --scan-directories --recurse"
                             f"{decompress} {host} {remote.port} {files}"),
        CommandLine("DCMTK", f"storescu -aet {aet} -aec {aec} -pdu 131072 +sd +r{tls} "
                             f"{host} {remote.port} {files}"),
        CommandLine("dcm4che", f"storescu -b {aet} -c {peer}"
                               f"{' --tls' if remote.tls_enabled else ''} {files}"),
    ]


def transfer_report(job: Job) -> tuple[bytes, str, str]:
    """Like dcmsend --create-report-file: the peer, each association, each instance."""
    out = io.StringIO()
    out.write(f"Transfer report of job {job.pk}: {job.summary}\n")
    out.write(f"Status: {job.get_status_display()}")
    out.write(f" ({job.error})\n" if job.error else "\n")
    out.write(f"Started {job.started_at:%Y-%m-%d %H:%M:%S}, " if job.started_at else "")
    out.write(f"finished {job.finished_at:%Y-%m-%d %H:%M:%S}\n" if job.finished_at else "\n")
    for name, value in (job.result or {}).items():
        out.write(f"  {name}: {value}\n")
    out.write("\nAssociations\n")
    for assoc in job.associations.prefetch_related("presentation_contexts"):
        accepted = assoc.presentation_contexts.filter(result=0).count()
        total = assoc.presentation_contexts.count()
        out.write(f"  #{assoc.pk} {assoc.calling_ae_title} -> {assoc.called_ae_title} at "
                  f"{assoc.peer_host}:{assoc.peer_port}: {assoc.get_outcome_display()}, "
                  f"{accepted} of {total} presentation contexts accepted, "
                  f"{assoc.dimse_messages_total} DIMSE messages\n")
        if assoc.explanation:
            out.write(f"    {assoc.explanation}\n")
    out.write("\nInstances\n")
    for item in job.items.all():
        status = f"0x{item.status:04X}" if item.status is not None else "------"
        out.write(f"  {item.get_outcome_display():<9} {status} {item.sop_instance_uid or '-'} "
                  f"{item.name}: {item.message}\n")
    return out.getvalue().encode(), "text/plain; charset=utf-8", f"job-{job.pk}-report.txt"


def items_csv(job: Job) -> tuple[bytes, str, str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "sop_instance_uid", "outcome", "status", "message"])
    for item in job.items.all():
        writer.writerow([item.name, item.sop_instance_uid, item.outcome,
                         "" if item.status is None else f"0x{item.status:04X}", item.message])
    return out.getvalue().encode(), "text/csv; charset=utf-8", f"job-{job.pk}-instances.csv"


STORE_KIND: JobKind[StoreParams] = JobKind(
    name="store",
    label="C-STORE (send)",
    params_schema=StoreParams,
    run=run,
    describe=describe,
    form=StoreForm,
    command_lines=command_lines,
    retry_failed=retry_failed,
    downloads=(Download("report", "Transfer report", transfer_report),
               Download("instances.csv", "Instances (CSV)", items_csv)),
)
