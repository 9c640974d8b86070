"""Aborts are recorded with who aborted and why: the peer, our DIMSE/ACSE timeout, or us."""

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from netjobs.dicom.associate import requested_association
from netjobs.jobs.services import create_job
from netjobs.models import AbortSource, Association, AssociationOutcome, JobStatus
from tests.conftest import wait_for_job
from tests.peers import pynetdicom_verification_scp, silent_tcp_server

pytestmark = pytest.mark.django_db(transaction=True)
VERIFICATION = "1.2.840.10008.1.1"


def abort_now(event: Any) -> int:
    event.assoc.abort()
    return 0x0000


def answer_then_abort(event: Any) -> int:
    threading.Timer(0.2, event.assoc.abort).start()
    return 0x0000


def stall(event: Any) -> int:
    time.sleep(2.5)
    return 0x0000


def run_echo(user: User, remote_ae: Any, port: int, **params: Any) -> Any:
    ae = remote_ae(ae_title="PYSCP", port=port, dimse_timeout=1, acse_timeout=1)
    return wait_for_job(create_job("echo", {"ae": ae.pk, **params}, owner=user))


def test_a_peer_abort_is_recorded_as_the_peers(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    with pynetdicom_verification_scp(abort_now) as port:
        job = run_echo(operator, remote_ae, port)
    assert job.status == JobStatus.FAILED
    assoc = Association.objects.get(job=job)
    assert (assoc.outcome, assoc.abort_source) == (AssociationOutcome.ABORTED, AbortSource.PEER)
    assert "peer application aborted" in assoc.explanation
    assert "aborted" in job.error and "DIMSE timeout" not in job.error
    assert assoc.ended_at is not None
    assert assoc.dimse_messages.filter(command="C-ECHO-RQ").count() == 1


def test_no_response_within_the_dimse_timeout_is_our_abort(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    with pynetdicom_verification_scp(stall) as port:
        job = run_echo(operator, remote_ae, port)
    assert job.status == JobStatus.FAILED
    assoc = Association.objects.get(job=job)
    assert (assoc.outcome, assoc.abort_source) == (AssociationOutcome.ABORTED, AbortSource.LOCAL)
    assert "DIMSE timeout (1 s)" in assoc.explanation
    assert "DIMSE timeout" in job.error


def test_an_abort_between_echoes_ends_the_job_partial_with_its_record_complete(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    with pynetdicom_verification_scp(answer_then_abort) as port:
        job = run_echo(operator, remote_ae, port, repeat=3, interval=0.6)
    assert job.status == JobStatus.PARTIAL, job.error
    assert job.counters == {"succeeded": 1}
    assert "Internal error" not in job.error and "aborted" in job.error
    assoc = Association.objects.get(job=job)
    assert assoc.outcome == AssociationOutcome.ABORTED
    assert assoc.abort_source == AbortSource.PEER
    assert assoc.ended_at is not None and assoc.bytes_received > 0
    assert list(assoc.dimse_messages.values_list("command", "status")) == [
        ("C-ECHO-RQ", None),
        ("C-ECHO-RSP", 0),
    ]


def test_no_answer_to_the_association_request_is_an_acse_timeout(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    with silent_tcp_server() as port:
        ae = remote_ae(port=port, acse_timeout=1)
        job = wait_for_job(create_job("echo", {"ae": ae.pk}, owner=operator))
    assert job.status == JobStatus.FAILED
    assoc = Association.objects.get(job=job)
    assert (assoc.outcome, assoc.abort_source) == (AssociationOutcome.ABORTED, AbortSource.LOCAL)
    assert "association timeout (1 s)" in assoc.explanation
    assert "association timeout" in job.error


def test_an_error_inside_an_association_aborts_and_completes_its_record(
    operator: User, remote_ae: Any
) -> None:
    with pynetdicom_verification_scp(lambda event: 0x0000) as port:
        ae = remote_ae(ae_title="PYSCP", port=port)
        with pytest.raises(RuntimeError, match="boom"), requested_association(
            remote=ae, calling_ae_title="TEST", contexts=[(VERIFICATION, ["1.2.840.10008.1.2"])]
        ) as (assoc, _recorder):
            assoc.send_c_echo()
            raise RuntimeError("boom")
    record = Association.objects.get()
    assert (record.outcome, record.abort_source) == (AssociationOutcome.ABORTED, AbortSource.LOCAL)
    assert "RuntimeError: boom" in record.abort_reason
    assert record.ended_at is not None
    assert record.dimse_messages.count() == 2
