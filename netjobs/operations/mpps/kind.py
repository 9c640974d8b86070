"""The ``mpps`` job kind (mppsscu; PS3.4 Annex F): N-CREATE a step IN PROGRESS for an
archived study, and N-SET it COMPLETED or DISCONTINUED with the series and instances it
produced, on one association. The step's SOP Instance UID is kept in the job's result, so a
later job can N-SET it (``mpps_instance_uid``)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from enum import StrEnum
from time import perf_counter
from typing import Any

from django import forms
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]

from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.jobs.base import CommandLine, JobContext, JobFailed, JobKind, JobOutcome
from netjobs.jobs.forms import JobForm, local_ae_field, remote_ae_field
from netjobs.models import ApplicationEntity, JobItem, JobStatus, LogLevel
from netjobs.operations.common import (
    ae_label,
    calling_ae_title,
    local_ae_exists,
    remote_ae_exists,
    remote_or_fail,
)
from netjobs.operations.ian.archived import (
    ArchivedStudy,
    StudyMissing,
    archived_study,
    study_folders,
    study_with_instances,
)
from netjobs.operations.ian.nservice import (
    N_SERVICE_SYNTAXES,
    Answer,
    answer_of,
    dcm4che_connection,
    no_answer_reason,
    valid_uid,
)
from netjobs.operations.mpps.attributes import (
    COMPLETED,
    DISCONTINUED,
    IN_PROGRESS,
    step_end,
    step_in_progress,
)


class MppsAction(StrEnum):
    CREATE = "create"  # N-CREATE IN PROGRESS
    COMPLETE = "complete"  # N-SET COMPLETED of an existing step
    DISCONTINUE = "discontinue"  # N-SET DISCONTINUED of an existing step
    CREATE_COMPLETE = "create_complete"  # N-CREATE then N-SET COMPLETED (mppsscu)
    CREATE_DISCONTINUE = "create_discontinue"  # N-CREATE then N-SET DISCONTINUED (--dc)

    @property
    def creates(self) -> bool:
        return self in (MppsAction.CREATE, MppsAction.CREATE_COMPLETE,
                        MppsAction.CREATE_DISCONTINUE)

    @property
    def final_status(self) -> str | None:
        if self in (MppsAction.COMPLETE, MppsAction.CREATE_COMPLETE):
            return COMPLETED
        if self in (MppsAction.DISCONTINUE, MppsAction.CREATE_DISCONTINUE):
            return DISCONTINUED
        return None


ACTION_LABELS = {
    MppsAction.CREATE_COMPLETE: "Create IN PROGRESS, then COMPLETED",
    MppsAction.CREATE_DISCONTINUE: "Create IN PROGRESS, then DISCONTINUED",
    MppsAction.CREATE: "Create IN PROGRESS only",
    MppsAction.COMPLETE: "Set an existing step COMPLETED",
    MppsAction.DISCONTINUE: "Set an existing step DISCONTINUED",
}


class MppsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae: int = Field(description="ID of the remote AE (the MPPS SCP)")
    calling_ae: int | None = Field(
        default=None, description="ID of the local AE to call from (default: CONSOLE_AE_TITLE)")
    study: int | None = Field(default=None, description="ID of the archive study performed")
    action: MppsAction = Field(default=MppsAction.CREATE_COMPLETE)
    mpps_instance_uid: str | None = Field(
        default=None, description="SOP Instance UID of the step: the one to N-SET, or the one "
                                  "to create (default: a new UID)")
    performed_procedure_step_id: str | None = Field(
        default=None, max_length=16, description="Performed Procedure Step ID (default: "
                                                 "PPS-<job id>)")

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)
    _check_uid = field_validator("mpps_instance_uid")(valid_uid)

    @field_validator("study")
    @classmethod
    def _study_archived(cls, value: int | None) -> int | None:
        return None if value is None else study_with_instances(value)

    @model_validator(mode="after")
    def _what_the_action_needs(self) -> MppsParams:
        if self.action.creates and self.study is None:
            raise ValueError("creating a step needs the study it performs")
        if not self.action.creates and not self.mpps_instance_uid:
            raise ValueError("setting an existing step needs its SOP Instance UID "
                             "(mpps_instance_uid)")
        if self.action == MppsAction.COMPLETE and self.study is None:
            raise ValueError("completing a step needs the study whose series it produced "
                             "(Performed Series Sequence)")
        return self


# --- sending ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    operation: str  # "N-CREATE" or "N-SET"
    status: str  # the Performed Procedure Step Status it sends
    attributes: Dataset


@dataclass(frozen=True)
class Sent:
    request: Request
    answer: Answer
    problem: str = ""


def requests_for(params: MppsParams, study: ArchivedStudy | None, station: str,
                 step_id: str) -> list[Request]:
    now = timezone.localtime()
    requests = []
    if params.action.creates:
        assert study is not None  # the parameters require it
        requests.append(Request("N-CREATE", IN_PROGRESS,
                                step_in_progress(study, station, step_id, now)))
    final = params.action.final_status
    if final is not None:
        requests.append(Request("N-SET", final, step_end(final, study, now)))
    return requests


def send(assoc: PynetdicomAssociation, recorder: AssociationRecorder,
         remote: ApplicationEntity, request: Request, uid: str) -> Sent:
    started = perf_counter()
    if request.operation == "N-CREATE":  # the SCU gives the UID (PS3.4 F.7.2.1.1)
        response, _ = assoc.send_n_create(request.attributes, ModalityPerformedProcedureStep,
                                          uid)
    else:
        response, _ = assoc.send_n_set(request.attributes, ModalityPerformedProcedureStep, uid)
    answer = answer_of(response, request.operation)
    problem = "" if answer.status is not None else no_answer_reason(
        assoc, recorder, perf_counter() - started, remote)
    return Sent(request, answer, problem)


def record(ctx: JobContext, sent: Sent, uid: str) -> None:
    message = str(sent.answer) + (f": {sent.problem}" if sent.problem else "")
    JobItem.objects.create(
        job=ctx.job, name=f"{sent.request.operation} {sent.request.status}",
        outcome=sent.answer.item_outcome, message=message[:4000], sop_instance_uid=uid,
        status=None if sent.answer.status is None else sent.answer.status.code)
    ctx.add_counters(**{sent.answer.item_outcome.value: 1})
    ctx.set_progress(ctx.job.progress_done + 1)
    level = LogLevel.INFO if sent.answer.done else LogLevel.WARNING
    ctx.log(f"{sent.request.operation} ({sent.request.status}) of step {uid}: {message}.", level)


def send_all(ctx: JobContext, assoc: PynetdicomAssociation, recorder: AssociationRecorder,
             remote: ApplicationEntity, requests: list[Request], uid: str) -> list[Sent]:
    """Send in order, stopping at the first one the SCP did not perform."""
    done: list[Sent] = []
    for request in requests:
        if ctx.cancel_requested or not assoc.is_established:
            break
        sent = send(assoc, recorder, remote, request, uid)
        record(ctx, sent, uid)
        done.append(sent)
        if not sent.answer.done:
            break
    return done


def step_state(sent: list[Sent], creates: bool) -> str:
    """What the SCP holds as far as the console knows."""
    performed = [s.request.status for s in sent if s.answer.done]
    if performed:
        return performed[-1]
    return "not created" if creates else "unknown (N-SET not performed)"


def outcome_of(ctx: JobContext, params: MppsParams, requests: list[Request],
               sent: list[Sent], uid: str, study: ArchivedStudy | None) -> JobOutcome:
    result: dict[str, Any] = {
        "mpps_instance_uid": uid,
        "step_status": step_state(sent, params.action.creates),
        "requests": ", ".join(f"{s.request.operation} {s.request.status}: "
                              f"{s.answer.status.hex if s.answer.status else 'no response'}"
                              for s in sent),
    }
    if study is not None:
        result["study_instance_uid"] = study.study_instance_uid
    performed = [s for s in sent if s.answer.done]
    if len(performed) == len(requests):
        return JobOutcome(JobStatus.SUCCEEDED, result)
    if ctx.cancel_requested:
        return JobOutcome(JobStatus.CANCELLED, result, error="Cancelled by an operator.")
    failing = next((s for s in sent if not s.answer.done), None)
    if failing is None:
        error = "The association ended before every request was sent."
    else:
        error = (f"{failing.request.operation} ({failing.request.status}) was not performed: "
                 f"{failing.answer}" + (f". {failing.problem}" if failing.problem else "."))
    if performed:
        error += f" The step stays {result['step_status']} on the SCP."
    return JobOutcome(JobStatus.PARTIAL if performed else JobStatus.FAILED, result, error=error)


def describe(params: MppsParams) -> str:
    target = ae_label(params.ae)
    what = ACTION_LABELS[params.action]
    subject = f" for study #{params.study}" if params.study is not None else ""
    uid = f" {params.mpps_instance_uid}" if params.mpps_instance_uid else ""
    return f"MPPS{uid}{subject}: {what.lower()}, to {target}"


def run(ctx: JobContext, params: MppsParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    try:
        study = archived_study(params.study) if params.study is not None else None
    except StudyMissing as exc:
        raise JobFailed(str(exc)) from exc
    uid = params.mpps_instance_uid or generate_uid()
    step_id = params.performed_procedure_step_id or f"PPS-{ctx.job.pk:010d}"[-16:]
    requests = requests_for(params, study, calling, step_id)
    ctx.update_result(mpps_instance_uid=uid)
    ctx.set_progress(0, len(requests))
    planned = ", ".join(f"{r.operation} {r.status}" for r in requests)
    ctx.log(f"Step {uid} (ID {step_id}): {planned} to {remote.ae_title} at "
            f"{remote.host}:{remote.port} as {calling}.")
    contexts = [(str(ModalityPerformedProcedureStep), N_SERVICE_SYNTAXES)]
    try:
        with requested_association(remote=remote, calling_ae_title=calling, contexts=contexts,
                                   job=ctx.job) as (assoc, recorder):
            sent = send_all(ctx, assoc, recorder, remote, requests, uid)
    except (AssociationFailed, TlsSetupFailed) as exc:
        raise JobFailed(str(exc)) from exc
    return outcome_of(ctx, params, requests, sent, uid, study)


# --- form and command lines ---------------------------------------------------------------
class MppsForm(JobForm):
    ae = remote_ae_field(label="MPPS SCP")
    calling_ae = local_ae_field()
    study = forms.IntegerField(label="Study", required=False, min_value=1,
                               help_text="Archive study ID of the performed study.")
    action = forms.ChoiceField(choices=[(a.value, ACTION_LABELS[a]) for a in ACTION_LABELS],
                               initial=MppsAction.CREATE_COMPLETE.value)
    mpps_instance_uid = forms.CharField(
        label="MPPS SOP Instance UID", required=False, max_length=64,
        help_text="The step to set (from an earlier MPPS job), or the UID to create "
                  "(default: a new one).")
    performed_procedure_step_id = forms.CharField(
        label="Performed Procedure Step ID", required=False, max_length=16)

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"ae": data["ae"].pk,
                "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
                "study": data["study"], "action": data["action"],
                "mpps_instance_uid": data["mpps_instance_uid"] or None,
                "performed_procedure_step_id": data["performed_procedure_step_id"] or None}


def command_lines(params: MppsParams) -> list[CommandLine]:
    """dcm4che's mppsscu always sends N-CREATE then N-SET (COMPLETED, or DISCONTINUED with
    --dc) for the study files it scans; there is no equivalent for one request alone, and
    DCMTK has no MPPS tool."""
    if params.action not in (MppsAction.CREATE_COMPLETE, MppsAction.CREATE_DISCONTINUE) \
            or params.study is None:
        return []
    remote = ApplicationEntity.objects.get(pk=params.ae)
    calling = calling_ae_title(params.calling_ae)
    options = " --dc" if params.action == MppsAction.CREATE_DISCONTINUE else ""
    if params.mpps_instance_uid:
        options += f" --ppsuid {params.mpps_instance_uid}"
    if params.performed_procedure_step_id:
        options += f" --ppsid {shlex.quote(params.performed_procedure_step_id)}"
    (folder,) = study_folders([params.study])
    return [CommandLine("dcm4che",
                        f"mppsscu {dcm4che_connection(remote, calling)}{options} {folder}")]


MPPS_KIND: JobKind[MppsParams] = JobKind(
    name="mpps",
    label="Modality Performed Procedure Step",
    params_schema=MppsParams,
    run=run,
    describe=describe,
    form=MppsForm,
    command_lines=command_lines,
)
