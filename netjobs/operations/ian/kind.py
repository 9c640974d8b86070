"""The ``ian`` job kind (ianscu; PS3.4 Annex R): one Instance Availability Notification
N-CREATE per study, referencing every archived instance of it as ONLINE at the retrieve AE
title."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from django import forms
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    InstanceAvailabilityNotification,
    ModalityPerformedProcedureStep,
)

from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.jobs.base import CommandLine, JobContext, JobFailed, JobKind, JobOutcome
from netjobs.jobs.forms import JobForm, local_ae_field, remote_ae_field
from netjobs.models import ApplicationEntity, ItemOutcome, JobItem, JobStatus, Listener, LogLevel
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

AVAILABILITY_ONLINE = "ONLINE"
MAX_STUDIES = 500


# --- the notification ---------------------------------------------------------------------
def referenced_step(mpps_instance_uid: str | None) -> list[Dataset]:
    if not mpps_instance_uid:
        return []
    item = Dataset()
    item.ReferencedSOPClassUID = ModalityPerformedProcedureStep
    item.ReferencedSOPInstanceUID = mpps_instance_uid
    item.PerformedWorkitemCodeSequence = []
    return [item]


def availability_notification(study: ArchivedStudy, retrieve_ae_title: str,
                              mpps_instance_uid: str | None = None) -> Dataset:
    """The N-CREATE attribute list (PS3.3 C.4.23): every instance ONLINE at the AE title."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ReferencedPerformedProcedureStepSequence = referenced_step(mpps_instance_uid)
    ds.StudyInstanceUID = study.study_instance_uid
    if study.accession_number:
        ds.AccessionNumber = study.accession_number
    series_items = []
    for series in study.series:
        series_item = Dataset()
        series_item.SeriesInstanceUID = series.series_instance_uid
        references = []
        for instance in series.instances:
            reference = Dataset()
            reference.ReferencedSOPClassUID = instance.sop_class_uid
            reference.ReferencedSOPInstanceUID = instance.sop_instance_uid
            reference.InstanceAvailability = AVAILABILITY_ONLINE
            reference.RetrieveAETitle = retrieve_ae_title
            references.append(reference)
        series_item.ReferencedSOPSequence = references
        series_items.append(series_item)
    ds.ReferencedSeriesSequence = series_items
    return ds


class IanParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae: int = Field(description="ID of the remote AE (the IAN SCP)")
    calling_ae: int | None = Field(
        default=None, description="ID of the local AE to call from (default: CONSOLE_AE_TITLE)")
    studies: list[int] = Field(min_length=1, max_length=MAX_STUDIES,
                               description="IDs of archive studies: one notification each")
    retrieve_listener: int | None = Field(
        default=None, description="ID of the listener whose AE title goes into Retrieve AE "
                                  "Title (default: the calling AE title)")
    mpps_instance_uid: str | None = Field(
        default=None, description="SOP Instance UID of the MPPS the notifications refer to")

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)
    _check_uid = field_validator("mpps_instance_uid")(valid_uid)

    @field_validator("studies")
    @classmethod
    def _studies_archived(cls, value: list[int]) -> list[int]:
        for study_id in value:
            study_with_instances(study_id)
        return list(dict.fromkeys(value))

    @field_validator("retrieve_listener")
    @classmethod
    def _listener_exists(cls, value: int | None) -> int | None:
        if value is not None and not Listener.objects.filter(pk=value).exists():
            raise ValueError(f"there is no listener with id {value}")
        return value


def retrieve_ae_title(params: IanParams, calling: str) -> str:
    if params.retrieve_listener is not None:
        listener = Listener.objects.filter(pk=params.retrieve_listener).first()
        if listener is not None:
            return listener.ae_title
    return calling


@dataclass(frozen=True)
class NotificationResult:
    study: ArchivedStudy
    sop_instance_uid: str
    answer: Answer
    problem: str = ""  # why no response came


def notify(assoc: PynetdicomAssociation, recorder: AssociationRecorder,
           remote: ApplicationEntity, study: ArchivedStudy, retrieve: str,
           mpps_instance_uid: str | None) -> NotificationResult:
    """One IAN N-CREATE; the SCU gives the SOP Instance UID (PS3.4 R.3.1)."""
    uid = generate_uid()
    attributes = availability_notification(study, retrieve, mpps_instance_uid)
    started = perf_counter()
    response, _ = assoc.send_n_create(attributes, InstanceAvailabilityNotification, uid)
    answer = answer_of(response, "N-CREATE")
    problem = "" if answer.status is not None else no_answer_reason(
        assoc, recorder, perf_counter() - started, remote)
    return NotificationResult(study, uid, answer, problem)


def item_of(ctx: JobContext, result: NotificationResult) -> JobItem:
    study = result.study
    what = (f"{len(study.instances)} instance(s) in {len(study.series)} series; "
            f"notification {result.sop_instance_uid}")
    message = f"{result.answer}: {result.problem}" if result.problem else str(result.answer)
    return JobItem(job=ctx.job, name=f"Study {study.study_instance_uid}"[:512],
                   outcome=result.answer.item_outcome, message=f"{message}. {what}"[:4000],
                   status=None if result.answer.status is None else result.answer.status.code,
                   sop_instance_uid=result.sop_instance_uid)


def skipped_item(ctx: JobContext, study: ArchivedStudy, why: str) -> JobItem:
    return JobItem(job=ctx.job, name=f"Study {study.study_instance_uid}"[:512],
                   outcome=ItemOutcome.SKIPPED, message=why[:4000])


def send_notifications(ctx: JobContext, assoc: PynetdicomAssociation,
                       recorder: AssociationRecorder, remote: ApplicationEntity,
                       studies: Sequence[ArchivedStudy], retrieve: str,
                       mpps_instance_uid: str | None) -> str:
    """Notify each study in turn, recording an item per study; returns why it stopped early
    ("" when every study was notified)."""
    for index, study in enumerate(studies):
        stop = ""
        if ctx.cancel_requested:
            stop = "Cancelled by an operator before this study was notified."
        elif not assoc.is_established:
            stop = f"Not sent: the association ended. {recorder.explanation_so_far()}".strip()
        if stop:
            JobItem.objects.bulk_create([skipped_item(ctx, s, stop) for s in studies[index:]])
            return stop
        result = notify(assoc, recorder, remote, study, retrieve, mpps_instance_uid)
        item_of(ctx, result).save()
        ctx.add_counters(**{result.answer.item_outcome.value: 1})
        ctx.set_progress(index + 1)
        if not result.answer.done:
            ctx.log(f"IAN for {study}: {result.answer}"
                    + (f" — {result.problem}" if result.problem else ""), LogLevel.WARNING)
        if result.answer.status is None:  # no answer: the rest cannot be sent either
            why = f"Not sent: no answer to the previous notification. {result.problem}"
            JobItem.objects.bulk_create([skipped_item(ctx, s, why.strip())
                                         for s in studies[index + 1:]])
            return result.problem
    return ""


def describe(params: IanParams) -> str:
    target = ae_label(params.ae)
    count = len(params.studies)
    return f"IAN of {count} stud{'y' if count == 1 else 'ies'} to {target}"


def run(ctx: JobContext, params: IanParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    retrieve = retrieve_ae_title(params, calling)
    try:
        studies = [archived_study(study_id) for study_id in params.studies]
    except StudyMissing as exc:
        raise JobFailed(str(exc)) from exc
    ctx.set_progress(0, len(studies))
    ctx.log(f"Notifying {remote.ae_title} at {remote.host}:{remote.port} as {calling} of "
            f"{len(studies)} study(ies), retrievable ONLINE from {retrieve}.")
    contexts = [(str(InstanceAvailabilityNotification), N_SERVICE_SYNTAXES)]
    try:
        with requested_association(remote=remote, calling_ae_title=calling, contexts=contexts,
                                   job=ctx.job) as (assoc, recorder):
            stopped = send_notifications(ctx, assoc, recorder, remote, studies, retrieve,
                                         params.mpps_instance_uid)
    except (AssociationFailed, TlsSetupFailed) as exc:
        raise JobFailed(str(exc)) from exc
    return outcome_of(ctx, retrieve, stopped)


def outcome_of(ctx: JobContext, retrieve: str, stopped: str) -> JobOutcome:
    outcomes = list(ctx.job.items.values_list("outcome", flat=True))
    done = sum(1 for o in outcomes if o in (ItemOutcome.SUCCEEDED, ItemOutcome.WARNING))
    failed = sum(1 for o in outcomes if o == ItemOutcome.FAILED)
    result: dict[str, Any] = {"studies": len(outcomes), "notified": done, "failed": failed,
                              "not_sent": len(outcomes) - done - failed,
                              "retrieve_ae_title": retrieve}
    if ctx.cancel_requested and stopped:
        return JobOutcome(JobStatus.CANCELLED, result, error="Cancelled by an operator.")
    if done == len(outcomes):
        return JobOutcome(JobStatus.SUCCEEDED, result)
    error = stopped or f"{failed} of {len(outcomes)} notification(s) refused by the peer."
    return JobOutcome(JobStatus.PARTIAL if done else JobStatus.FAILED, result, error=error)


# --- form and command lines ---------------------------------------------------------------
def parse_ids(value: str) -> list[int]:
    """"12, 13 14" → [12, 13, 14]."""
    try:
        return [int(part) for part in value.replace(",", " ").split()]
    except ValueError:
        raise forms.ValidationError(
            "Give archive study IDs: numbers separated by commas.") from None


class IanForm(JobForm):
    ae = remote_ae_field(label="IAN SCP")
    calling_ae = local_ae_field()
    studies = forms.CharField(label="Studies", help_text="Archive study IDs, comma separated: "
                                                         "one notification per study.")
    retrieve_listener = forms.ModelChoiceField(
        Listener.objects.order_by("name"), required=False, label="Retrieve AE title from",
        help_text="Listener whose AE title is the Retrieve AE Title (default: the calling "
                  "AE title).")
    mpps_instance_uid = forms.CharField(
        label="MPPS SOP Instance UID", required=False, max_length=64,
        help_text="Referenced Performed Procedure Step (optional).")

    def clean_studies(self) -> list[int]:
        ids = parse_ids(self.cleaned_data["studies"])
        if not ids:
            raise forms.ValidationError("Give at least one study.")
        return ids

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"ae": data["ae"].pk,
                "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
                "studies": data["studies"],
                "retrieve_listener": (data["retrieve_listener"].pk
                                      if data["retrieve_listener"] else None),
                "mpps_instance_uid": data["mpps_instance_uid"] or None}


def command_lines(params: IanParams) -> list[CommandLine]:
    """dcm4che's ianscu scans the study folders and sends one N-CREATE per study. DCMTK has
    no IAN tool."""
    remote = ApplicationEntity.objects.get(pk=params.ae)
    calling = calling_ae_title(params.calling_ae)
    retrieve = retrieve_ae_title(params, calling)
    folders = " ".join(study_folders(params.studies))
    return [CommandLine("dcm4che", f"ianscu {dcm4che_connection(remote, calling)} "
                                   f"--retrieve-aet {retrieve} {folders}")]


IAN_KIND: JobKind[IanParams] = JobKind(
    name="ian",
    label="Instance Availability Notification",
    params_schema=IanParams,
    run=run,
    describe=describe,
    form=IanForm,
    command_lines=command_lines,
)
