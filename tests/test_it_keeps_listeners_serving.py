"""Listeners survive what peers and failures throw at them: a dead server is restarted, an
association over the limit is refused, an association that never releases times out."""

import socket
import socketserver
import struct
import subprocess
import time

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from netjobs.listeners.manager import ListenerManager
from netjobs.models import Association, AssociationOutcome, Listener, ListenerStatus
from tests.listener_helpers import settled
from tests.peers import DCMTK_ENV, free_port, require_tool

pytestmark = pytest.mark.django_db(transaction=True)


def echo(port: int) -> int:
    return subprocess.run([require_tool("echoscu"), "-to", "5", "-aec", "CONSOLE",
                           "127.0.0.1", str(port)], env=DCMTK_ENV, capture_output=True,
                          timeout=30).returncode


def test_a_dead_listener_is_restarted(manager: ListenerManager) -> None:
    listener = Listener.objects.create(name="x", ae_title="CONSOLE", port=free_port())
    manager.reconcile()
    # The serve loop ends under the manager, as if its thread had crashed.
    running = manager.running[listener.pk]
    socketserver.BaseServer.shutdown(running.server)
    running.thread.join(timeout=10)  # shutdown returns before the thread has ended
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.FAILED and "unexpectedly" in listener.last_error
    deadline = time.monotonic() + 30
    while listener.status != ListenerStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.5)
        manager.reconcile()
        listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING
    assert echo(listener.port) == 0


def test_more_associations_than_allowed_are_refused(manager: ListenerManager) -> None:
    listener = Listener.objects.create(name="x", ae_title="CONSOLE", port=free_port(),
                                       max_associations=1)
    manager.reconcile()
    ae = AE(ae_title="HOLDER")
    ae.add_requested_context(Verification)
    held = ae.associate("127.0.0.1", listener.port, ae_title="CONSOLE")
    assert held.is_established
    try:
        assert echo(listener.port) != 0  # refused while the one allowed is held
    finally:
        held.release()
    assert echo(listener.port) == 0  # the slot is free again
    settled(listener, 3)
    refused = Association.objects.get(listener=listener, outcome=AssociationOutcome.REJECTED)
    assert (refused.rejection_source, refused.rejection_reason) == (3, 2)  # local limit
    assert refused.calling_ae_title == "ECHOSCU"


def test_an_association_that_never_releases_times_out(manager: ListenerManager) -> None:
    listener = Listener.objects.create(name="x", ae_title="CONSOLE", port=free_port(),
                                       network_timeout=1, acse_timeout=1)
    manager.reconcile()
    ae = AE(ae_title="IDLER")
    ae.add_requested_context(Verification)
    idle = ae.associate("127.0.0.1", listener.port, ae_title="CONSOLE")
    assert idle.is_established
    deadline = time.monotonic() + 15
    while idle.is_established and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not idle.is_established  # the listener gave up on it
    ae.shutdown()
    assert echo(listener.port) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not Association.objects.filter(
            listener=listener, calling_ae_title="IDLER", ended_at__isnull=False).exists():
        time.sleep(0.1)
    record = Association.objects.get(listener=listener, calling_ae_title="IDLER")
    assert record.outcome == AssociationOutcome.ABORTED


def test_an_oversized_pdu_aborts_only_that_association(manager: ListenerManager) -> None:
    listener = Listener.objects.create(name="x", ae_title="CONSOLE", port=free_port())
    manager.reconcile()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
        # An A-ASSOCIATE-RQ header declaring 2 GiB of PDU, then a little data.
        sock.sendall(struct.pack(">BBL", 0x01, 0, 0x7FFFFFFF) + b"\0" * 64)
        sock.settimeout(5)
        answer = sock.recv(64)  # at once: a timeout here means the listener kept reading
    # an A-ABORT: service provider, invalid PDU parameter value (PS3.8 9.3.8)
    assert answer == bytes([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 6]), answer
    assert echo(listener.port) == 0
    settled(listener, 2)
    refused = Association.objects.filter(listener=listener).order_by("pk").first()
    assert refused is not None and refused.outcome == AssociationOutcome.ABORTED
    assert refused.abort_source == "local" and "2147483647 bytes" in refused.explanation
    # the same within an established association: a P-DATA-TF header claiming 1 GiB + 1
    ae = AE(ae_title="SENDER")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="CONSOLE")
    assert assoc.is_established
    raw = assoc.dul.socket.socket if assoc.dul.socket is not None else None
    assert raw is not None
    raw.sendall(struct.pack(">BBL", 0x04, 0, (1 << 30) + 1) + b"\0" * 64)
    deadline = time.monotonic() + 5
    while not assoc.is_aborted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert assoc.is_aborted
    settled(listener, 3)
    cut = Association.objects.filter(listener=listener).order_by("pk").last()
    assert cut is not None and (cut.outcome, cut.abort_source) == ("aborted", "local")
    assert f"{(1 << 30) + 1} bytes" in cut.explanation
