"""Listeners over TLS (PS3.15 Annex B) with DCMTK echoscu/storescu: server certificate,
optional and required client certificates, and plain or untrusted peers refused and
recorded while the listener keeps serving."""

from pathlib import Path

import pytest

from archive.models import Instance
from netjobs.listeners.manager import ListenerManager
from netjobs.models import Association, Listener, ListenerStatus
from tests.archive_helpers import corpus
from tests.listener_helpers import dcmtk, make_listener, settled

pytestmark = pytest.mark.django_db(transaction=True)


def tls_listener(manager: ListenerManager, pki: Path, **fields: object) -> Listener:
    listener = make_listener(tls_enabled=True, tls_cert_file=str(pki / "server.pem"),
                             tls_key_file=str(pki / "server.key"), **fields)
    listener.full_clean()
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    return listener


def test_echo_and_store_over_tls(manager: ListenerManager, pki: Path) -> None:
    listener = tls_listener(manager, pki)
    port = str(listener.port)
    echo = dcmtk("echoscu", "+tla", "+cf", str(pki / "ca.pem"), "-aec", "CONSOLE",
                 "127.0.0.1", port)
    assert echo.returncode == 0, echo.stderr
    sent = dcmtk("storescu", "+tla", "+cf", str(pki / "ca.pem"), "-aec", "CONSOLE",
                 "127.0.0.1", port, str(corpus("emri_small.dcm")))
    assert sent.returncode == 0, sent.stderr
    settled(listener, 2)
    assert Instance.objects.count() == 1
    assert set(Association.objects.filter(listener=listener).values_list("tls", "outcome")) \
        == {(True, "released")}


def test_plain_and_untrusting_peers_are_refused_and_recorded(manager: ListenerManager,
                                                             pki: Path) -> None:
    listener = tls_listener(manager, pki)
    port = str(listener.port)
    assert dcmtk("echoscu", "-to", "5", "-aec", "CONSOLE", "127.0.0.1", port,
                 timeout=30).returncode != 0
    settled(listener, 1)
    plain = Association.objects.get(listener=listener)
    assert plain.outcome == "aborted" and "TLS handshake failed" in plain.explanation
    # a peer that does not trust the listener's certificate (no CA given) refuses it
    untrusting = dcmtk("echoscu", "+tla", "-aec", "CONSOLE", "127.0.0.1", port)
    assert untrusting.returncode != 0
    # still serving, with TLS
    assert dcmtk("echoscu", "+tla", "+cf", str(pki / "ca.pem"), "-aec", "CONSOLE",
                 "127.0.0.1", port).returncode == 0
    settled(listener, 3)
    assert Association.objects.filter(listener=listener, outcome="aborted").count() == 2


def test_a_required_client_certificate_is_checked(manager: ListenerManager,
                                                  pki: Path) -> None:
    listener = tls_listener(manager, pki, tls_ca_file=str(pki / "ca.pem"),
                            tls_require_client_certificate=True)
    port = str(listener.port)
    anonymous = dcmtk("echoscu", "+tla", "+cf", str(pki / "ca.pem"), "-aec", "CONSOLE",
                      "127.0.0.1", port)
    assert anonymous.returncode != 0
    with_certificate = dcmtk("echoscu", "+tls", str(pki / "client.key"),
                             str(pki / "client.pem"), "+cf", str(pki / "ca.pem"),
                             "-aec", "CONSOLE", "127.0.0.1", port)
    assert with_certificate.returncode == 0, with_certificate.stderr
    settled(listener, 2)
    refused, accepted = Association.objects.filter(listener=listener).order_by("started_at")
    assert refused.outcome == "aborted" and refused.explanation.startswith("TLS handshake")
    assert refused.dimse_messages_total == 0 and not refused.calling_ae_title
    assert accepted.outcome == "released" and accepted.tls


def test_unusable_tls_files_fail_clearly(manager: ListenerManager, pki: Path) -> None:
    listener = make_listener(tls_enabled=True, tls_cert_file=str(pki / "server.pem"),
                             tls_key_file=str(pki / "ca.key"))  # the key of another cert
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.FAILED
    assert "TLS" in listener.last_error
