"""Cancel (pending: never starts; running: cooperative stop) and retry, through a real worker."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from netjobs.jobs.services import JobStateError, cancel_job, create_job
from netjobs.models import Job, JobStatus
from tests.conftest import logged_in, wait_for_job
from tests.peers import dcmtk_storescp

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_cancelled_while_pending_never_starts(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        with transaction.atomic():  # enqueued only on commit, so cancelled before any worker
            job = create_job("echo", {"ae": ae.pk}, owner=operator)
            cancel_job(job, operator)
        # A job sent after it proves the worker consumed the queue past the cancelled one.
        later = create_job("echo", {"ae": ae.pk}, owner=operator)
        wait_for_job(later)
        job.refresh_from_db()
        peer_log = peer.log()
    assert job.status == JobStatus.CANCELLED
    assert job.started_at is None
    assert not job.associations.exists()
    assert later.associations.count() == 1
    assert peer_log.count("Association Acknowledged") == 1


def test_a_running_job_stops_when_cancelled(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        client = logged_in(operator)
        created = client.post(
            "/api/jobs",
            {"kind": "echo", "params": {"ae": ae.pk, "repeat": 500, "interval": 0.05}},
            content_type="application/json",
        ).json()
        job = Job.objects.get(pk=created["id"])
        wait_for_job(job, until=lambda j: j.progress_done >= 3)
        response = client.post(f"/api/jobs/{job.pk}/cancel")
        assert response.status_code == 200
        job = wait_for_job(job)
    assert job.status == JobStatus.CANCELLED
    sent = job.result["echoes_sent"]
    assert 3 <= sent < 500
    assert job.counters == {"succeeded": sent}
    (assoc,) = job.associations.all()
    assert assoc.outcome == "released"  # stopped between echoes, association released
    assert assoc.dimse_messages.filter(command="C-ECHO-RSP").count() == sent
    assert "Cancellation requested by otto-operator" in "".join(
        job.log_entries.values_list("message", flat=True)
    )
    with pytest.raises(JobStateError):
        cancel_job(job, operator)


def test_retry_runs_the_same_parameters_as_a_new_linked_job(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    ae = remote_ae(ae_title="STORESCP", port=1)  # fails first: nothing on port 1
    client = logged_in(operator)
    first = Job.objects.get(
        pk=client.post(
            "/api/jobs", {"kind": "echo", "params": {"ae": ae.pk}}, content_type="application/json"
        ).json()["id"]
    )
    assert wait_for_job(first).status == JobStatus.FAILED
    with dcmtk_storescp(tmp_path) as peer:
        ae.port = peer.port
        ae.save()
        response = client.post(f"/api/jobs/{first.pk}/retry")
        assert response.status_code == 201
        retry = wait_for_job(Job.objects.get(pk=response.json()["id"]))
    assert retry.retry_of_id == first.pk
    assert retry.params == first.params
    assert retry.status == JobStatus.SUCCEEDED


def test_retry_of_an_unfinished_job_is_refused(operator: User, remote_ae: Any) -> None:
    job = Job.objects.create(kind="echo", params={"ae": remote_ae().pk}, owner=operator)
    response = logged_in(operator).post(f"/api/jobs/{job.pk}/retry")
    assert response.status_code == 409
    assert Job.objects.count() == 1
