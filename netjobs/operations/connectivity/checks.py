"""The three checks of a remote AE: C-ECHO, a C-MOVE of a study that exists nowhere to the
console's own AE title (does the remote AE know it as a destination?), and one presentation
context per common SOP class and transfer syntax (which does it accept?)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    UltrasoundImageStorage,
    Verification,
)

from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.dicom.status import DimseStatus, StatusCategory, StatusInfo
from netjobs.jobs.base import JobContext
from netjobs.models import (
    ApplicationEntity,
    Association,
    AssociationOutcome,
    ContextResult,
    PresentationContext,
)
from netjobs.models.associations import uid_name
from netjobs.operations.connectivity.address import ConsoleAddress
from netjobs.operations.echo import VerificationRejected, verify
from netjobs.operations.qr.dimse import ServiceRejected
from netjobs.operations.qr.move import move

# A study UID that exists nowhere: the nil UUID under the 2.25 arc (PS3.5 B.2).
ABSENT_STUDY_UID = "2.25.0"
MAX_CONTEXTS = 128  # per association (PS3.8 9.3.2.2: odd context IDs 1–255)
PROBED_SOP_CLASSES = [
    CTImageStorage, MRImageStorage, ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation, UltrasoundImageStorage,
    SecondaryCaptureImageStorage, Verification, StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelGet,
]
PROBED_SYNTAXES = [
    ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGLosslessSV1, JPEGLSLossless,
    JPEG2000Lossless, JPEG2000, RLELossless,
]
NOT_NEGOTIATED = "not_negotiated"
CELL_CODES = {
    ContextResult.ACCEPTANCE: "accepted",
    ContextResult.USER_REJECTION: "user_rejection",
    ContextResult.NO_REASON: "no_reason",
    ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED: "sop_class_not_supported",
    ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED: "transfer_syntax_not_supported",
}


# --- (a) C-ECHO ---------------------------------------------------------------------------
@dataclass(frozen=True)
class EchoFinding:
    ok: bool
    reachable: bool  # an association could be established
    explanation: str
    status: str = ""
    round_trip_ms: float | None = None


def check_echo(ctx: JobContext, remote: ApplicationEntity, calling: str) -> EchoFinding:
    try:
        session = verify(remote, calling, job=ctx.job, cancel=ctx.cancel_event)
    except AssociationFailed as exc:
        if exc.record.outcome != AssociationOutcome.REJECTED and _refused_contexts(exc.record):
            return EchoFinding(False, True, f"{remote.ae_title} does not accept Verification: "
                                            f"{exc.record.explanation}")
        return EchoFinding(False, False, str(exc))
    except TlsSetupFailed as exc:
        return EchoFinding(False, False, str(exc))
    except VerificationRejected as exc:
        return EchoFinding(False, True, str(exc))
    reply = session.replies[-1] if session.replies else None
    if reply is None or reply.status is None:
        return EchoFinding(False, True, session.failure or "No C-ECHO response.")
    ok = reply.status.code == DimseStatus.SUCCESS
    text = (f"{remote.ae_title} answered C-ECHO: {reply.status}." if ok else
            f"{remote.ae_title} answered C-ECHO with {reply.status}.")
    return EchoFinding(ok, True, text, reply.status.hex, round(reply.round_trip_ms, 2))


# --- (b) C-MOVE to the console ------------------------------------------------------------
class MoveVerdict(StrEnum):
    KNOWS_CONSOLE = "knows_console"
    DOES_NOT_KNOW_CONSOLE = "does_not_know_console"
    MOVE_FAILED = "move_failed"  # for another reason: the test cannot tell
    MOVE_NOT_OFFERED = "move_not_offered"  # no Study Root C-MOVE on this AE
    NO_ASSOCIATION = "no_association"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class MoveFinding:
    verdict: MoveVerdict
    explanation: str
    status: str = ""
    status_text: str = ""


def absent_study() -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = ABSENT_STUDY_UID
    return identifier


def judge_move(final: StatusInfo | None, comment: str, completed: int,
               remote: ApplicationEntity, console: ConsoleAddress) -> MoveFinding:
    """What the final C-MOVE response says about the remote AE knowing the console."""
    name, title = remote.ae_title, console.ae_title
    if final is None:
        return MoveFinding(MoveVerdict.MOVE_FAILED,
                           f"{name} did not answer the C-MOVE, so the test cannot tell "
                           f"whether it knows {title}.")
    said = f"{final} ({comment})" if comment else str(final)
    common = {"status": final.hex, "status_text": said}
    if final.code == DimseStatus.MOVE_DESTINATION_UNKNOWN:
        return MoveFinding(MoveVerdict.DOES_NOT_KNOW_CONSOLE,
                           f"{name} does not know {title} as a move destination (it answered "
                           f"{said}). It cannot send studies to the console until it is "
                           "configured with the console's AE title, host and port.", **common)
    if final.category in (StatusCategory.SUCCESS, StatusCategory.WARNING) or final.code in (
            DimseStatus.SUB_OPERATIONS_FAILED, DimseStatus.SUB_OPERATIONS_WITH_FAILURES):
        sent = f" It sent {completed} instance(s)." if completed else (
            " Nothing matched the test's study UID, so no instance was sent: most archives "
            "check the destination before searching, a few only once something matches, and "
            "only a real move proves that the host and port it has for the console are right.")
        return MoveFinding(MoveVerdict.KNOWS_CONSOLE,
                           f"{name} accepted a C-MOVE to {title} (it answered {said}), so it "
                           f"knows that AE title as a destination.{sent}", **common)
    return MoveFinding(MoveVerdict.MOVE_FAILED,
                       f"The C-MOVE failed for another reason: {name} answered {said}. The "
                       f"test cannot tell whether it knows {title}.", **common)


def _refused_contexts(record: Association) -> bool:
    """The association failed because the peer accepted none of the contexts."""
    results = list(record.presentation_contexts.values_list("result", flat=True))
    return bool(results) and all(r not in (None, ContextResult.ACCEPTANCE) for r in results)


def move_to_self(ctx: JobContext, remote: ApplicationEntity, calling: str,
                 console: ConsoleAddress) -> MoveFinding:
    try:  # the move job's own C-MOVE: cancel and timeouts handled, every status recorded
        session = move(remote, calling, absent_study(),
                       str(StudyRootQueryRetrieveInformationModelMove), console.ae_title,
                       on_progress=lambda counts: None, job=ctx.job, cancel=ctx.cancel_event)
    except ServiceRejected as exc:
        return MoveFinding(MoveVerdict.MOVE_NOT_OFFERED,
                           f"{remote.ae_title} does not offer Study Root C-MOVE, so the move "
                           f"test does not apply. {exc}")
    except AssociationFailed as exc:
        if exc.record.outcome != AssociationOutcome.REJECTED and _refused_contexts(exc.record):
            return MoveFinding(MoveVerdict.MOVE_NOT_OFFERED,
                               f"{remote.ae_title} does not offer Study Root C-MOVE, so the "
                               f"move test does not apply. {exc.record.explanation}")
        return MoveFinding(MoveVerdict.NO_ASSOCIATION, f"No association for the C-MOVE: {exc}")
    except TlsSetupFailed as exc:
        return MoveFinding(MoveVerdict.NO_ASSOCIATION, str(exc))
    if session.final is None and session.failure:
        return MoveFinding(MoveVerdict.MOVE_FAILED,
                           f"The C-MOVE got no final answer: {session.failure}")
    return judge_move(session.final, session.comment, session.counts.completed, remote,
                      console)


# --- (c) transfer syntaxes ----------------------------------------------------------------
def probe_pairs() -> list[tuple[str, str]]:
    return [(str(sop), str(ts)) for sop in PROBED_SOP_CLASSES for ts in PROBED_SYNTAXES]


def batches(pairs: list[tuple[str, str]], size: int = MAX_CONTEXTS
            ) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(pairs), size):
        yield pairs[start:start + size]


def negotiated_cells(record: Association) -> dict[tuple[str, str], str]:
    """(SOP class, transfer syntax) → the answer, from the association's recorded contexts
    (each proposed one transfer syntax)."""
    cells: dict[tuple[str, str], str] = {}
    rows = PresentationContext.objects.filter(association=record).values_list(
        "abstract_syntax", "proposed_transfer_syntaxes", "result")
    for abstract_syntax, proposed, result in rows:
        key = (abstract_syntax, (proposed or [""])[0])
        cells[key] = NOT_NEGOTIATED if result is None else CELL_CODES.get(
            ContextResult(result), NOT_NEGOTIATED)
    return cells


@dataclass(frozen=True)
class SyntaxProbe:
    cells: dict[tuple[str, str], str]
    associations: int
    problems: list[str]


def probe_syntaxes(ctx: JobContext, remote: ApplicationEntity, calling: str) -> SyntaxProbe:
    cells: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    count = 0
    for batch in batches(probe_pairs()):
        ctx.check_cancelled()
        count += 1
        contexts = [(sop, [ts]) for sop, ts in batch]
        try:
            with requested_association(remote=remote, calling_ae_title=calling,
                                       contexts=contexts, job=ctx.job) as (_assoc, recorder):
                record = recorder.record
        except AssociationFailed as exc:
            record = exc.record
            if not _refused_contexts(record):
                problems.append(str(exc))
        except TlsSetupFailed as exc:
            problems.append(str(exc))
            break
        cells.update(negotiated_cells(record))
    return SyntaxProbe(cells, count, problems)


def matrix(probe: SyntaxProbe) -> dict[str, Any]:
    """Rows per SOP class, a cell per transfer syntax, for the result and the page."""
    rows = []
    for sop in PROBED_SOP_CLASSES:
        row_cells = [probe.cells.get((str(sop), str(ts)), NOT_NEGOTIATED)
                     for ts in PROBED_SYNTAXES]
        rows.append({"uid": str(sop), "name": uid_name(str(sop)), "cells": row_cells,
                     "accepted": [str(ts) for ts, c in zip(PROBED_SYNTAXES, row_cells,
                                                            strict=True) if c == "accepted"]})
    return {"syntaxes": [{"uid": str(ts), "name": uid_name(str(ts))} for ts in PROBED_SYNTAXES],
            "rows": rows, "associations": probe.associations,
            "problems": probe.problems}
