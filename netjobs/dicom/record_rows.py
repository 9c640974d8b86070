"""The rows an association record is written as: its presentation contexts as negotiated,
and the DIMSE messages collected while it ran."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynetdicom.association import Association as PynetdicomAssociation

from netjobs.dicom.status import StatusCategory, describe_status
from netjobs.models import Association, DimseDirection, DimseMessage, PresentationContext


@dataclass
class RecordedMessage:
    """A DIMSE message as collected in memory, before the association ends."""

    at: datetime
    direction: DimseDirection
    command: str
    message_id: int | None
    context_id: int | None
    status: int | None
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    error_comment: str = ""

    @property
    def is_failed_response(self) -> bool:
        """A response whose status is a failure (a warning or pending one is not)."""
        return self.status is not None and describe_status(
            self.status, self.command).category == StatusCategory.FAILURE

    def row(self, record: Association) -> DimseMessage:
        meaning = "" if self.status is None else str(describe_status(self.status, self.command))
        return DimseMessage(
            association=record, at=self.at, direction=self.direction, command=self.command,
            message_id=self.message_id, context_id=self.context_id, status=self.status,
            status_meaning=meaning, affected_sop_class_uid=self.affected_sop_class_uid,
            affected_sop_instance_uid=self.affected_sop_instance_uid,
            error_comment=self.error_comment[:1024],
        )


def error_comment_of(command: object) -> str:
    """The Error Comment (0000,0902) of a command set, as text ("" when absent)."""
    getter = getattr(command, "get", None)
    value = getter("ErrorComment", "") if getter is not None else ""
    return str(value or "").strip()


def context_rows(record: Association,
                 assoc: PynetdicomAssociation) -> list[PresentationContext]:
    """Each presentation context the requestor proposed, with the acceptor's answer."""
    results = {cx.context_id: cx for cx in assoc.accepted_contexts + assoc.rejected_contexts}
    try:
        requested = assoc.requestor.requested_contexts
    except ValueError:  # no A-ASSOCIATE-RQ arrived (garbage, timeout)
        requested = []
    rows = []
    for cx in requested:
        answer = results.get(cx.context_id)
        accepted = answer is not None and answer.result == 0 and bool(answer.transfer_syntax)
        rows.append(PresentationContext(
            association=record,
            context_id=cx.context_id or 0,
            abstract_syntax=str(cx.abstract_syntax or ""),
            proposed_transfer_syntaxes=[str(ts) for ts in cx.transfer_syntax],
            result=None if answer is None else answer.result,
            accepted_transfer_syntax=str(answer.transfer_syntax[0])
            if accepted and answer is not None else "",
            scu_role=None if answer is None else answer.as_scu,
            scp_role=None if answer is None else answer.as_scp,
        ))
    return rows
