"""What the N-service SCU kinds (MPPS, IAN, storage commitment) share: the transfer
syntaxes they propose, the reading of a response's Status and Error Comment, and the
connection options of dcm4che's tools."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import RE_VALID_UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.association import Association as PynetdicomAssociation

from netjobs.dicom.explain import explain_connection_lost
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.status import StatusCategory, StatusInfo, describe_status
from netjobs.models import ApplicationEntity, ItemOutcome
from netjobs.operations.echo import why_no_response

N_SERVICE_SYNTAXES = [str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)]


# --- parameters ---------------------------------------------------------------------------
def is_valid_uid(value: str) -> bool:
    """PS3.5 9.1: digits and dots, no leading zero in a component, at most 64 characters."""
    return len(value) <= 64 and RE_VALID_UID.match(value) is not None


def valid_uid(value: str | None) -> str | None:
    if value is not None and not is_valid_uid(value):
        raise ValueError(f"{value!r} is not a valid UID")
    return value


# --- N-service responses ------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """The Status of an N-service response (None: no response) and its Error Comment."""

    status: StatusInfo | None
    comment: str = ""

    @property
    def done(self) -> bool:
        """Success or warning: the SCP did what was asked."""
        return self.status is not None and self.status.category in (
            StatusCategory.SUCCESS, StatusCategory.WARNING)

    @property
    def item_outcome(self) -> ItemOutcome:
        if self.status is None or not self.done:
            return ItemOutcome.FAILED
        if self.status.category == StatusCategory.WARNING:
            return ItemOutcome.WARNING
        return ItemOutcome.SUCCEEDED

    def __str__(self) -> str:
        if self.status is None:
            return "no response"
        return f"{self.status} ({self.comment})" if self.comment else str(self.status)


def answer_of(response: Dataset, service: str) -> Answer:
    if "Status" not in response:
        return Answer(None)
    comment = str(response.get("ErrorComment", "") or "").strip()
    return Answer(describe_status(int(response.Status), service), comment)


def no_answer_reason(assoc: PynetdicomAssociation, recorder: AssociationRecorder,
                     elapsed: float, remote: ApplicationEntity) -> str:
    return why_no_response(assoc, recorder, elapsed, remote.dimse_timeout) \
        or explain_connection_lost()


def dcm4che_connection(remote: ApplicationEntity, calling: str, bind: str | None = None) -> str:
    """dcm4che's ``-c`` (the peer), ``-b`` (our AE title, or ``bind``: AET:port when the
    tool must listen too) and ``--tls`` options."""
    tls = " --tls" if remote.tls_enabled else ""
    peer = shlex.quote(f"{remote.ae_title}@{remote.host}:{remote.port}")
    return f"-c {peer} -b {shlex.quote(bind or calling)}{tls}"
