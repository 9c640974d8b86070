"""Modality Performed Procedure Step SCP (PS3.4 Annex F).

N-CREATE makes a step IN PROGRESS; N-SET updates it until it is COMPLETED or DISCONTINUED,
after which it may no longer be updated. ``create_step`` and ``set_step`` are plain
functions over decoded inputs; ``on_n_create`` and ``on_n_set`` adapt pynetdicom events to
them and never raise."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]

from netjobs.dicom.status import DimseStatus
from netjobs.listeners.notification_data import (
    Refusal,
    attribute_document,
    checked_instance_uid,
    dicom_datetime,
    keywords,
    request_record,
    sequence_items,
    text,
    unique_texts,
)
from netjobs.listeners.retrieve import set_failure_comment
from netjobs.models import PerformedProcedureStep, PerformedProcedureStepStatus

logger = logging.getLogger(__name__)

STATUS_KEYWORD = "PerformedProcedureStepStatus"
FINAL_STATUSES = {PerformedProcedureStepStatus.COMPLETED, PerformedProcedureStepStatus.DISCONTINUED}


@dataclass(frozen=True)
class StepResult:
    """The answer to an N-CREATE or N-SET: its status, the step's SOP Instance UID and, on
    failure, why."""

    status: DimseStatus
    sop_instance_uid: str
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == DimseStatus.SUCCESS


# --- reading the attributes ---------------------------------------------------------------
def step_status(attributes: Dataset, *, required: bool) -> PerformedProcedureStepStatus | None:
    """(0040,0252) of an attribute list: None when absent and not required."""
    if STATUS_KEYWORD not in attributes:
        if required:
            raise Refusal(DimseStatus.MISSING_ATTRIBUTE,
                          "Performed Procedure Step Status (0040,0252) is missing")
        return None
    value = text(attributes, STATUS_KEYWORD, 16)
    if not value:
        raise Refusal(DimseStatus.MISSING_ATTRIBUTE_VALUE,
                      "Performed Procedure Step Status (0040,0252) is empty")
    try:
        return PerformedProcedureStepStatus(value)
    except ValueError:
        raise Refusal(DimseStatus.INVALID_ATTRIBUTE_VALUE,
                      f"Performed Procedure Step Status {value!r} is not one of "
                      "IN PROGRESS, COMPLETED, DISCONTINUED") from None


def step_fields(attributes: Dataset) -> dict[str, Any]:
    """The model fields derived from a step's attributes (PS3.3 C.4.13 to C.4.16)."""
    scheduled = sequence_items(attributes, "ScheduledStepAttributesSequence")
    return {
        "patient_id": text(attributes, "PatientID", 64),
        "patient_name": text(attributes, "PatientName", 200),
        "modality": text(attributes, "Modality", 16),
        "procedure_step_id": text(attributes, "PerformedProcedureStepID", 16),
        "description": text(attributes, "PerformedProcedureStepDescription", 200),
        "station_ae_title": text(attributes, "PerformedStationAETitle", 16),
        "started_at": dicom_datetime(attributes, "PerformedProcedureStepStartDate",
                                     "PerformedProcedureStepStartTime"),
        "ended_at": dicom_datetime(attributes, "PerformedProcedureStepEndDate",
                                   "PerformedProcedureStepEndTime"),
        "study_instance_uids": unique_texts(scheduled, "StudyInstanceUID"),
        "accession_numbers": unique_texts(scheduled, "AccessionNumber"),
    }


# --- N-CREATE -----------------------------------------------------------------------------
def create_step(attributes: Dataset, sop_instance_uid: str | None, calling_ae_title: str,
                listener_id: int | None) -> StepResult:
    """Store a new step from an N-CREATE; the SCP assigns the UID when the request has none."""
    uid = sop_instance_uid or generate_uid()
    try:
        checked_instance_uid(uid)
        document = attribute_document(attributes)
        status = step_status(attributes, required=True)
        if status != PerformedProcedureStepStatus.IN_PROGRESS:
            raise Refusal(DimseStatus.INVALID_ATTRIBUTE_VALUE,
                          f"a step is created IN PROGRESS, not {status}")
        fields = step_fields(attributes)
    except Refusal as refusal:
        return StepResult(refusal.status, uid, refusal.reason)
    record = request_record("N-CREATE", calling_ae_title, DimseStatus.SUCCESS,
                            keywords(document), status=str(status))
    try:
        with transaction.atomic():
            PerformedProcedureStep.objects.create(
                sop_instance_uid=uid, listener_id=listener_id,
                calling_ae_title=calling_ae_title[:16], status=status, dataset=document,
                events=[record], **fields)
    except IntegrityError:
        return StepResult(DimseStatus.DUPLICATE_SOP_INSTANCE, uid,
                          "a performed procedure step with this UID exists")
    return StepResult(DimseStatus.SUCCESS, uid)


def created_attributes(attributes: Dataset, sop_instance_uid: str,
                       assigned: bool) -> Dataset:
    """The N-CREATE-RSP attribute list: the attributes as created, plus the Affected SOP
    Instance UID when the SCP assigned it (pynetdicom moves it into the command)."""
    response = Dataset()
    for element in attributes:
        response.add(element)
    if assigned:
        response.AffectedSOPInstanceUID = sop_instance_uid
    return response


# --- N-SET --------------------------------------------------------------------------------
def set_step(modifications: Dataset, sop_instance_uid: str,
             calling_ae_title: str) -> StepResult:
    """Apply an N-SET modification list to a step that is still IN PROGRESS.

    The row is locked for the short transaction, so concurrent N-SETs on one step apply
    one after the other and the final state is decided once."""
    try:
        changes = attribute_document(modifications)
    except Refusal as refusal:
        return StepResult(refusal.status, sop_instance_uid, refusal.reason)
    with transaction.atomic():
        step = (PerformedProcedureStep.objects.select_for_update()
                .filter(sop_instance_uid=sop_instance_uid).first())
        if step is None:
            return StepResult(DimseStatus.NO_SUCH_OBJECT_INSTANCE, sop_instance_uid,
                              "no performed procedure step has this UID")
        result = _apply(step, modifications, changes)
        step.events = [*step.events, request_record(
            "N-SET", calling_ae_title, result.status, keywords(changes),
            status=step.status, **({"reason": result.reason} if result.reason else {}))]
        step.save()
    return result


def _apply(step: PerformedProcedureStep, modifications: Dataset,
           changes: dict[str, Any]) -> StepResult:
    """Merge the changes into the step (in memory), or say why they cannot be."""
    uid = step.sop_instance_uid
    if step.status in FINAL_STATUSES:
        return StepResult(DimseStatus.MPPS_MAY_NO_LONGER_BE_UPDATED, uid,
                          f"the step is {step.status} and may no longer be updated")
    try:
        new_status = step_status(modifications, required=False)
    except Refusal as refusal:
        return StepResult(refusal.status, uid, refusal.reason)
    merged = dict(sorted({**step.dataset, **changes}.items()))
    for name, value in step_fields(Dataset.from_json(merged)).items():
        setattr(step, name, value)
    step.dataset = merged
    if new_status is not None:
        step.status = new_status
    return StepResult(DimseStatus.SUCCESS, uid)


# --- pynetdicom adapters ------------------------------------------------------------------
def _calling_ae_title(event: Any) -> str:
    return str(event.assoc.requestor.ae_title).strip()


def _answer_failure(event: Any, result: StepResult, listener_id: int, operation: str) -> None:
    logger.info("listener %s: MPPS %s of %s from %s refused (0x%04X): %s", listener_id,
                operation, result.sop_instance_uid, _calling_ae_title(event),
                result.status, result.reason)
    set_failure_comment(event.assoc, event.request.MessageID, result.reason)


def on_n_create(event: Any, listener_id: int) -> tuple[int, Dataset | None]:
    try:
        requested = event.request.AffectedSOPInstanceUID
        attributes = event.attribute_list
        result = create_step(attributes, str(requested) if requested else None,
                             _calling_ae_title(event), listener_id)
        if not result.succeeded:
            _answer_failure(event, result, listener_id, "N-CREATE")
            return result.status, None
        return result.status, created_attributes(attributes, result.sop_instance_uid,
                                                  assigned=not requested)
    except Exception:
        logger.exception("listener %s: MPPS N-CREATE failed", listener_id)
        return DimseStatus.PROCESSING_FAILURE, None


def on_n_set(event: Any, listener_id: int) -> tuple[int, Dataset | None]:
    try:
        if event.request.RequestedSOPClassUID != ModalityPerformedProcedureStep:
            return DimseStatus.NO_SUCH_SOP_CLASS, None
        uid = str(event.request.RequestedSOPInstanceUID or "")
        result = set_step(event.modification_list, uid, _calling_ae_title(event))
        if not result.succeeded:
            _answer_failure(event, result, listener_id, "N-SET")
        return result.status, None
    except Exception:
        logger.exception("listener %s: MPPS N-SET failed", listener_id)
        return DimseStatus.PROCESSING_FAILURE, None
