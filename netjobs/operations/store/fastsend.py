"""Sending a stored file as a C-STORE request on an established association, fast.

pynetdicom hands every P-DATA PDU from the calling thread to its DUL thread through queues
polled with sleeps: about 5 ms per 512 KB instance, four times DCMTK's. Here the calling
thread writes the C-STORE-RQ command and the file's data set bytes (after the meta header,
as stored) straight onto the association's socket as P-DATA-TF PDUs (PS3.8 9.3.5), and
takes the C-STORE-RSP from pynetdicom's DIMSE queue as ``send_c_store`` does. The rest of
the association (negotiation, receiving, release, abort) stays with pynetdicom; its reactor
is paused while we send, as pynetdicom's own ``send_*`` methods do.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode

from netjobs.dicom.recorder import AssociationRecorder

P_DATA_TF = 0x04
COMMAND_LAST, COMMAND_MORE, DATA_LAST, DATA_MORE = 0x03, 0x01, 0x02, 0x00
C_STORE_RQ = 0x0001
DATA_SET_PRESENT = 0x0000
MEDIUM = 0x0000
DEFAULT_PDU = 131072  # when the peer sets no maximum (0 = unlimited)
READ_CHUNK = 1 << 20


class SendFailed(Exception):
    """The connection broke while sending: the instance was not (completely) sent."""


@dataclass(frozen=True)
class StoreResponse:
    status: int | None  # None: no response within the DIMSE timeout, or the peer aborted
    error_comment: str = ""


def command_set(sop_class: str, sop_instance: str, message_id: int) -> bytes:
    """The C-STORE-RQ command set, Implicit VR Little Endian with its group length."""
    ds = Dataset()
    ds.AffectedSOPClassUID = UID(sop_class)
    ds.CommandField = C_STORE_RQ
    ds.MessageID = message_id
    ds.Priority = MEDIUM
    ds.CommandDataSetType = DATA_SET_PRESENT
    ds.AffectedSOPInstanceUID = UID(sop_instance)
    body = encode(ds, True, True)
    assert body is not None
    return struct.pack("<HHIL", 0x0000, 0x0000, 4, len(body)) + body


def pdus(context_id: int, command: bytes, data: Iterator[bytes], max_pdu: int) -> Iterator[bytes]:
    """P-DATA-TF PDUs, one PDV each, no larger than the peer's maximum PDU length."""
    room = (max_pdu or DEFAULT_PDU) - 6  # the PDV item's length and header take 6
    for start in range(0, len(command), room):
        piece = command[start:start + room]
        last = start + room >= len(command)
        yield _pdu(context_id, COMMAND_LAST if last else COMMAND_MORE, piece)
    pending = b""
    for chunk in data:
        pending += chunk
        while len(pending) > room:
            yield _pdu(context_id, DATA_MORE, pending[:room])
            pending = pending[room:]
    yield _pdu(context_id, DATA_LAST, pending)


def _pdu(context_id: int, header: int, fragment: bytes) -> bytes:
    item = struct.pack(">LBB", len(fragment) + 2, context_id, header) + fragment
    return struct.pack(">BBL", P_DATA_TF, 0, len(item)) + item


def data_set_chunks(path: Path) -> Iterator[bytes]:
    """The file's data set bytes: everything after the preamble and meta header."""
    with path.open("rb") as handle:
        head = handle.read(144)
        if len(head) < 144 or head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
            raise ValueError(f"{path.name} has no meta header with a group length")
        handle.seek(144 + struct.unpack("<L", head[140:144])[0])
        while chunk := handle.read(READ_CHUNK):
            yield chunk


def pause_reactor(assoc: Any) -> None:
    """Stop pynetdicom's association reactor from taking messages off the DIMSE queue.

    Once the checkpoint is cleared the reactor finishes at most one pass of its loop and
    then blocks with ``_is_paused`` set; seeing it set twice, some milliseconds apart,
    rules out a stale value from before that last pass."""
    assoc._reactor_checkpoint.clear()
    for _ in range(2):
        deadline = time.monotonic() + 5
        while not assoc._is_paused and assoc.is_established and time.monotonic() < deadline:
            time.sleep(0.0001)
        time.sleep(0.003)


def resume_reactor(assoc: Any) -> None:
    assoc._reactor_checkpoint.set()


class FastSender:
    """Sends stored files as C-STOREs on one established association."""

    def __init__(self, assoc: Any, recorder: AssociationRecorder) -> None:
        self.assoc = assoc
        self.recorder = recorder
        self.message_id = 0
        self.paused = False

    def release_reactor(self) -> None:
        """Before pynetdicom sends by itself (it pauses and resumes the reactor), and at
        the end."""
        if self.paused:
            resume_reactor(self.assoc)
            self.paused = False

    def context_id(self, sop_class: str, transfer_syntax: str) -> int | None:
        for cx in self.assoc.accepted_contexts:
            if cx.abstract_syntax == sop_class and cx.as_scu and \
                    cx.transfer_syntax[0] == transfer_syntax:
                return int(cx.context_id)
        return None

    def send(self, path: Path, sop_class: str, sop_instance: str,
             context_id: int) -> StoreResponse:
        self.message_id = self.message_id % 65535 + 1
        message_id = self.message_id
        command = command_set(sop_class, sop_instance, message_id)
        chunks = data_set_chunks(path)
        first = next(chunks, b"")  # a file without a usable meta header fails here, unsent
        sock = self.assoc.dul.socket.socket
        if not self.paused:
            pause_reactor(self.assoc)
            self.paused = True
        sent = 0
        try:
            for pdu in pdus(context_id, command, _prepend(first, chunks),
                            self.assoc.acceptor.maximum_length):
                sock.sendall(pdu)
                sent += len(pdu)
        except OSError as exc:
            self.recorder.add_sent(sent)
            raise SendFailed(f"the connection broke while sending: {exc}") from exc
        self.recorder.add_sent(sent)
        self.recorder.note_dimse_sent("C-STORE-RQ", message_id, context_id, sop_class,
                                      sop_instance)
        return self._response(message_id)

    def _response(self, message_id: int) -> StoreResponse:
        """The C-STORE-RSP, within the DIMSE timeout; None when the peer aborted or the
        connection closed (checked between short waits, as the reactor is paused)."""
        deadline = time.monotonic() + float(self.assoc.dimse_timeout or 60)
        queue = self.assoc.dimse.msg_queue
        while time.monotonic() < deadline:
            try:
                _, message = queue.get(timeout=0.05)
            except Empty:
                if self.assoc.acse.is_aborted() or not self.assoc.dul.is_alive():
                    return StoreResponse(None)
                continue
            if isinstance(message, C_STORE) and \
                    message.MessageIDBeingRespondedTo == message_id:
                status = message.Status
                return StoreResponse(None if status is None else int(status),
                                     str(getattr(message, "ErrorComment", "") or ""))
            # anything else (a stray or late message) is not ours: keep waiting
        return StoreResponse(None)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
