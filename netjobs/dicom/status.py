"""DIMSE status codes: the named values code uses, and a describer for any code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from django.db.models import Q
from pynetdicom import status as pnd_status


class DimseStatus(IntEnum):
    """Status values the console names in code (PS3.7 Annex C and the service classes)."""

    SUCCESS = 0x0000
    CANCEL = 0xFE00
    PENDING = 0xFF00
    PENDING_WARNING = 0xFF01
    REFUSED_SOP_CLASS_NOT_SUPPORTED = 0x0122
    PROCESSING_FAILURE = 0x0110
    OUT_OF_RESOURCES = 0xA700
    DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    CANNOT_UNDERSTAND = 0xC000
    DUPLICATE_SOP_INSTANCE = 0x0111
    MOVE_DESTINATION_UNKNOWN = 0xA801
    SUB_OPERATIONS_FAILED = 0xA702  # C-MOVE/C-GET: every sub-operation failed
    SUB_OPERATIONS_WITH_FAILURES = 0xB000  # C-MOVE/C-GET: some failed or had warnings
    INVALID_ATTRIBUTE_VALUE = 0x0106
    ATTRIBUTE_LIST_ERROR = 0x0107  # warning
    NO_SUCH_OBJECT_INSTANCE = 0x0112
    INVALID_OBJECT_INSTANCE = 0x0117
    NO_SUCH_SOP_CLASS = 0x0118
    CLASS_INSTANCE_CONFLICT = 0x0119  # also a Storage Commitment Failure Reason (PS3.3 C.14)
    MISSING_ATTRIBUTE = 0x0120
    MISSING_ATTRIBUTE_VALUE = 0x0121
    NO_SUCH_ACTION_TYPE = 0x0123
    NO_SUCH_EVENT_TYPE = 0x0113  # N-EVENT-REPORT
    NO_SUCH_ARGUMENT = 0x0114  # N-ACTION
    INVALID_ARGUMENT_VALUE = 0x0115  # N-ACTION: an argument missing, empty or malformed
    NOT_AUTHORIZED = 0x0124
    # PS3.4 F.7.2.2: an N-SET on a COMPLETED or DISCONTINUED step is a processing failure
    # whose comment says "Performed Procedure Step Object may no longer be updated".
    MPPS_MAY_NO_LONGER_BE_UPDATED = 0x0110


class StatusCategory(StrEnum):
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    CANCEL = "cancel"
    PENDING = "pending"
    UNKNOWN = "unknown"


_CATEGORY_BY_PYNETDICOM = {
    pnd_status.STATUS_SUCCESS: StatusCategory.SUCCESS,
    pnd_status.STATUS_WARNING: StatusCategory.WARNING,
    pnd_status.STATUS_FAILURE: StatusCategory.FAILURE,
    pnd_status.STATUS_CANCEL: StatusCategory.CANCEL,
    pnd_status.STATUS_PENDING: StatusCategory.PENDING,
    pnd_status.STATUS_UNKNOWN: StatusCategory.UNKNOWN,
}

# The service tables of pynetdicom, searched in this order for a code's meaning.
_SERVICE_TABLES: dict[str, dict[int, tuple[str, str]]] = {
    "C-ECHO": pnd_status.VERIFICATION_SERVICE_CLASS_STATUS,
    "C-STORE": pnd_status.STORAGE_SERVICE_CLASS_STATUS,
    "C-FIND": pnd_status.QR_FIND_SERVICE_CLASS_STATUS,
    "C-MOVE": pnd_status.QR_MOVE_SERVICE_CLASS_STATUS,
    "C-GET": pnd_status.QR_GET_SERVICE_CLASS_STATUS,
    "N-CREATE": pnd_status.PROCEDURE_STEP_STATUS,
    "N-SET": pnd_status.PROCEDURE_STEP_STATUS,
    "N-ACTION": pnd_status.STORAGE_COMMITMENT_SERVICE_CLASS_STATUS,
    "N-EVENT-REPORT": pnd_status.STORAGE_COMMITMENT_SERVICE_CLASS_STATUS,
}


@dataclass(frozen=True)
class StatusInfo:
    code: int
    category: StatusCategory
    meaning: str

    @property
    def hex(self) -> str:
        return f"0x{self.code:04X}"

    def __str__(self) -> str:
        text = f"{self.hex} {self.category.value}"
        return f"{text}: {self.meaning}" if self.meaning else text


def describe_status(code: int, service: str = "") -> StatusInfo:
    """Category and meaning of a DIMSE status, for the service (``"C-STORE"``…) if given."""
    table = _SERVICE_TABLES.get(service.upper().removesuffix("-RSP").removesuffix("-RQ"))
    entry = (table or {}).get(code) or pnd_status.GENERAL_STATUS.get(code)
    if entry is not None:
        category = _CATEGORY_BY_PYNETDICOM.get(entry[0], StatusCategory.UNKNOWN)
        return StatusInfo(code, category, entry[1])
    category = _CATEGORY_BY_PYNETDICOM.get(
        pnd_status.code_to_category(code), StatusCategory.UNKNOWN
    )
    return StatusInfo(code, category, "")


# Failure codes as pynetdicom's code_to_category classifies them (PS3.7 C.1.4, C.4): the
# scattered general codes below 0x1000, and the service-specific ranges 0xAxxx and 0xCxxx.
_FAILURE_RANGES = ((0xA000, 0xB000), (0xC000, 0xD000))
_GENERAL_FAILURES = tuple(code for code in range(0x1000)
                          if pnd_status.code_to_category(code) == pnd_status.STATUS_FAILURE)


def failure_status_q(field: str = "status") -> Q:
    """A database filter on a status column selecting the codes that :func:`describe_status`
    files under failure (for a service without its own table entry for them)."""
    query = Q(**{f"{field}__in": _GENERAL_FAILURES})
    for low, high in _FAILURE_RANGES:
        query |= Q(**{f"{field}__gte": low, f"{field}__lt": high})
    return query
