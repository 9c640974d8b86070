"""C-ECHO over TLS (PS3.15 Annex B) to DCMTK storescp +tls, and TLS file paths kept under
the allowed roots."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from netjobs.jobs.services import create_job
from netjobs.models import AEKind, ApplicationEntity, Association, JobStatus
from tests.conftest import logged_in, wait_for_job
from tests.peers import DCMTK_ENV, RunningPeer, _running, free_port, require_tool

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tls_storescp(pki: Path, tmp_path: Path) -> Iterator[RunningPeer]:
    port = free_port()
    argv = [
        require_tool("storescp"), "-v", "-aet", "TLSSCP", "--ignore", "+tls",
        str(pki / "server.key"), str(pki / "server.pem"), "-ic", str(port),
    ]
    assert DCMTK_ENV["TCP_NODELAY"] == "1"
    with _running(argv, "TLSSCP", port, tmp_path / "tls-storescp.log") as peer:
        yield peer


def test_echo_over_tls_verifies_the_peer_certificate(
    celery_worker_process: Path, operator: User, remote_ae: Any, pki: Path,
    tls_storescp: RunningPeer,
) -> None:
    ae = remote_ae(ae_title="TLSSCP", port=tls_storescp.port, tls_enabled=True,
                   tls_ca_file=str(pki / "ca.pem"))
    job = wait_for_job(create_job("echo", {"ae": ae.pk}, owner=operator))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assoc = Association.objects.get(job=job)
    assert assoc.tls is True and assoc.tcp_nodelay is True
    assert "Association Acknowledged" in tls_storescp.log()


def test_echo_over_tls_refuses_an_untrusted_peer(
    celery_worker_process: Path, operator: User, remote_ae: Any, tls_storescp: RunningPeer
) -> None:
    # No CA given: the system trust store does not know the throwaway CA.
    ae = remote_ae(ae_title="TLSSCP", port=tls_storescp.port, tls_enabled=True)
    job = wait_for_job(create_job("echo", {"ae": ae.pk}, owner=operator))
    assert job.status == JobStatus.FAILED
    assoc = Association.objects.get(job=job)
    assert assoc.outcome == "connection_failed"
    assert "certificate" in assoc.explanation and "not trusted" in assoc.explanation
    assert "not trusted" in job.error


def test_plain_echo_to_a_tls_port_fails(
    celery_worker_process: Path, operator: User, remote_ae: Any, tls_storescp: RunningPeer
) -> None:
    ae = remote_ae(ae_title="TLSSCP", port=tls_storescp.port)
    job = wait_for_job(create_job("echo", {"ae": ae.pk}, owner=operator))
    assert job.status == JobStatus.FAILED
    assoc = Association.objects.get(job=job)
    assert assoc.outcome == "aborted" and assoc.abort_source == "network"
    assert "closed the connection without answering" in assoc.explanation


def test_tls_files_outside_the_allowed_roots_are_refused(
    administrator: User, tmp_path: Path
) -> None:
    outside = tmp_path / "ca.pem"
    outside.write_text("not a certificate")
    ae = ApplicationEntity(kind=AEKind.REMOTE, ae_title="X", host="127.0.0.1", port=2762,
                           tls_enabled=True, tls_ca_file=str(outside))
    with pytest.raises(ValidationError) as info:
        ae.full_clean()
    assert "outside the folders allowed" in str(info.value.message_dict["tls_ca_file"])
    sneaky = str(Path(settings.TLS_FILE_ROOTS[0]) / ".." / ".." / "etc" / "passwd")
    response = logged_in(administrator).post(
        "/api/aes",
        {"ae_title": "X", "host": "127.0.0.1", "port": 2762, "tls_enabled": True,
         "tls_ca_file": sneaky},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "tls_ca_file"
    assert not ApplicationEntity.objects.exists()
