"""Sending a stored file as a C-STORE request on an established association, fast.

pynetdicom hands every P-DATA PDU from the calling thread to its DUL thread through queues
polled with sleeps: about 5 ms per 512 KB instance, four times DCMTK's. Here the calling
thread writes the C-STORE-RQ command and the file's data set bytes (after the meta header,
as stored) straight onto the association's socket as P-DATA-TF PDUs (PS3.8 9.3.5), and on a
plain TCP socket reads the C-STORE-RSP back itself, with the DUL thread's reading stopped;
over TLS it takes the response from pynetdicom's DIMSE queue as ``send_c_store`` does. The
rest of the association (negotiation, release, abort, any other PDU) stays with pynetdicom;
its reactor is paused while we send, as pynetdicom's own ``send_*`` methods do.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any, BinaryIO

from pynetdicom.dimse_primitives import C_STORE

from netjobs.dicom.explain import explain_dimse_timeout
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.operations.echo import why_no_response
from netjobs.operations.store.pdata import (
    C_STORE_RSP,
    DimseResponse,
    Handover,
    MalformedMessage,
    MessageControl,
    NoResponse,
    command_pdu_parts,
    command_set,
    fragment_spans,
    pdu_header,
    pdu_parts,
    read_dimse_message,
)

# pynetdicom's DUL sleeps this long whenever a loop found nothing to do (1 ms by default).
# While it reads the responses, a shorter sleep hands them over sooner; while the sending
# thread reads them, the default keeps it from competing for the GIL.
BUSY_DUL_LOOP_DELAY = 0.00001
IDLE_DUL_LOOP_DELAY = 0.001

READ_CHUNK = 1 << 20


class SendFailed(Exception):
    """The connection broke while sending: the instance was not (completely) sent."""


class NotSendableAsStored(Exception):
    """Found before anything is sent: no accepted context for the file's own syntax, or a
    file that cannot be opened or has no meta header group length."""


class FileEnded(Exception):
    """The file was shorter than when sending began."""


@dataclass(frozen=True)
class StoreResponse:
    status: int | None  # None: no response within the DIMSE timeout, or the peer aborted
    error_comment: str = ""
    why_none: str = ""  # when status is None and the console knows why


def _send_all(sock: socket.socket, parts: list[Any], flags: int = 0) -> None:
    views = [memoryview(part) for part in parts]
    while views:
        sent = sock.sendmsg(views, [], flags)
        while views and sent >= len(views[0]):
            sent -= len(views[0])
            views.pop(0)
        if views and sent:
            views[0] = views[0][sent:]


def data_set_offset(handle: BinaryIO, name: str) -> int:
    """Where the file's data set starts: after the preamble and the meta header, whose
    group length (0002,0000) says how long it is."""
    head = handle.read(144)
    if len(head) < 144 or head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
        raise ValueError(f"{name} has no meta header with a group length")
    return 144 + int(struct.unpack("<L", head[140:144])[0])


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


class DulReading:
    """Stops and restarts the DUL thread's reading of the association's socket.

    The DUL reads a PDU only through ``_is_transport_event``; shadowing it on the instance
    with a function that reads nothing stops it. Once the DUL has called that function, it
    is between loops, not inside a read, so the socket's bytes are the sending thread's
    until the shadow is removed. The DUL keeps sending what pynetdicom queues (an abort)."""

    def __init__(self, dul: Any) -> None:
        self.dul = dul
        self.stopped = False

    def stop(self, timeout: float = 2.0) -> bool:
        parked = threading.Event()

        def read_nothing() -> bool:
            parked.set()
            return False

        self.dul._is_transport_event = read_nothing
        self.dul._run_loop_delay = IDLE_DUL_LOOP_DELAY  # nothing for it to hurry for
        if parked.wait(timeout):
            self.stopped = True
            return True
        self.restart()  # the DUL thread is gone or stuck: leave it as it was
        return False

    def restart(self) -> None:
        if "_is_transport_event" in vars(self.dul):
            delattr(self.dul, "_is_transport_event")
        self.dul._run_loop_delay = BUSY_DUL_LOOP_DELAY
        self.dul._idle_timer.restart()  # what we read counts as activity on the network
        self.stopped = False


class FastSender:
    """Sends stored files as C-STOREs on one established association.

    On a plain TCP socket it also reads the C-STORE-RSPs itself: handing them over through
    pynetdicom's DUL thread cost about 0.5 ms an instance (bench/store_bench.py). Anything
    but a P-DATA-TF PDU (an abort, a release request, the connection closing) is left on
    the socket for pynetdicom, whose reading is then restarted."""

    def __init__(self, assoc: Any, recorder: AssociationRecorder) -> None:
        self.assoc = assoc
        self.recorder = recorder
        self.message_id = 0
        self.paused = False
        self.reading = DulReading(assoc.dul)
        self._bytes = 0  # written for the instance being sent

    def release_reactor(self) -> None:
        """Before pynetdicom sends by itself (it pauses and resumes the reactor), and at
        the end."""
        if self.reading.stopped:
            self.reading.restart()
        if self.paused:
            resume_reactor(self.assoc)
            self.paused = False

    def context_id(self, sop_class: str, transfer_syntax: str) -> int | None:
        for cx in self.assoc.accepted_contexts:
            if cx.abstract_syntax == sop_class and cx.as_scu and \
                    cx.transfer_syntax[0] == transfer_syntax:
                return int(cx.context_id)
        return None

    def _take_over(self, plain: bool) -> None:
        if not self.paused:
            pause_reactor(self.assoc)
            self.paused = True
        if plain and not self.reading.stopped and self.assoc.is_established:
            self.reading.stop()

    def send(self, path: Path, sop_class: str, sop_instance: str,
             transfer_syntax: str) -> StoreResponse:
        """Send the file as stored and wait for its response. Raises NotSendableAsStored
        (nothing sent), or SendFailed when sending broke off."""
        context_id = self.context_id(sop_class, transfer_syntax)
        if context_id is None:
            raise NotSendableAsStored(f"no accepted context for {sop_class} in "
                                      f"{transfer_syntax}")
        sock = getattr(self.assoc.dul.socket, "socket", None)
        if sock is None:  # pynetdicom drops it once the association has ended
            raise SendFailed("the association's connection is closed")
        try:
            handle = path.open("rb")
            start = data_set_offset(handle, path.name)
        except (OSError, ValueError) as exc:
            raise NotSendableAsStored(str(exc)) from exc
        message_id = self.message_id = self.message_id % 65535 + 1
        command = command_set(sop_class, sop_instance, message_id)
        plain = hasattr(sock, "sendmsg") and not isinstance(sock, ssl.SSLSocket)
        with handle:
            self._take_over(plain)
            self._bytes = 0
            try:
                if plain:
                    self._write_from_file(sock, handle, start, context_id, command)
                else:
                    handle.seek(start)
                    self._write_copied(sock, iter(lambda: handle.read(READ_CHUNK), b""),
                                       context_id, command)
            except (OSError, FileEnded) as exc:
                self.recorder.add_sent(self._bytes)
                raise self._broken(exc) from exc
        self.recorder.add_sent(self._bytes)
        self.recorder.note_dimse_sent("C-STORE-RQ", message_id, context_id, sop_class,
                                      sop_instance)
        deadline = time.monotonic() + self._dimse_timeout
        if self.reading.stopped:
            try:
                return self._read_response(sock, message_id, deadline)
            except Handover:
                self.reading.restart()  # pynetdicom reads what came; the queue tells
            except NoResponse:
                return self._give_up(explain_dimse_timeout(self._dimse_timeout))
            except MalformedMessage as exc:
                return self._give_up(f"The peer's response does not decode ({exc}), so the "
                                     "console aborted the association.")
        return self._queued_response(message_id, deadline)

    def _write_from_file(self, sock: socket.socket, handle: BinaryIO, start: int,
                         context_id: int, command: bytes) -> None:
        """The command's PDUs, then each data PDU's header followed by its fragment sent
        by the kernel from the file (sendfile: no copy through Python). MSG_MORE keeps a
        header from leaving as a packet of its own."""
        max_pdu = self.assoc.acceptor.maximum_length
        size = os.fstat(handle.fileno()).st_size - start
        parts: list[Any] = [p for pair in command_pdu_parts(context_id, command, max_pdu)
                            for p in pair]
        for offset, length, last in fragment_spans(size, max_pdu):
            control = MessageControl.DATA_LAST if last else MessageControl.DATA_MORE
            parts.append(pdu_header(context_id, control, length))
            _send_all(sock, parts, socket.MSG_MORE)
            self._bytes += sum(len(p) for p in parts)
            parts = []
            position, end = start + offset, start + offset + length
            while position < end:
                sent = os.sendfile(sock.fileno(), handle.fileno(), position, end - position)
                if not sent:
                    raise FileEnded(f"the file ended {end - position} bytes early")
                position += sent
                self._bytes += sent

    def _write_copied(self, sock: Any, data: Iterator[bytes], context_id: int,
                      command: bytes) -> None:
        """Over TLS: each PDU assembled in memory and written through the TLS socket."""
        for header, fragment in pdu_parts(context_id, command, data,
                                          self.assoc.acceptor.maximum_length):
            sock.sendall(header + bytes(fragment))
            self._bytes += len(header) + len(fragment)

    def _broken(self, exc: Exception) -> SendFailed:
        """Sending stopped inside a PDU. Let pynetdicom read what the peer said (an abort
        explains itself); if the association still stands after that, abort it: the stream
        is out of step."""
        self.release_reactor()
        deadline = time.monotonic() + 1
        while self.assoc.is_established and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.assoc.is_established:
            self.recorder.note_local_abort(f"Sending an instance broke off ({exc}), so the "
                                           "console aborted the association.")
            self.assoc.abort()
        return SendFailed(f"sending broke off: {exc}")

    @property
    def _dimse_timeout(self) -> float:
        return float(self.assoc.dimse_timeout or 60)

    def _read_response(self, sock: socket.socket, message_id: int,
                       deadline: float) -> StoreResponse:
        """The C-STORE-RSP read off the socket by this thread; other messages are skipped."""
        while True:
            context_id, command = read_dimse_message(sock, deadline,
                                                     self.recorder.add_received)
            response = DimseResponse.from_command_set(command)
            self.recorder.note_dimse_received(
                "C-STORE-RSP" if response.command_field == C_STORE_RSP
                else f"DIMSE command 0x{response.command_field:04X}",
                response.message_id_being_responded_to, context_id, response.status,
                response.affected_sop_class_uid, response.affected_sop_instance_uid,
                response.error_comment)
            if response.command_field == C_STORE_RSP and \
                    response.message_id_being_responded_to == message_id:
                return StoreResponse(response.status, response.error_comment)

    def _give_up(self, reason: str) -> StoreResponse:
        """No usable response: abort, as pynetdicom does at its DIMSE timeout."""
        self.recorder.note_local_abort(reason)
        self.release_reactor()
        self.assoc.abort()
        return StoreResponse(None, why_none=reason)

    def _queued_response(self, message_id: int, deadline: float) -> StoreResponse:
        """The C-STORE-RSP from pynetdicom's DIMSE queue, within the DIMSE timeout; None when
        the peer aborted or the connection closed (checked between short waits, as the
        reactor is paused)."""
        queue = self.assoc.dimse.msg_queue
        while time.monotonic() < deadline:
            try:
                _, message = queue.get(timeout=0.05)
            except Empty:
                if self.assoc.acse.is_aborted() or not self.assoc.dul.is_alive():
                    self.release_reactor()  # so that it takes in the abort and ends
                    return StoreResponse(None, why_none=why_no_response(
                        self.assoc, self.recorder, 0.0, self._dimse_timeout))
                continue
            if isinstance(message, C_STORE) and \
                    message.MessageIDBeingRespondedTo == message_id:
                status = message.Status
                return StoreResponse(None if status is None else int(status),
                                     str(getattr(message, "ErrorComment", "") or ""))
            # anything else (a stray or late message) is not ours: keep waiting
        return self._give_up(explain_dimse_timeout(self._dimse_timeout))
