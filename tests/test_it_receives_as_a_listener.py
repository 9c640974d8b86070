"""Listeners (SCPs) managed in-process against real DCMTK senders on loopback: echo, store
into the archive byte for byte, inbound association records, policies, garbage, stop and a
port already in use."""

import contextlib
import socket
from pathlib import Path

import pytest
from pydicom import dcmread

from archive.models import Instance
from archive.storage import absolute_path
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    AEKind,
    ApplicationEntity,
    Association,
    AssociationOutcome,
    CallingPolicy,
    DesiredState,
    Listener,
    ListenerStatus,
)
from tests.archive_helpers import corpus
from tests.listener_helpers import dcmtk, make_listener, settled

pytestmark = pytest.mark.django_db(transaction=True)


def test_echo_and_store_into_the_archive(manager: ListenerManager, tmp_path: Path) -> None:
    listener = make_listener()
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    assert listener.bound_address == f"127.0.0.1:{listener.port}"
    port = str(listener.port)
    assert dcmtk("echoscu", "-aet", "SENDER", "-aec", "CONSOLE", "127.0.0.1", port).returncode == 0
    files = [corpus(n) for n in ("MR2_J2KR.dcm", "693_UNCI.dcm", "OBXXXX1A_rle.dcm")]
    sent = dcmtk("dcmsend", "-aet", "SENDER", "-aec", "CONSOLE", "--decompress-never",
                 "127.0.0.1", port, *map(str, files))
    assert sent.returncode == 0, sent.stderr
    for path in files:
        uid = dcmread(path, stop_before_pixels=True).SOPInstanceUID
        instance = Instance.objects.get(sop_instance_uid=uid)
        assert instance.source == "dicom" and instance.source_detail == "SENDER"
        stored = dcmread(absolute_path(instance.file_path))
        original = dcmread(path)
        assert stored.PixelData == original.PixelData  # bytes as they came
        if original.file_meta.TransferSyntaxUID.is_compressed:  # sent in its own syntax
            assert stored.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    settled(listener, 2)
    records = Association.objects.filter(listener=listener).order_by("pk")
    assert records.count() == 2
    store = records.last()
    assert store is not None
    assert (store.role, store.outcome) == ("acceptor", AssociationOutcome.RELEASED)
    assert (store.calling_ae_title, store.called_ae_title) == ("SENDER", "CONSOLE")
    assert store.tcp_nodelay is True
    assert store.dimse_messages.filter(command="C-STORE-RSP", status=0).count() == 3
    assert store.presentation_contexts.filter(result=0).count() >= 3


def test_policies_reject(manager: ListenerManager) -> None:
    ApplicationEntity.objects.create(kind=AEKind.REMOTE, ae_title="KNOWN", host="127.0.0.1",
                                     port=104)
    listener = make_listener(calling_policy=CallingPolicy.KNOWN)
    manager.reconcile()
    port = str(listener.port)
    assert dcmtk("echoscu", "-aet", "KNOWN", "-aec", "CONSOLE", "127.0.0.1", port).returncode == 0
    assert dcmtk("echoscu", "-aet", "STRANGER", "-aec", "CONSOLE", "127.0.0.1",
                 port).returncode != 0
    assert dcmtk("echoscu", "-aet", "KNOWN", "-aec", "OTHER", "127.0.0.1", port).returncode != 0


def test_rejections_are_recorded_with_the_reason(manager: ListenerManager) -> None:
    ApplicationEntity.objects.create(kind=AEKind.REMOTE, ae_title="KNOWN", host="127.0.0.1",
                                     port=104)
    listener = make_listener(calling_policy=CallingPolicy.KNOWN)
    manager.reconcile()
    port = str(listener.port)
    dcmtk("echoscu", "-aet", "STRANGER", "-aec", "CONSOLE", "127.0.0.1", port)
    dcmtk("echoscu", "-aet", "KNOWN", "-aec", "OTHER", "127.0.0.1", port)
    settled(listener, 2)  # a record is finished once, after its association's last event
    rejected = {a.calling_ae_title: a for a in Association.objects.filter(
        listener=listener, outcome=AssociationOutcome.REJECTED)}
    assert "not a configured remote AE" in rejected["STRANGER"].explanation
    assert "not this listener's" in rejected["KNOWN"].explanation


def test_garbage_does_not_stop_the_listener(manager: ListenerManager) -> None:
    listener = make_listener()
    manager.reconcile()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
        sock.sendall(b"\x07\x00garbage that is not a PDU" * 10)
        sock.settimeout(5)
        with contextlib.suppress(OSError):
            sock.recv(1024)
    assert dcmtk("echoscu", "-aec", "CONSOLE", "127.0.0.1", str(listener.port)).returncode == 0
    settled(listener, 2)
    assert Association.objects.filter(listener=listener).exclude(
        outcome=AssociationOutcome.RELEASED).exists()


def test_stop_releases_the_port_and_a_busy_port_fails_clearly(manager: ListenerManager) -> None:
    listener = make_listener()
    manager.reconcile()
    Listener.objects.filter(pk=listener.pk).update(desired_state=DesiredState.STOPPED)
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.STOPPED
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", listener.port), timeout=2)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        busy = make_listener(name="busy", port=squatter.getsockname()[1])
        manager.reconcile()
        busy.refresh_from_db()
        assert busy.status == ListenerStatus.FAILED
        assert "already uses this port" in busy.last_error


def test_a_listener_owned_by_a_live_worker_is_not_started_twice(
    manager: ListenerManager,
) -> None:
    listener = make_listener()
    manager.reconcile()
    other = ListenerManager(owner="other-worker")
    other.reconcile()
    assert other.running == {}
    listener.refresh_from_db()
    assert listener.owner == "test-worker"
