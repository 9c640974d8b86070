"""Sending the instances of one planned association, and what became of each.

An instance goes as its file's bytes when the peer accepted its transfer syntax (pynetdicom's
chunked send: no decode, no re-encode). When the peer took only uncompressed syntaxes for
its SOP class, a compressed instance is decompressed first: lossless ones by default, lossy
ones only when the job allows it (dcmsend's --decompress-lossy)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydicom import dcmread
from pydicom.uid import UID

from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.dicom.contexts import UNCOMPRESSED
from netjobs.dicom.status import StatusCategory, describe_status
from netjobs.models import ApplicationEntity, ItemOutcome, Job
from netjobs.operations.echo import why_no_response
from netjobs.operations.store.fastsend import (
    BUSY_DUL_LOOP_DELAY,
    FastSender,
    NotSendableAsStored,
    SendFailed,
)
from netjobs.operations.store.planning import PlannedAssociation
from netjobs.operations.store.sources import SendItem

logger = logging.getLogger(__name__)

LOSSY = frozenset({
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.203",
})


class Decompress(StrEnum):
    NEVER = "never"
    LOSSLESS = "lossless"  # the default: lossless syntaxes only
    LOSSY = "lossy"  # lossy ones too (their pixels were already lossy)


@dataclass(frozen=True)
class SendResult:
    item: SendItem
    outcome: ItemOutcome
    message: str
    status: int | None = None
    sent_syntax: str = ""
    bytes_sent: int = 0


def _accepted(assoc: Any, sop_class: str, syntax: str) -> bool:
    return any(cx.abstract_syntax == sop_class and cx.transfer_syntax[0] == syntax
               and cx.as_scu for cx in assoc.accepted_contexts)


def _uncompressed_accepted(assoc: Any, sop_class: str) -> str | None:
    for cx in assoc.accepted_contexts:
        if cx.abstract_syntax == sop_class and cx.as_scu and \
                cx.transfer_syntax[0] in UNCOMPRESSED:
            return str(cx.transfer_syntax[0])
    return None


def route(item: SendItem, assoc: Any, decompress: Decompress) -> tuple[str, str]:
    """("stored", syntax) | ("convert", syntax) | ("decompress", syntax) | ("refuse", why)."""
    if _accepted(assoc, item.sop_class_uid, item.transfer_syntax_uid):
        return "stored", item.transfer_syntax_uid
    target = _uncompressed_accepted(assoc, item.sop_class_uid)
    own = UID(item.transfer_syntax_uid)
    if target is None:
        sop_class = UID(item.sop_class_uid).name
        return "refuse", (f"the peer accepted no presentation context for {sop_class} in "
                          f"{own.name} or an uncompressed syntax")
    if item.transfer_syntax_uid in UNCOMPRESSED:
        return "convert", target  # re-encoded by pynetdicom (e.g. explicit → implicit VR)
    if decompress == Decompress.NEVER:
        return "refuse", f"the peer does not accept {own.name} and decompression is off"
    if item.transfer_syntax_uid in LOSSY and decompress != Decompress.LOSSY:
        return "refuse", (f"the peer does not accept {own.name}; decompressing lossy images "
                          "needs the job's 'decompress lossy' option")
    return "decompress", target


def send_item(item: SendItem, assoc: Any, decompress: Decompress,
              fast: FastSender) -> SendResult:
    """Send one instance on the association; never raises for a per-instance problem."""
    how, detail = route(item, assoc, decompress)
    if how == "refuse":
        return SendResult(item, ItemOutcome.FAILED, f"not sent: {detail}")
    assert item.path is not None
    if how == "stored":
        try:
            answer = fast.send(item.path, item.sop_class_uid, item.sop_instance_uid,
                               item.transfer_syntax_uid)
        except NotSendableAsStored:
            pass  # e.g. no meta header group length: pynetdicom's own send below
        except SendFailed as exc:
            return SendResult(item, ItemOutcome.FAILED, f"not sent: {exc}")
        else:
            return _result(item, answer.status, answer.error_comment, how, detail,
                           answer.why_none)
    fast.release_reactor()  # pynetdicom's send pauses and resumes it itself
    started = time.perf_counter()
    try:
        if how == "decompress":
            dataset = dcmread(item.path)
            dataset.decompress(generate_instance_uid=False)  # the same instance, re-encoded
            size = len(dataset.PixelData) if "PixelData" in dataset else item.size
            response = assoc.send_c_store(dataset)
        elif how == "convert":
            size = item.size
            response = assoc.send_c_store(dcmread(item.path))
        else:
            size = item.size
            response = assoc.send_c_store(item.path)
    except Exception as exc:  # unreadable file, no decoder, encoding problem…
        return SendResult(item, ItemOutcome.FAILED, f"not sent: {type(exc).__name__}: {exc}")
    status = int(response.Status) if "Status" in response else None
    why = "" if status is not None else why_no_response(
        assoc, fast.recorder, time.perf_counter() - started, float(assoc.dimse_timeout or 60))
    result = _result(item, status, str(response.get("ErrorComment") or ""), how, detail, why)
    if result.outcome != ItemOutcome.FAILED:
        result = SendResult(result.item, result.outcome, result.message, result.status,
                            result.sent_syntax, size)
    return result


def _result(item: SendItem, status: int | None, comment: str, how: str,
            detail: str, why_none: str = "") -> SendResult:
    if status is None:
        return SendResult(item, ItemOutcome.FAILED, f"no response: {why_none}" if why_none
                          else "no response: the association was aborted or timed out")
    info = describe_status(status, "C-STORE")
    note = {"decompress": " (decompressed)", "convert": f" (as {UID(detail).name})"}.get(how, "")
    outcome = {StatusCategory.SUCCESS: ItemOutcome.SUCCEEDED,
               StatusCategory.WARNING: ItemOutcome.WARNING}.get(info.category,
                                                                 ItemOutcome.FAILED)
    shown = f" — {comment}" if comment else ""
    return SendResult(item, outcome, f"{info}{shown}{note}", info.code, detail,
                      item.size if outcome != ItemOutcome.FAILED else 0)


def send_planned(remote: ApplicationEntity, calling: str, planned: PlannedAssociation, *,
                 job: Job | None, decompress: Decompress, cancel: threading.Event,
                 report: Callable[[SendResult], None]) -> None:
    """Send one association's instances; every item is reported exactly once."""
    pending = list(planned.items)
    if cancel.is_set():  # never open another association once cancelled
        for item in pending:
            report(SendResult(item, ItemOutcome.SKIPPED, "not sent: cancelled"))
        return
    try:
        with requested_association(remote=remote, calling_ae_title=calling,
                                   contexts=planned.contexts, job=job) as (assoc, recorder):
            assoc.dul._run_loop_delay = BUSY_DUL_LOOP_DELAY
            fast = FastSender(assoc, recorder)
            try:
                send_pending(assoc, recorder, pending, fast, decompress, cancel, report)
            finally:
                fast.release_reactor()  # before the release: the reactor handles it
    except (AssociationFailed, TlsSetupFailed) as exc:
        for item in pending:
            report(SendResult(item, ItemOutcome.FAILED, f"not sent: {exc}"))
        pending.clear()
    finally:
        for item in pending:  # cancelled, or an unexpected error: say so, never "sent"
            report(SendResult(item, ItemOutcome.SKIPPED,
                              "not sent: cancelled" if cancel.is_set() else "not sent"))


def send_pending(assoc: Any, recorder: Any, pending: list[SendItem], fast: FastSender,
                 decompress: Decompress, cancel: threading.Event,
                 report: Callable[[SendResult], None]) -> None:
    """Send and report items, taking each off ``pending`` as it is reported."""
    while pending and not cancel.is_set():
        if not assoc.is_established or assoc.acse.is_aborted():
            why = recorder.explanation_so_far() or "the association ended"
            for item in pending:
                report(SendResult(item, ItemOutcome.FAILED, f"not sent: {why}"))
            pending.clear()
            return
        item = pending.pop(0)
        try:
            result = send_item(item, assoc, decompress, fast)
        except Exception as exc:  # a defect; the item is still reported, never lost
            logger.exception("sending %s", item.name)
            result = SendResult(item, ItemOutcome.FAILED, f"{type(exc).__name__}: {exc}")
        report(result)
