"""Checking referenced instances against the archive, and the event information of the
report (PS3.4 J.3.3)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID

from archive.models import Instance
from archive.storage import absolute_path
from netjobs.dicom.status import DimseStatus
from netjobs.listeners.commitment.requests import (
    EVENT_ALL_COMMITTED,
    EVENT_FAILURES_EXIST,
    LOOKUP_CHUNK,
    Reference,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    reference: Reference
    reason: DimseStatus
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.reference.as_dict(), "failure_reason": int(self.reason),
                "detail": self.detail}


@dataclass(frozen=True)
class CommitmentResult:
    committed: list[Reference]
    failed: list[Failure]

    @property
    def event_type_id(self) -> int:
        return EVENT_FAILURES_EXIST if self.failed else EVENT_ALL_COMMITTED


@dataclass(frozen=True)
class ArchivedInstance:
    sop_class_uid: str
    file_path: str


def archived_instances(sop_instance_uids: list[str]) -> dict[str, ArchivedInstance]:
    found: dict[str, ArchivedInstance] = {}
    unique = sorted(set(sop_instance_uids))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        rows = Instance.objects.filter(sop_instance_uid__in=unique[start:start + LOOKUP_CHUNK])
        for uid, sop_class_uid, file_path in rows.values_list(
                "sop_instance_uid", "sop_class_uid", "file_path"):
            found[uid] = ArchivedInstance(sop_class_uid, file_path)
    return found


def _file_is_there(file_path: str) -> bool:
    try:
        return absolute_path(file_path).is_file()
    except (ValueError, OSError):
        return False


def failure_of(reference: Reference, archived: ArchivedInstance | None) -> Failure | None:
    """Why the archive cannot commit to the instance (PS3.4 J.3.2.1.1.2), or None."""
    if archived is None:
        return Failure(reference, DimseStatus.NO_SUCH_OBJECT_INSTANCE, "Not in the archive")
    if archived.sop_class_uid != reference.sop_class_uid:
        return Failure(reference, DimseStatus.CLASS_INSTANCE_CONFLICT,
                       f"Archived as {UID(archived.sop_class_uid).name}, referenced as "
                       f"{UID(reference.sop_class_uid).name}")
    if not _file_is_there(archived.file_path):
        return Failure(reference, DimseStatus.PROCESSING_FAILURE,
                       "Indexed, but its file is missing from the storage")
    return None


def check_references(references: list[Reference]) -> CommitmentResult:
    archived = archived_instances([r.sop_instance_uid for r in references])
    committed: list[Reference] = []
    failed: list[Failure] = []
    for reference in references:
        failure = failure_of(reference, archived.get(reference.sop_instance_uid))
        if failure is None:
            committed.append(reference)
        else:
            failed.append(failure)
    return CommitmentResult(committed, failed)


def _sequence(references: list[Reference], reasons: list[DimseStatus] | None = None
              ) -> list[Dataset]:
    items = []
    for index, reference in enumerate(references):
        item = Dataset()
        item.ReferencedSOPClassUID = reference.sop_class_uid
        item.ReferencedSOPInstanceUID = reference.sop_instance_uid
        if reasons is not None:
            item.FailureReason = int(reasons[index])
        items.append(item)
    return items


def event_information(transaction_uid: str, result: CommitmentResult) -> Dataset:
    """The Event Information of the N-EVENT-REPORT (PS3.4 Table J.3-2)."""
    information = Dataset()
    information.TransactionUID = transaction_uid
    if result.committed:
        information.ReferencedSOPSequence = _sequence(result.committed)
    if result.failed:
        information.FailedSOPSequence = _sequence([f.reference for f in result.failed],
                                                  [f.reason for f in result.failed])
    return information
