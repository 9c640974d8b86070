"""Pieces the C-FIND, C-MOVE and C-GET jobs share: the accepted context, the responses'
statuses, and sending C-CANCEL once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.association import Association as PynetdicomAssociation

from netjobs.dicom.explain import explain_context_rejection
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.status import StatusInfo, describe_status

logger = logging.getLogger(__name__)

MESSAGE_ID = 1
TRANSFER_SYNTAXES: list[str] = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


class ServiceRejected(Exception):
    """The association was accepted but not the presentation context of the service."""


class CancelReason(StrEnum):
    OPERATOR = "operator"
    TRUNCATED = "truncated"  # C-FIND: the console keeps no more matches


def accepted_context_id(assoc: PynetdicomAssociation, recorder: AssociationRecorder,
                        sop_class: str, transfer_syntaxes: list[str]) -> int:
    """The ID of the accepted context for ``sop_class`` as SCU; raises ServiceRejected
    with the peer's reason when it was not accepted."""
    for context in assoc.accepted_contexts:
        if context.abstract_syntax == sop_class and context.as_scu:
            return int(context.context_id or 0)
    rejected = next((cx for cx in assoc.rejected_contexts if cx.abstract_syntax == sop_class),
                    None)
    message = explain_context_rejection(sop_class, transfer_syntaxes,
                                        None if rejected is None else rejected.result)
    recorder.record.explanation = message
    raise ServiceRejected(message)


def response_status(status: Dataset, service: str) -> StatusInfo | None:
    """The status of a response; None when there was none (timeout, abort)."""
    if "Status" not in status:
        return None
    return describe_status(int(status.Status), service)


def error_comment(status: Dataset) -> str:
    return str(status.get("ErrorComment", "") or "").strip()


CANCEL_GRACE_SECONDS = 10.0


class Canceller:
    """Sends C-CANCEL for the one outstanding request, at most once: from the thread that
    iterates its responses, or from ``watching`` when the peer sends none for a while."""

    def __init__(self, assoc: PynetdicomAssociation, recorder: AssociationRecorder,
                 context_id: int, message_id: int = MESSAGE_ID) -> None:
        self._assoc = assoc
        self._recorder = recorder
        self._context_id = context_id
        self._message_id = message_id
        self._lock = threading.Lock()
        self.reason: CancelReason | None = None

    @property
    def sent(self) -> bool:
        return self.reason is not None

    @contextmanager
    def watching(self, cancel: threading.Event, grace: float = CANCEL_GRACE_SECONDS
                 ) -> Iterator[None]:
        """While the responses are read: an operator's cancel sends C-CANCEL at once, even
        if the peer is silent (pending responses are optional for C-MOVE), and a peer that
        has not finished ``grace`` seconds after it is aborted."""
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                if cancel.wait(0.2):
                    break
            if done.is_set():
                return
            self.send(CancelReason.OPERATOR)
            if not done.wait(grace) and self._assoc.is_established:
                logger.warning("no final response %s s after C-CANCEL: aborting", grace)
                self._recorder.note_local_abort(
                    f"The peer sent no final response within {grace:g} s after the "
                    "C-CANCEL, so the console aborted the association.")
                self._assoc.abort()
                # pynetdicom's response loop waits on its DIMSE queue for the whole DIMSE
                # timeout; an empty message wakes it as an abort does (no response)
                self._assoc.dimse.msg_queue.put((None, None))

        watcher = threading.Thread(target=watch, name="c-cancel-watch", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join(timeout=5)

    def send(self, reason: CancelReason) -> None:
        with self._lock:
            if self.reason is not None or not self._assoc.is_established:
                return
            self.reason = reason
        try:
            self._assoc.send_c_cancel(self._message_id, self._context_id)
        except RuntimeError:  # the association ended meanwhile
            logger.info("C-CANCEL not sent: the association has ended")
