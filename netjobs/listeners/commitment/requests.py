"""Reading and checking an N-ACTION Request Storage Commitment (PS3.4 J.3.2)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.sop_class import StorageCommitmentPushModelInstance

from netjobs.dicom.status import DimseStatus, describe_status
from netjobs.listeners.notification_data import Refusal

logger = logging.getLogger(__name__)

ACTION_REQUEST_STORAGE_COMMITMENT = 1  # Action Type ID, PS3.4 Table J.3-1
EVENT_ALL_COMMITTED = 1  # Event Type IDs, PS3.4 Table J.3-2
EVENT_FAILURES_EXIST = 2
REPORT_TRANSFER_SYNTAXES = [str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)]
REPORT_MESSAGE_ID = 1
RESPONSE_WAIT_SECONDS = 30.0  # for pynetdicom to hand the N-ACTION response to the network
LOOKUP_CHUNK = 500  # SOP Instance UIDs per archive query

# Failure Reason (0008,1197) values of PS3.3 C.14 that this SCP gives, with their meaning.
FAILURE_REASONS: dict[int, str] = {
    DimseStatus.PROCESSING_FAILURE: "Processing failure",
    DimseStatus.NO_SUCH_OBJECT_INSTANCE: "No such object instance",
    DimseStatus.CLASS_INSTANCE_CONFLICT: "Class-instance conflict",
}


def describe_failure_reason(code: int) -> str:
    meaning = FAILURE_REASONS.get(code) or describe_status(code, "N-EVENT-REPORT").meaning
    return f"0x{code:04X} {meaning}".rstrip()


# --- the request ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """One item of the Referenced SOP Sequence (0008,1199)."""

    sop_class_uid: str
    sop_instance_uid: str

    def as_dict(self) -> dict[str, str]:
        return {"sop_class_uid": self.sop_class_uid, "sop_instance_uid": self.sop_instance_uid}


def _uid(dataset: Dataset, keyword: str, what: str) -> str:
    """A Type 1 UID of ``dataset``: present, not empty, one valid UID (PS3.5 9.1)."""
    if keyword not in dataset:
        raise Refusal(DimseStatus.INVALID_ARGUMENT_VALUE, f"{what} is missing")
    value = dataset[keyword].value
    if isinstance(value, MultiValue | list):
        raise Refusal(DimseStatus.INVALID_ARGUMENT_VALUE, f"{what} has several values")
    uid = str(value or "").strip("\x00 ")
    if not uid:
        raise Refusal(DimseStatus.INVALID_ARGUMENT_VALUE, f"{what} is empty")
    if not UID(uid).is_valid:
        raise Refusal(DimseStatus.INVALID_ARGUMENT_VALUE, f"{what} {uid!r} is not a valid UID")
    return uid


def _references(information: Dataset) -> list[Reference]:
    if "ReferencedSOPSequence" not in information:
        raise Refusal(DimseStatus.INVALID_ARGUMENT_VALUE, "Referenced SOP Sequence (0008,1199) is "
                      "missing")
    items = list(information.ReferencedSOPSequence or [])
    if not items:
        raise Refusal(DimseStatus.INVALID_ARGUMENT_VALUE, "Referenced SOP Sequence "
                      "(0008,1199) has no item")
    return [Reference(
        _uid(item, "ReferencedSOPClassUID", f"Referenced SOP Class UID of item {number}"),
        _uid(item, "ReferencedSOPInstanceUID", f"Referenced SOP Instance UID of item {number}"),
    ) for number, item in enumerate(items, start=1)]


def parse_request(information: Dataset) -> tuple[str, list[Reference]]:
    """The Transaction UID and the references of an N-ACTION's Action Information
    (PS3.4 J.3.2.1.1); raises Refusal with the status to answer."""
    try:
        transaction_uid = _uid(information, "TransactionUID", "Transaction UID (0008,1195)")
        return transaction_uid, _references(information)
    except Refusal:
        raise
    except Exception as exc:  # pydicom decodes lazily and raises many kinds on bad data
        raise Refusal(DimseStatus.PROCESSING_FAILURE,
                      f"the Action Information cannot be decoded: {exc}") from exc


def check_action(request: Any) -> None:
    """The N-ACTION asks for storage commitment of the well-known SOP instance."""
    if request.ActionTypeID != ACTION_REQUEST_STORAGE_COMMITMENT:
        raise Refusal(DimseStatus.NO_SUCH_ACTION_TYPE,
                      f"Action Type ID {request.ActionTypeID} is not 1 (Request Storage "
                      "Commitment)")
    instance = str(request.RequestedSOPInstanceUID or "")
    if instance != StorageCommitmentPushModelInstance:
        raise Refusal(DimseStatus.NO_SUCH_OBJECT_INSTANCE,
                      f"Requested SOP Instance UID {instance!r} is not the well-known "
                      f"{StorageCommitmentPushModelInstance}")
