"""The ``deidentify`` (gdcmanon, dcm4che deidentify) and ``reidentify`` (gdcmanon -d) job
kinds: conversions whose outputs are named by their new UIDs and checked for PHI."""

from __future__ import annotations

import shlex
import shutil
import zipfile
from dataclasses import replace
from enum import StrEnum

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
from archive.conversions.jobs.outputs import job_folder
from archive.conversions.jobs.run import CONVERSIONS, Conversion, run_conversion
from archive.deid.jobs.forms import DeidentifyForm, ReidentifyForm
from archive.deid.jobs.params import DeidentifyParams, ReidentifyParams, key_file
from archive.deid.jobs.run import (
    DeidSink,
    ReidSink,
    bind_deidentify,
    deidentify_one,
    held_files,
    held_folder,
    reidentify_one,
)
from archive.deid.profile import ProfileOption
from console.roles import Role
from netjobs.jobs.base import (
    CommandLine,
    Download,
    FileDownload,
    JobContext,
    JobKind,
    JobOutcome,
)
from netjobs.models import Job


class DeidKind(StrEnum):
    DEIDENTIFY = "deidentify"
    REIDENTIFY = "reidentify"


CONVERSIONS[DeidKind.DEIDENTIFY] = Conversion(deidentify_one, sink=DeidSink,
                                              bind=bind_deidentify)
CONVERSIONS[DeidKind.REIDENTIFY] = Conversion(reidentify_one, sink=ReidSink)


def run_deidentify(ctx: JobContext, params: DeidentifyParams) -> JobOutcome:
    if not params.only:  # a new run (not "retry failed only"): no files of an earlier job
        shutil.rmtree(held_folder(ctx.job.pk), ignore_errors=True)
    outcome = run_conversion(ctx, params, CONVERSIONS[DeidKind.DEIDENTIFY])
    held = held_files(ctx.job)
    if held:
        ctx.log(f"{len(held)} file(s) held back for review (possible burned-in text): "
                "download them from the job page; they were not released.")
    outcome.result["held_back"] = len(held)
    outcome.result["released"] = max(0, int(outcome.result.get("converted", 0)) - len(held))
    return outcome


def run_reidentify(ctx: JobContext, params: ReidentifyParams) -> JobOutcome:
    try:
        return run_conversion(ctx, params, CONVERSIONS[DeidKind.REIDENTIFY])
    finally:  # the key lives only while the job runs
        key = key_file(params.private_key)
        if key is not None:
            key.unlink(missing_ok=True)


def describe_deidentify(params: DeidentifyParams) -> str:
    if params.dumb:
        how = (f"dumb mode ({len(params.empty)} empty, {len(params.remove)} remove, "
               f"{len(params.replace)} replace)")
    else:
        how = "Basic Profile" + (f" + {len(params.options)} option(s)" if params.options else "")
        how += ", reversible" if params.reversible else ""
    return f"De-identify {what(params)} ({params.project}: {how}) {where(params)}"


def describe_reidentify(params: ReidentifyParams) -> str:
    return f"Re-identify {what(params)} {where(params)}"


def deidentify_command_lines(params: DeidentifyParams) -> list[CommandLine]:
    files = source_files(params)
    first = quoted(files[:1]) if files else "<file>"
    out = shlex.quote(destination(params))
    if params.dumb:
        rules = " ".join([*(f"--empty {t}" for t in params.empty),
                          *(f"--remove {t}" for t in params.remove),
                          *(f"--replace {shlex.quote(t)}" for t in params.replace)])
        return [CommandLine("GDCM", f"gdcmanon --dumb {rules} {first} {out}")]
    certificate = " -c certificate.pem" if params.reversible else " -c throwaway-cert.pem"
    retain = " --retain-uid" if ProfileOption.RETAIN_UIDS in params.options else ""
    return [CommandLine("GDCM", f"gdcmanon -e{certificate} {first} {out}"),
            CommandLine("dcm4che", f"deidentify{retain} {first} {out}")]


def reidentify_command_lines(params: ReidentifyParams) -> list[CommandLine]:
    files = source_files(params)
    first = quoted(files[:1]) if files else "<file>"
    return [CommandLine("GDCM", f"gdcmanon -d -k privatekey.pem {first} "
                                f"{shlex.quote(destination(params))}")]


def _held_zip(job: Job) -> FileDownload:
    """The held files in a ZIP beside them, written afresh (streamed from disk)."""
    folder = held_folder(job.pk)
    target = job_folder(job.pk) / "held-for-review.zip"  # swept with the job's results
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, str(path.relative_to(folder)))
    partial.replace(target)
    return FileDownload(target, "application/zip", f"job-{job.pk}-held-for-review.zip")


def _has_held(job: Job) -> bool:
    return bool(held_files(job))


HELD_DOWNLOAD = Download("held", "Held back for review (ZIP)", _held_zip, available=_has_held,
                         required_role=Role.OPERATOR)  # may show burned-in PHI
# re-identified files hold the patients' identities again: Administrators only
REIDENTIFIED_DOWNLOADS = tuple(replace(d, required_role=Role.ADMINISTRATOR) for d in DOWNLOADS)

DEIDENTIFY_KIND = JobKind(
    name=DeidKind.DEIDENTIFY.value, label="De-identify (gdcmanon, deidentify)",
    params_schema=DeidentifyParams, run=run_deidentify, describe=describe_deidentify,
    form=DeidentifyForm, command_lines=deidentify_command_lines, retry_failed=retry_failed,
    downloads=(*DOWNLOADS, HELD_DOWNLOAD), produced=produced, item_sizes=True,
    uses_associations=False)
REIDENTIFY_KIND = JobKind(
    name=DeidKind.REIDENTIFY.value, label="Re-identify (gdcmanon -d)",
    params_schema=ReidentifyParams, run=run_reidentify, describe=describe_reidentify,
    required_role=Role.ADMINISTRATOR, form=ReidentifyForm,
    command_lines=reidentify_command_lines, retry_failed=None, downloads=REIDENTIFIED_DOWNLOADS,
    produced=produced, item_sizes=True, uses_associations=False)
