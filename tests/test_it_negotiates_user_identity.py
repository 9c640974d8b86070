"""User identity negotiation (PS3.7 D.3.3.7): a remote AE's username and password go in
the association request; a peer that checks them accepts or rejects; the API never returns
the password."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from netjobs.jobs.services import create_job
from netjobs.models import Association, JobStatus
from tests.conftest import logged_in, wait_for_job
from tests.peers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def checking_peer() -> Iterator[tuple[int, list[tuple[int, bytes, bytes]]]]:
    seen: list[tuple[int, bytes, bytes]] = []

    def check(event: Any) -> tuple[bool, None]:
        seen.append((event.user_id_type, event.primary_field, event.secondary_field))
        return (event.primary_field == b"modality" and event.secondary_field == b"s3cret"), None

    ae = AE(ae_title="GUARDED")
    ae.add_supported_context(Verification)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False,
                             evt_handlers=[(evt.EVT_USER_ID, check)])
    assert server is not None
    try:
        yield port, seen
    finally:
        server.shutdown()


def test_username_and_password_are_sent_and_checked(
        celery_worker_process: Path, operator: User, remote_ae: Any,
        checking_peer: tuple[int, list[tuple[int, bytes, bytes]]]) -> None:
    port, seen = checking_peer
    good = remote_ae(ae_title="GUARDED", port=port, identity_username="modality",
                     identity_password="s3cret")
    job = wait_for_job(create_job("echo", {"ae": good.pk}, owner=operator))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert seen[-1] == (2, b"modality", b"s3cret")
    wrong = remote_ae(ae_title="GUARDED", port=port, host="localhost",
                      identity_username="modality", identity_password="guess")
    job = wait_for_job(create_job("echo", {"ae": wrong.pk}, owner=operator))
    assert job.status == JobStatus.FAILED
    assert Association.objects.get(job=job).outcome == "rejected"


def test_the_password_is_never_returned(administrator: User, remote_ae: Any) -> None:
    ae = remote_ae(identity_username="modality", identity_password="s3cret")
    client = logged_in(administrator)
    out = client.get(f"/api/aes/{ae.pk}").json()
    assert out["identity_username"] == "modality" and out["identity_password_set"] is True
    assert "s3cret" not in str(out)
    page = client.get(f"/aes/{ae.pk}/edit/").content.decode()
    assert "s3cret" not in page
    data = {"kind": "remote", "ae_title": ae.ae_title, "host": ae.host, "port": ae.port,
            "max_pdu": 131072, "connect_timeout": 3, "acse_timeout": 5, "dimse_timeout": 5,
            "network_timeout": 5, "identity_username": "modality", "identity_password": ""}
    assert client.post(f"/aes/{ae.pk}/edit/", data).status_code == 302
    ae.refresh_from_db()
    assert ae.identity_password == "s3cret"  # left empty on the form: kept
