"""Reading the attribute lists of N-CREATE and N-SET requests (MPPS and IAN): values as the
model stores them, DICOM date and time as aware datetimes, and refusals with their status."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import RE_VALID_UID
from pydicom.valuerep import DA, DT, TM

from netjobs.dicom.status import DimseStatus


class Refusal(Exception):
    """The request cannot be honoured: the failure status to answer and why (for the log)."""

    def __init__(self, status: DimseStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def attribute_document(attributes: Dataset) -> dict[str, Any]:
    """The attribute list as DICOM JSON. Decoding every element here means a list that
    cannot be decoded is refused before anything is stored."""
    try:
        return attributes.to_json_dict()
    except Exception as exc:  # pydicom raises many kinds on corrupt encodings
        raise Refusal(DimseStatus.PROCESSING_FAILURE,
                      f"the attribute list cannot be decoded: {exc}") from exc


def checked_instance_uid(uid: str) -> str:
    """A SOP Instance UID the peer chose: it must follow the UID rules (PS3.5 9.1)."""
    if len(uid) > 64 or not re.fullmatch(RE_VALID_UID, uid):
        raise Refusal(DimseStatus.INVALID_OBJECT_INSTANCE,
                      f"{uid!r} is not a valid SOP Instance UID")
    return uid


def text(dataset: Dataset, keyword: str, limit: int) -> str:
    """The element's value as text (multiple values joined by backslash), cut to ``limit``."""
    value = dataset.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def unique_texts(items: Iterable[Dataset], keyword: str, limit: int = 64) -> list[str]:
    """The distinct non-empty values of ``keyword`` across sequence items, in order."""
    values: list[str] = []
    for item in items:
        value = text(item, keyword, limit)
        if value and value not in values:
            values.append(value)
    return values


def sequence_items(dataset: Dataset, keyword: str) -> list[Dataset]:
    value = dataset.get(keyword)
    return list(value) if value else []


def dicom_datetime(dataset: Dataset, date_keyword: str, time_keyword: str) -> datetime | None:
    """Date and time elements as an aware datetime: with the Timezone Offset From UTC when
    the list has one, else in the console's time zone. None when absent or not valid."""
    date = text(dataset, date_keyword, 8)
    if not date:
        return None
    clock = text(dataset, time_keyword, 16) or "000000"
    offset = text(dataset, "TimezoneOffsetFromUTC", 5)
    try:
        if offset:
            parsed = DT(f"{date}{clock}{offset}")
            return datetime.fromisoformat(parsed.isoformat())
        day, moment = DA(date), TM(clock)
    except ValueError:
        return None
    if day is None or moment is None:
        return None
    return timezone.make_aware(datetime.combine(day, moment))


def request_record(operation: str, calling_ae_title: str, result: DimseStatus,
                   attributes: Iterable[str], **details: Any) -> dict[str, Any]:
    """One entry of a notification's history: what was asked, by whom, and the answer."""
    return {
        "at": timezone.now().isoformat(),
        "operation": operation,
        "calling_ae_title": calling_ae_title,
        "result": f"0x{int(result):04X}",
        "attributes": sorted(attributes),
        **details,
    }


def keywords(document: dict[str, Any]) -> list[str]:
    """The keywords (or tags, for private and unknown elements) of a DICOM JSON object."""
    return [keyword_for_tag(int(tag, 16)) or tag for tag in document]
