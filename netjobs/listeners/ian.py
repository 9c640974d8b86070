"""Instance Availability Notification SCP (PS3.4 Annex R).

A peer tells the console, by N-CREATE, which instances of a study are available and where
to retrieve them. ``receive_notification`` is a plain function over decoded inputs;
``on_n_create`` adapts the pynetdicom event to it and never raises."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from netjobs.dicom.status import DimseStatus
from netjobs.listeners.notification_data import (
    Refusal,
    attribute_document,
    checked_instance_uid,
    sequence_items,
    text,
)
from netjobs.models import AvailabilityNotification

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationResult:
    status: DimseStatus
    sop_instance_uid: str
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == DimseStatus.SUCCESS


# --- reading the attributes (PS3.3 C.4.23, Instance Availability Notification Module) ------
def required_text(dataset: Dataset, keyword: str, where: str) -> str:
    if keyword not in dataset:
        raise Refusal(DimseStatus.MISSING_ATTRIBUTE, f"{keyword} is missing{where}")
    value = text(dataset, keyword, 64)
    if not value:
        raise Refusal(DimseStatus.MISSING_ATTRIBUTE_VALUE, f"{keyword} is empty{where}")
    return value


def required_items(dataset: Dataset, keyword: str, where: str) -> list[Dataset]:
    """A Type 1 sequence: present with at least one item."""
    if keyword not in dataset:
        raise Refusal(DimseStatus.MISSING_ATTRIBUTE, f"{keyword} is missing{where}")
    items = sequence_items(dataset, keyword)
    if not items:
        raise Refusal(DimseStatus.MISSING_ATTRIBUTE_VALUE, f"{keyword} has no item{where}")
    return items


def referenced_instance(series_uid: str, item: Dataset, where: str) -> dict[str, Any]:
    retrieve = item.get("RetrieveAETitle") or []
    titles = [retrieve] if isinstance(retrieve, str) else [str(t) for t in retrieve]
    return {
        "series_instance_uid": series_uid,
        "sop_class_uid": required_text(item, "ReferencedSOPClassUID", where),
        "sop_instance_uid": required_text(item, "ReferencedSOPInstanceUID", where),
        "availability": text(item, "InstanceAvailability", 16),
        "retrieve_ae_titles": [t.strip() for t in titles if t.strip()],
    }


def referenced_instances(attributes: Dataset) -> list[dict[str, Any]]:
    """Every instance of Referenced Series Sequence > Referenced SOP Sequence."""
    instances = []
    for number, series in enumerate(
            required_items(attributes, "ReferencedSeriesSequence", ""), start=1):
        series_uid = required_text(series, "SeriesInstanceUID",
                                   f" in Referenced Series item {number}")
        for position, item in enumerate(required_items(
                series, "ReferencedSOPSequence", f" in Referenced Series item {number}"),
                start=1):
            where = f" in Referenced SOP item {position} of series {series_uid}"
            instances.append(referenced_instance(series_uid, item, where))
    return instances


def notification_fields(attributes: Dataset) -> dict[str, Any]:
    """The model fields of a notification; refuses a list without the required elements."""
    if "ReferencedPerformedProcedureStepSequence" not in attributes:  # Type 2: may be empty
        raise Refusal(DimseStatus.MISSING_ATTRIBUTE,
                      "ReferencedPerformedProcedureStepSequence is missing")
    study_uid = required_text(attributes, "StudyInstanceUID", "")
    instances = referenced_instances(attributes)
    accession = text(attributes, "AccessionNumber", 64)
    return {
        "study_instance_uids": [study_uid],
        "accession_numbers": [accession] if accession else [],
        "instances": instances,
        "instance_count": len(instances),
    }


def referenced_step_uids(document: dict[str, Any]) -> list[str]:
    """The MPPS SOP Instance UIDs a notification's DICOM JSON refers to."""
    sequence = document.get("00081111", {}).get("Value") or []
    return [uid for item in sequence
            for uid in (item.get("00081155", {}).get("Value") or [])[:1] if uid]


# --- N-CREATE -----------------------------------------------------------------------------
def receive_notification(attributes: Dataset, sop_instance_uid: str | None,
                         calling_ae_title: str, listener_id: int | None) -> NotificationResult:
    """Store one notification; the SCP assigns the UID when the request has none."""
    uid = sop_instance_uid or generate_uid()
    try:
        checked_instance_uid(uid)
        document = attribute_document(attributes)
        fields = notification_fields(attributes)
    except Refusal as refusal:
        return NotificationResult(refusal.status, uid, refusal.reason)
    try:
        with transaction.atomic():
            AvailabilityNotification.objects.create(
                sop_instance_uid=uid, listener_id=listener_id,
                calling_ae_title=calling_ae_title[:16], dataset=document, **fields)
    except IntegrityError:
        return NotificationResult(DimseStatus.DUPLICATE_SOP_INSTANCE, uid,
                                  "a notification with this UID exists")
    return NotificationResult(DimseStatus.SUCCESS, uid)


def on_n_create(event: Any, listener_id: int) -> tuple[int, Dataset | None]:
    try:
        requested = event.request.AffectedSOPInstanceUID
        calling = str(event.assoc.requestor.ae_title).strip()
        result = receive_notification(event.attribute_list,
                                      str(requested) if requested else None, calling,
                                      listener_id)
    except Exception:
        logger.exception("listener %s: IAN N-CREATE failed", listener_id)
        return DimseStatus.PROCESSING_FAILURE, None
    if not result.succeeded:
        logger.info("listener %s: IAN %s from %s refused (0x%04X): %s", listener_id,
                    result.sop_instance_uid, calling, result.status, result.reason)
        return result.status, None
    if requested:
        return result.status, None
    assigned = Dataset()  # pynetdicom moves it into the N-CREATE-RSP command
    assigned.AffectedSOPInstanceUID = result.sop_instance_uid
    return result.status, assigned
