"""The store job reads C-STORE-RSPs off the socket itself: whole P-DATA-TF PDUs, commands
split over PDVs and PDUs, data sets after a command read and dropped, anything else (an
A-ABORT, a closed connection) left for pynetdicom, and a deadline that holds."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import pytest
from pydicom import Dataset
from pynetdicom.dsutils import encode

from netjobs.operations.store.pdata import (
    C_STORE_RSP,
    DimseResponse,
    Handover,
    MalformedMessage,
    NoResponse,
    read_dimse_message,
)

CT = "1.2.840.10008.5.1.4.1.1.2"


def response_command(status: int, responding_to: int, comment: str = "",
                     data_set_type: int = 0x0101) -> bytes:
    """A C-STORE-RSP command set written by pynetdicom's encoder, not ours."""
    ds = Dataset()
    ds.AffectedSOPClassUID = CT
    ds.CommandField = C_STORE_RSP
    ds.MessageIDBeingRespondedTo = responding_to
    ds.CommandDataSetType = data_set_type
    ds.Status = status
    if comment:
        ds.ErrorComment = comment
    ds.AffectedSOPInstanceUID = "1.2.3.4"
    body = encode(ds, True, True)
    assert body is not None
    return struct.pack("<HHLL", 0, 0, 4, len(body)) + body


def pdv(context_id: int, control: int, fragment: bytes) -> bytes:
    return struct.pack(">LBB", len(fragment) + 2, context_id, control) + fragment


def p_data(*items: bytes) -> bytes:
    body = b"".join(items)
    return struct.pack(">BBL", 0x04, 0, len(body)) + body


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, peer = socket.socketpair()
    try:
        yield ours, peer
    finally:
        ours.close()
        peer.close()


def soon(seconds: float = 2.0) -> float:
    return time.monotonic() + seconds


def test_a_response_split_over_pdvs_and_pdus_is_read_whole(pair: tuple[socket.socket,
                                                                        socket.socket]) -> None:
    ours, peer = pair
    command = response_command(0xB000, 7, "coerced")
    first, second, third = command[:10], command[10:30], command[30:]
    peer.sendall(p_data(pdv(5, 0x01, first), pdv(5, 0x01, second)) + p_data(pdv(5, 0x03, third)))
    sizes: list[int] = []
    context, got = read_dimse_message(ours, soon(), sizes.append)
    assert (context, got) == (5, command)
    assert sum(sizes) == len(command) + 2 * 6 + 3 * 6 and len(sizes) == 2
    response = DimseResponse.from_command_set(got)
    assert (response.command_field, response.message_id_being_responded_to) == (C_STORE_RSP, 7)
    assert (response.status, response.error_comment) == (0xB000, "coerced")
    assert response.affected_sop_instance_uid == "1.2.3.4"
    assert response.affected_sop_class_uid == CT


def test_a_data_set_after_a_command_is_read_and_the_next_message_is_intact(
        pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    with_data = response_command(0xFF00, 1, data_set_type=0x0000)
    plain = response_command(0x0000, 2)
    peer.sendall(p_data(pdv(1, 0x03, with_data)) + p_data(pdv(1, 0x00, b"\x00" * 40))
                 + p_data(pdv(1, 0x02, b"\x00" * 8)) + p_data(pdv(3, 0x03, plain)))
    assert read_dimse_message(ours, soon(), lambda n: None) == (1, with_data)
    assert read_dimse_message(ours, soon(), lambda n: None) == (3, plain)


def test_an_abort_is_left_on_the_socket_for_pynetdicom(
        pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    abort = bytes([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 0])
    peer.sendall(abort)
    with pytest.raises(Handover):
        read_dimse_message(ours, soon(), lambda n: None)
    assert ours.recv(100) == abort


def test_a_closed_connection_is_handed_over(pair: tuple[socket.socket,
                                                        socket.socket]) -> None:
    ours, peer = pair
    peer.sendall(p_data(pdv(1, 0x03, response_command(0, 1)))[:9])  # cut inside the PDU
    peer.close()
    with pytest.raises(Handover):
        read_dimse_message(ours, soon(), lambda n: None)


def test_silence_ends_at_the_deadline(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    peer.sendall(p_data(pdv(1, 0x01, response_command(0, 1)[:20])))  # more never comes
    started = time.monotonic()
    with pytest.raises(NoResponse):
        read_dimse_message(ours, time.monotonic() + 0.3, lambda n: None)
    assert 0.25 < time.monotonic() - started < 2


def test_a_pdv_longer_than_its_pdu_is_malformed(pair: tuple[socket.socket,
                                                            socket.socket]) -> None:
    ours, peer = pair
    item = pdv(1, 0x03, response_command(0, 1))
    broken = struct.pack(">L", len(item) + 50) + item[4:]
    peer.sendall(p_data(broken))
    with pytest.raises(MalformedMessage):
        read_dimse_message(ours, soon(), lambda n: None)


def test_a_command_set_without_a_command_field_is_malformed() -> None:
    ds = Dataset()
    ds.MessageIDBeingRespondedTo = 1
    body = encode(ds, True, True)
    assert body is not None
    with pytest.raises(MalformedMessage):
        DimseResponse.from_command_set(body)
    with pytest.raises(MalformedMessage):
        DimseResponse.from_command_set(response_command(0, 1)[:-3])


def test_a_reset_connection_is_handed_over() -> None:
    """A TCP reset (the peer closed with unread data and SO_LINGER 0) makes recv fail."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        ours = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
    with ours, peer:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.sendall(p_data(pdv(1, 0x01, response_command(0, 1)[:20])))
        peer.close()  # a reset, right after part of a PDU
        time.sleep(0.1)
        with pytest.raises(Handover):
            read_dimse_message(ours, soon(), lambda n: None)
