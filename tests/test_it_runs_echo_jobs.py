"""C-ECHO jobs end to end: API → DB → Redis → a real Celery worker → pynetdicom → DCMTK."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.tokens import issue_token
from netjobs.models import (
    Association,
    AssociationOutcome,
    ContextResult,
    Job,
    JobStatus,
)
from tests.conftest import wait_for_job
from tests.peers import dcmtk_qrscp, dcmtk_storescp, free_port

VERIFICATION = "1.2.840.10008.1.1"
pytestmark = pytest.mark.django_db(transaction=True)


def submit(user: User, params: dict[str, Any]) -> dict[str, Any]:
    raw = issue_token(user, "test").raw
    response = Client().post(
        "/api/jobs",
        {"kind": "echo", "params": params},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 201, response.content
    return response.json()


def fetch(user: User, job_id: int) -> dict[str, Any]:
    raw = issue_token(user, "read").raw
    response = Client().get(f"/api/jobs/{job_id}", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    return response.json()


def test_echo_to_storescp_succeeds_and_records_the_association(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        created = submit(operator, {"ae": ae.pk})
        assert created["status"] == JobStatus.PENDING
        job = wait_for_job(Job.objects.get(pk=created["id"]))
        peer_log = peer.log()

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    assert job.result["status"] == 0x0000
    assert job.counters == {"succeeded": 1}
    assert (job.progress_done, job.progress_total) == (1, 1)
    # The DCMTK peer's own log says it answered the echo.
    assert "Received Echo Request" in peer_log

    body = fetch(operator, job.pk)
    assert body["status"] == "succeeded"
    assert body["log"][0]["message"].startswith("Started: C-ECHO")
    (assoc,) = body["associations"]
    assert assoc["outcome"] == AssociationOutcome.RELEASED
    assert (assoc["calling_ae_title"], assoc["called_ae_title"]) == ("DICOMCONSOLE", "STORESCP")
    assert assoc["peer_port"] == peer.port
    assert assoc["tcp_nodelay"] is True
    assert assoc["bytes_sent"] > 0 and assoc["bytes_received"] > 0
    assert assoc["peer_implementation_class_uid"].startswith("1.2.276.0.7230010.3")  # DCMTK
    (context,) = assoc["presentation_contexts"]
    assert context["abstract_syntax"] == VERIFICATION
    assert context["result"] == ContextResult.ACCEPTANCE
    assert context["accepted_transfer_syntax"] in context["proposed_transfer_syntaxes"]
    commands = [(m["direction"], m["command"], m["status"]) for m in assoc["dimse_messages"]]
    assert commands == [("sent", "C-ECHO-RQ", None), ("received", "C-ECHO-RSP", 0)]


def test_echo_with_nothing_listening_fails_clearly(
    celery_worker_process: Path, operator: User, remote_ae: Any
) -> None:
    ae = remote_ae(port=free_port())  # bound and released: nothing listens there
    job = wait_for_job(Job.objects.get(pk=submit(operator, {"ae": ae.pk})["id"]))
    assert job.status == JobStatus.FAILED
    assert "Nothing is listening on 127.0.0.1" in job.error
    assoc = Association.objects.get(job=job)
    assert assoc.outcome == AssociationOutcome.CONNECTION_FAILED
    assert "connection refused" in assoc.explanation


def test_echo_with_wrong_called_ae_title_is_rejected_with_the_reason(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with dcmtk_qrscp(tmp_path) as peer:
        ae = remote_ae(ae_title="NOT_QRSCP", port=peer.port)
        job = wait_for_job(Job.objects.get(pk=submit(operator, {"ae": ae.pk})["id"]))
        good = remote_ae(ae_title=peer.ae_title, port=peer.port)
        control = wait_for_job(Job.objects.get(pk=submit(operator, {"ae": good.pk})["id"]))
    assert control.status == JobStatus.SUCCEEDED, control.error  # the peer itself works
    assert job.status == JobStatus.FAILED
    assoc = Association.objects.get(job=job)
    assert assoc.outcome == AssociationOutcome.REJECTED, (assoc.explanation, job.error)
    assert (assoc.rejection_result, assoc.rejection_source, assoc.rejection_reason) == (1, 1, 7)
    assert "does not accept the called AE title 'NOT_QRSCP'" in assoc.explanation
    assert "does not accept the called AE title" in job.error
    contexts = list(assoc.presentation_contexts.all())
    assert [cx.abstract_syntax for cx in contexts] == [VERIFICATION]
    assert contexts[0].result is None  # never negotiated


def test_repeated_echo_counts_every_reply(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = wait_for_job(Job.objects.get(pk=submit(operator, {"ae": ae.pk, "repeat": 5})["id"]))
    assert job.status == JobStatus.SUCCEEDED
    assert job.counters == {"succeeded": 5}
    assert job.result["echoes_succeeded"] == 5
    assoc = Association.objects.get(job=job)
    assert assoc.dimse_messages.filter(command="C-ECHO-RSP", status=0).count() == 5
