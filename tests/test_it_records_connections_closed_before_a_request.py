"""A TCP connection to a listener that closes before any association request (a port probe,
a health check) is recorded as ended, with an explanation, never left "connecting"."""

import socket

import pytest

from netjobs.listeners.manager import ListenerManager
from netjobs.models import AbortSource, Association, AssociationOutcome
from tests.listener_helpers import dcmtk, make_listener, settled

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_bare_tcp_probe_ends_as_aborted_by_the_network(manager: ListenerManager) -> None:
    listener = make_listener()
    manager.reconcile()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5):
        pass  # connect and close at once, like `nc -z` or a load balancer's probe
    assert dcmtk("echoscu", "-aec", "CONSOLE", "127.0.0.1", str(listener.port)).returncode == 0
    settled(listener, 2)

    records = Association.objects.filter(listener=listener).order_by("started_at", "pk")
    probe, echo = list(records)
    assert probe.outcome == AssociationOutcome.ABORTED
    assert probe.abort_source == AbortSource.NETWORK
    assert "before an association was requested" in probe.abort_reason
    assert "A-ASSOCIATE-RQ" in probe.explanation
    assert probe.dimse_messages_total == 0 and probe.ended_at is not None
    assert echo.outcome == AssociationOutcome.RELEASED
    assert not records.filter(outcome=AssociationOutcome.CONNECTING).exists()
