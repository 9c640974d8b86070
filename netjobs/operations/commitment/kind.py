"""The ``stgcmt`` job kind (stgcmtscu; PS3.4 Annex J): ask a remote AE to commit to
instances, wait for its report and record, per instance, committed or failed with the
failure reason."""

from __future__ import annotations

from typing import Any

from django import forms
from pydicom.uid import UID, generate_uid

from archive.models import Instance
from archive.storage import absolute_path
from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed
from netjobs.dicom.status import DimseStatus
from netjobs.jobs.base import CommandLine, JobContext, JobFailed, JobKind, JobOutcome
from netjobs.jobs.forms import JobForm, local_ae_field, remote_ae_field
from netjobs.listeners.commitment import describe_failure_reason
from netjobs.listeners.commitment_reports import (
    AWAITING_REPORT,
    COMMITMENT_KIND,
    CommitmentReport,
    stop_awaiting,
)
from netjobs.models import (
    ApplicationEntity,
    ItemOutcome,
    JobItem,
    JobStatus,
    Listener,
    LogLevel,
    ReportRoute,
)
from netjobs.operations.commitment.exchange import (
    Exchange,
    begin_waiting,
    exchange,
    listener_places,
    report_listeners,
)
from netjobs.operations.commitment.params import (
    REPORT_ON_LABELS,
    CommitmentParams,
    Reference,
    ReportOn,
    Selection,
    instances_sent_by,
    selection,
)
from netjobs.operations.common import ae_label, calling_ae_title, remote_or_fail
from netjobs.operations.ian.archived import study_folders
from netjobs.operations.ian.nservice import dcm4che_connection

COMMAND_LINE_FILES = 20  # more than this: the command line names them by count


# --- results ------------------------------------------------------------------------------
def result_items(ctx: JobContext, references: list[Reference],
                 report: CommitmentReport) -> dict[str, int]:
    committed = {i.sop_instance_uid for i in report.committed}
    failed = {i.sop_instance_uid: i.failure_reason for i in report.failed}
    items, counts = [], {"committed": 0, "failed": 0, "not_reported": 0}
    for reference in references:
        uid = reference.sop_instance_uid
        name = f"{UID(reference.sop_class_uid).name}: {uid}"[:512]
        if uid in failed:
            reason = int(failed[uid] or DimseStatus.PROCESSING_FAILURE)
            counts["failed"] += 1
            items.append(JobItem(job=ctx.job, name=name, outcome=ItemOutcome.FAILED,
                                 status=reason, sop_instance_uid=uid,
                                 message=f"Not committed: {describe_failure_reason(reason)}"))
        elif uid in committed:
            counts["committed"] += 1
            items.append(JobItem(job=ctx.job, name=name, outcome=ItemOutcome.SUCCEEDED,
                                 sop_instance_uid=uid, message="Committed"))
        else:
            counts["not_reported"] += 1
            items.append(JobItem(job=ctx.job, name=name, outcome=ItemOutcome.FAILED,
                                 sop_instance_uid=uid, message="Not in the report: the SCP "
                                 "neither committed nor refused it"))
    JobItem.objects.bulk_create(items)
    extra = ({i.sop_instance_uid for i in report.committed} | set(failed)) - {
        r.sop_instance_uid for r in references}
    if extra:
        ctx.log(f"The report names {len(extra)} instance(s) the request did not, e.g. "
                f"{sorted(extra)[0]}; ignored.", LogLevel.WARNING)
    return counts


def unresolved_items(ctx: JobContext, references: list[Reference], why: str) -> None:
    JobItem.objects.bulk_create([
        JobItem(job=ctx.job, name=f"{UID(r.sop_class_uid).name}: {r.sop_instance_uid}"[:512],
                outcome=ItemOutcome.SKIPPED, sop_instance_uid=r.sop_instance_uid,
                message=why[:4000]) for r in references])


def unknown_items(ctx: JobContext, uids: list[str], source: str) -> None:
    JobItem.objects.bulk_create([
        JobItem(job=ctx.job, name=uid, outcome=ItemOutcome.SKIPPED, sop_instance_uid=uid,
                message=f"Not requested: {source} include it, but the archive does not have "
                        "it, so its SOP Class UID is unknown.") for uid in uids])


def where_expected(remote: ApplicationEntity, params: CommitmentParams, ex: Exchange,
                   listeners: list[Listener]) -> str:
    places = []
    if params.report_on != ReportOn.LISTENER:
        if ex.scp_role:
            ended = f" ({ex.association_ended})" if ex.association_ended else ""
            places.append(f"on the association to {remote}, kept open with the SCP role"
                          f"{ended}")
        else:
            places.append(f"not on the association: {remote} did not accept the SCP role")
    if params.report_on != ReportOn.SAME_ASSOCIATION:
        places.append(f"at the console's {listener_places(listeners)}" if listeners else
                      "at no listener: none running offers Storage Commitment")
    return "; ".join(places)


def finished(ctx: JobContext, chosen: Selection, report: CommitmentReport,
             base: dict[str, Any]) -> JobOutcome:
    """Items and outcome from the report. Instances of the selection the archive does not
    have (so could not be requested) make a job that committed the rest partial."""
    references = chosen.references
    counts = result_items(ctx, references, report)
    ctx.add_counters(**{k: v for k, v in counts.items() if v})
    ctx.set_progress(len(references))
    route = ReportRoute(report.route)
    result = {**base, AWAITING_REPORT: False, **counts, "not_requested": len(chosen.unknown),
              "report_route": route.label, "event_type_id": report.event_type_id,
              "report_from": report.calling_ae_title}
    ctx.log(f"N-EVENT-REPORT ({route.label.lower()}): {counts['committed']} committed, "
            f"{counts['failed']} failed, {counts['not_reported']} not reported.")
    problems = []
    if counts["committed"] < len(references):
        problems.append(f"{counts['failed'] + counts['not_reported']} of {len(references)} "
                        "instance(s) not committed.")
    if chosen.unknown:
        problems.append(f"{len(chosen.unknown)} instance(s) of {chosen.source} could not be "
                        "requested: they are not in the archive.")
    if not problems:
        return JobOutcome(JobStatus.SUCCEEDED, result)
    status = JobStatus.PARTIAL if counts["committed"] else JobStatus.FAILED
    return JobOutcome(status, result, error=" ".join(problems))


def describe(params: CommitmentParams) -> str:
    target = ae_label(params.ae)
    if params.study is not None:
        what = f"study #{params.study}"
    elif params.store_job is not None:
        what = f"the instances sent by job {params.store_job}"
    else:
        what = f"{len(params.sop_instance_uids)} instance(s)"
    return f"Storage commitment of {what} by {target}"


def run(ctx: JobContext, params: CommitmentParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    chosen = selection(params)
    if chosen.unknown:
        unknown_items(ctx, chosen.unknown, chosen.source)
        ctx.log(f"{len(chosen.unknown)} instance(s) of {chosen.source} are not in the archive: "
                "not requested (their SOP Class UID is unknown).", LogLevel.WARNING)
    if not chosen.references:
        raise JobFailed(f"No archived instance to request commitment for in {chosen.source}.")
    listeners = report_listeners(calling)
    if params.report_on == ReportOn.LISTENER and not listeners:
        raise JobFailed(f"No running listener can receive the report: start one that offers "
                        f"Storage Commitment with the AE title {calling}, or let the report "
                        "come on the request's association.")
    references = chosen.references
    transaction_uid = generate_uid()
    begin_waiting(ctx, transaction_uid, params, len(references))
    ctx.set_progress(0, len(references))
    ctx.log(f"Requesting commitment of {len(references)} instance(s) ({chosen.source}) from "
            f"{remote} as {calling}; transaction {transaction_uid}. "
            + (f"A report on a new association is taken by the {listener_places(listeners)}."
               if listeners else "No listener takes reports on a new association."))
    try:
        ex = exchange(ctx, params, remote, calling, transaction_uid, references, listeners)
    except (AssociationFailed, TlsSetupFailed) as exc:
        stop_awaiting(ctx.job.pk)
        raise JobFailed(str(exc)) from exc
    late = stop_awaiting(ctx.job.pk)
    report = ex.report or late
    base = {**ctx.job.result, AWAITING_REPORT: False}
    if ex.not_sent:
        unresolved_items(ctx, references, "Not requested: no report could reach the console.")
        return JobOutcome(JobStatus.FAILED, base, error=ex.not_sent)
    if not ex.answer.done:
        unresolved_items(ctx, references, "Not requested: the N-ACTION was refused.")
        detail = f". {ex.problem}" if ex.problem else "."
        return JobOutcome(JobStatus.FAILED, base,
                          error=f"The N-ACTION was not performed: {ex.answer}{detail}")
    if report is not None:
        return finished(ctx, chosen, report, base)
    if ctx.cancel_requested:
        unresolved_items(ctx, references, "No result: cancelled while waiting for the report.")
        return JobOutcome(JobStatus.CANCELLED, base, error="Cancelled by an operator.")
    unresolved_items(ctx, references, "No result: no N-EVENT-REPORT arrived.")
    return JobOutcome(JobStatus.FAILED, base, error=(
        f"No N-EVENT-REPORT for transaction {transaction_uid} within {params.timeout:g} s; "
        f"it was expected {where_expected(remote, params, ex, listeners)}."))


# --- form and command lines ---------------------------------------------------------------
class CommitmentForm(JobForm):
    ae = remote_ae_field(label="Storage Commitment SCP")
    calling_ae = local_ae_field()
    study = forms.IntegerField(label="Study", required=False, min_value=1,
                               help_text="Archive study ID: request commitment of its "
                                         "instances.")
    sop_instance_uids = forms.CharField(
        label="SOP Instance UIDs", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Or archived instances, one SOP Instance UID per line.")
    store_job = forms.IntegerField(label="Store job", required=False, min_value=1,
                                   help_text="Or the instances a store job sent successfully.")
    report_on = forms.ChoiceField(label="Report expected",
                                  choices=[(r.value, REPORT_ON_LABELS[r]) for r in ReportOn],
                                  initial=ReportOn.EITHER.value)
    timeout = forms.FloatField(min_value=1, max_value=3600, initial=60,
                               help_text="Seconds to wait for the N-EVENT-REPORT.")

    def clean_sop_instance_uids(self) -> list[str]:
        return self.cleaned_data["sop_instance_uids"].split()

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"ae": data["ae"].pk,
                "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
                "study": data["study"], "sop_instance_uids": data["sop_instance_uids"],
                "store_job": data["store_job"], "report_on": data["report_on"],
                "timeout": data["timeout"]}


def command_files(params: CommitmentParams) -> str:
    """The files stgcmtscu scans: the study folder, or the archived files themselves."""
    if params.study is not None:
        return study_folders([params.study])[0]
    uids = (instances_sent_by(params.store_job) if params.store_job is not None
            else params.sop_instance_uids)
    paths = list(Instance.objects.filter(sop_instance_uid__in=uids[:COMMAND_LINE_FILES + 1])
                 .values_list("file_path", flat=True))
    if len(uids) > COMMAND_LINE_FILES or not paths:
        return f"<the {len(uids)} archived files>"
    return " ".join(str(absolute_path(p)) for p in paths)


def command_lines(params: CommitmentParams) -> list[CommandLine]:
    """dcm4che's stgcmtscu; ``-b AET:port`` makes it listen for the report itself, which is
    what the console's listener does. DCMTK has no storage commitment tool."""
    remote = ApplicationEntity.objects.get(pk=params.ae)
    calling = calling_ae_title(params.calling_ae)
    listeners = report_listeners(calling) if params.report_on != ReportOn.SAME_ASSOCIATION \
        else []
    bind = f"{calling}:{listeners[0].port}" if listeners else calling
    connection = dcm4che_connection(remote, calling, bind)
    keep = " --keep-alive" if params.report_on != ReportOn.LISTENER else ""
    return [CommandLine("dcm4che", f"stgcmtscu {connection}{keep} {command_files(params)}")]


STGCMT_KIND: JobKind[CommitmentParams] = JobKind(
    name=COMMITMENT_KIND,
    label="Storage Commitment",
    params_schema=CommitmentParams,
    run=run,
    describe=describe,
    form=CommitmentForm,
    command_lines=command_lines,
)
