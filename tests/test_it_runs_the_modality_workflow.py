"""The modality workflow as one job against the console's own listener (MPPS, Storage and
Storage Commitment SCP): step list, MPPS IN PROGRESS then COMPLETED, the study and a Key
Object Selection stored, every instance committed; and a refused MPPS sends nothing."""

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from netjobs.jobs.runner import run_job
from netjobs.jobs.services import create_job
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    CommitmentRequest,
    ItemOutcome,
    JobStatus,
    ListenerStatus,
    PerformedProcedureStep,
)
from tests.archive_helpers import make_object
from tests.conftest import logged_in, wait_for_job
from tests.listener_helpers import make_listener

pytestmark = pytest.mark.django_db(transaction=True)


def archive_study(folder: Path, count: int = 3) -> Study:
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = generate_uid()
    for _ in range(count):
        store_file(make_object(folder, patient_name="Flow^Fiona", patient_id="WF-1",
                               study_date="20260102", modality="OT", study_uid=study_uid),
                   source=InstanceSource.UPLOAD)
    return Study.objects.get(study_instance_uid=study_uid)


def test_the_whole_workflow_with_a_kos(celery_worker_process: Path, operator: User,
                                       remote_ae: Any, manager: ListenerManager,
                                       settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = Path(os.environ["STORAGE_ROOT"]).resolve()  # the worker's
    listener = make_listener(mpps=True, storage_commitment=True, ae_title="PACS",
                             duplicate_policy="keep")
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    study = archive_study(tmp_path / "study")
    ae = remote_ae(ae_title="PACS", port=listener.port)
    job = wait_for_job(create_job("workflow", {"ae": ae.pk, "study": study.pk,
                                               "kos_title": "113000",
                                               "report_on": "same_association"},
                                  owner=operator), seconds=90)
    assert job.status == JobStatus.SUCCEEDED, (job.error, job.result)
    assert [(s["step"].split(" ")[0], s["status"]) for s in job.result["steps"]] == [
        ("MPPS", "succeeded"), ("Key", "succeeded"), ("C-STORE", "succeeded"),
        ("MPPS", "succeeded"), ("Storage", "succeeded")]
    step = PerformedProcedureStep.objects.get(sop_instance_uid=job.result["mpps_instance_uid"])
    assert step.status == "COMPLETED" and step.study_instance_uids == [study.study_instance_uid]
    kos = Instance.objects.get(series__study=study, sop_class_uid="1.2.840.10008.5.1.4.1.1.88.59")
    sent = set(job.items.filter(outcome=ItemOutcome.SUCCEEDED).values_list(
        "sop_instance_uid", flat=True))
    assert kos.sop_instance_uid in sent and len(sent & set(Instance.objects.filter(
        series__study=study).values_list("sop_instance_uid", flat=True))) == 4
    commitment = CommitmentRequest.objects.get()
    assert len(commitment.committed) == 4 and commitment.failed == []
    page = logged_in(operator).get(job.get_absolute_url()).content.decode()
    assert f"modality --mpps-late --stgcmt -c PACS@127.0.0.1:{listener.port} -b DICOMCONSOLE " \
        in page


def test_a_failed_kos_step_makes_the_job_partial(operator: User, remote_ae: Any,
                                                 manager: ListenerManager, settings: Any,
                                                 tmp_path: Path, monkeypatch: Any) -> None:
    """A full disk while archiving the KOS (a fault injected: run in this process), the
    other steps fine: the job says which step failed instead of succeeding."""
    settings.STORAGE_ROOT = tmp_path / "storage"
    listener = make_listener(mpps=True, storage_commitment=True, ae_title="PACS",
                             duplicate_policy="keep")
    manager.reconcile()
    study = archive_study(tmp_path / "study", count=2)
    ae = remote_ae(ae_title="PACS", port=listener.port)

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("netjobs.operations.workflow.store_file", disk_full)
    job = create_job("workflow", {"ae": ae.pk, "study": study.pk, "kos_title": "113000",
                                  "report_on": "same_association"}, owner=operator)
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.PARTIAL, (job.error, job.result)
    assert [s["status"] for s in job.result["steps"]] == [
        "succeeded", "failed", "succeeded", "succeeded", "succeeded"]
    assert "Key Object Selection document" in job.error
    assert "No space left" in job.result["steps"][1]["detail"]


def test_the_step_list_stays_live_while_the_commitment_waits(
        operator: User, remote_ae: Any, manager: ListenerManager, settings: Any,
        tmp_path: Path, monkeypatch: Any) -> None:
    """The MPPS and commitment kinds run inside the workflow add to its result: while the
    report is awaited, the job page still has every step so far (run in this process to
    look at the job at that moment)."""
    from netjobs.models import Job
    from netjobs.operations.commitment import kind as commitment_kind
    settings.STORAGE_ROOT = tmp_path / "storage"
    listener = make_listener(mpps=True, storage_commitment=True, ae_title="PACS",
                             duplicate_policy="keep")
    manager.reconcile()
    study = archive_study(tmp_path / "study", count=2)
    ae = remote_ae(ae_title="PACS", port=listener.port)
    seen: list[dict[str, Any]] = []
    waiting = commitment_kind.begin_waiting

    def look(ctx: Any, *args: Any) -> None:
        waiting(ctx, *args)
        seen.append(Job.objects.get(pk=ctx.job.pk).result)

    monkeypatch.setattr(commitment_kind, "begin_waiting", look)
    job = create_job("workflow", {"ae": ae.pk, "study": study.pk,
                                  "report_on": "same_association"}, owner=operator)
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.error, job.result)
    (during,) = seen
    assert [(s["step"].split(" ")[0], s["status"]) for s in during["steps"]] == [
        ("MPPS", "succeeded"), ("C-STORE", "succeeded"), ("MPPS", "succeeded"),
        ("Storage", "running")]
    assert during["mpps_instance_uid"] == job.result["mpps_instance_uid"]
    assert during["awaiting_report"] is True


def test_a_refused_step_sends_nothing(celery_worker_process: Path, operator: User,
                                      remote_ae: Any, manager: ListenerManager,
                                      settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = Path(os.environ["STORAGE_ROOT"]).resolve()
    listener = make_listener(mpps=False, ae_title="PACS")  # offers no MPPS
    manager.reconcile()
    study = archive_study(tmp_path / "study", count=2)
    ae = remote_ae(ae_title="PACS", port=listener.port)
    job = wait_for_job(create_job("workflow", {"ae": ae.pk, "study": study.pk},
                                  owner=operator), seconds=60)
    assert job.status == JobStatus.FAILED
    assert [s["status"] for s in job.result["steps"]] == ["failed", "skipped", "skipped",
                                                           "skipped"]
    assert not job.items.filter(outcome=ItemOutcome.SUCCEEDED).exists()
    assert not PerformedProcedureStep.objects.exists()


def test_the_commitment_report_on_a_new_association(celery_worker_process: Path,
                                                    operator: User, remote_ae: Any,
                                                    manager: ListenerManager, settings: Any,
                                                    tmp_path: Path) -> None:
    settings.STORAGE_ROOT = Path(os.environ["STORAGE_ROOT"]).resolve()
    pacs = make_listener(name="pacs", mpps=True, storage_commitment=True, ae_title="PACS")
    inbox = make_listener(name="inbox", ae_title="DICOMCONSOLE", storage=False,
                          query_retrieve=False, storage_commitment=True)
    manager.reconcile()
    remote_ae(ae_title="DICOMCONSOLE", port=inbox.port)  # where PACS sends its report
    study = archive_study(tmp_path / "study", count=2)
    ae = remote_ae(ae_title="PACS", port=pacs.port)
    job = wait_for_job(create_job("workflow", {"ae": ae.pk, "study": study.pk,
                                               "report_on": "listener", "timeout": 20},
                                  owner=operator), seconds=90)
    assert job.status == JobStatus.SUCCEEDED, (job.error, job.result)
    commitment = CommitmentRequest.objects.get()
    assert commitment.route == "new" and len(commitment.committed) == 2
