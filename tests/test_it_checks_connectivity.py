"""Connectivity checks end to end (API → a real Celery worker → pynetdicom): against DCMTK
storescp (echo, no Query/Retrieve, uncompressed storage only), against the console's own
listener that knows or does not know the console as a C-MOVE destination, a peer that is
down, a rejected association; the report on the job page and the command lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.tokens import issue_token
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    ApplicationEntity,
    Association,
    AssociationOutcome,
    Job,
    JobStatus,
    Listener,
    ListenerStatus,
)
from netjobs.operations.connectivity import batches, probe_pairs
from tests.conftest import logged_in, wait_for_job
from tests.listener_helpers import make_listener
from tests.peers import dcmtk_storescp, free_port

pytestmark = pytest.mark.django_db(transaction=True)

CT = "1.2.840.10008.5.1.4.1.1.2"
VERIFICATION = "1.2.840.10008.1.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
UNCOMPRESSED = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"]
JPEG_2000_LOSSLESS = "1.2.840.10008.1.2.4.90"


def check(user: User, params: dict[str, Any], seconds: float = 40) -> Job:
    raw = issue_token(user, "test").raw
    response = Client().post("/api/jobs", {"kind": "connectivity", "params": params},
                             content_type="application/json",
                             headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 201, response.content
    return wait_for_job(Job.objects.get(pk=response.json()["id"]), seconds)


def row(job: Job, sop_class: str) -> dict[str, str]:
    """Transfer syntax UID → the answer, for one SOP class of the matrix."""
    matrix = job.result["transfer_syntaxes"]
    (found,) = [r for r in matrix["rows"] if r["uid"] == sop_class]
    return {s["uid"]: cell for s, cell in zip(matrix["syntaxes"], found["cells"], strict=True)}


@pytest.fixture
def listener(manager: ListenerManager) -> Listener:
    """The console's listener: Verification, Storage and Query/Retrieve over the archive."""
    listener = make_listener()
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    return listener


def test_dcmtk_storescp_echoes_but_offers_no_query_retrieve(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path) -> None:
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = check(operator, {"ae": ae.pk})
        peer_log = peer.log()

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["echo"]["ok"] is True and job.result["echo"]["status"] == "0x0000"
    assert "Received Echo Request" in peer_log
    move = job.result["move"]
    assert move["verdict"] == "move_not_offered", move
    assert "does not offer Study Root C-MOVE" in move["explanation"]
    ct = row(job, CT)
    assert {ts for ts, cell in ct.items() if cell == "accepted"} == set(UNCOMPRESSED)
    assert ct[JPEG_2000_LOSSLESS] == "transfer_syntax_not_supported"
    assert set(row(job, STUDY_ROOT_FIND).values()) == {"sop_class_not_supported"}
    assert row(job, VERIFICATION)["1.2.840.10008.1.2"] == "accepted"
    assert job.result["transfer_syntaxes"]["associations"] == 1  # 100 contexts ≤ 128
    # Three associations: the echo, the C-MOVE (every context refused), the probe.
    records = list(Association.objects.filter(job=job).order_by("pk"))
    assert len(records) == 3
    assert records[2].presentation_contexts.count() == 100
    assert records[1].outcome == AssociationOutcome.ABORTED  # nothing accepted

    page = logged_in(operator).get(job.get_absolute_url()).content.decode()
    assert 'id="syntax-matrix"' in page and 'data-verdict="move_not_offered"' in page
    assert page.count('data-result="accepted"') == sum(
        len(r["accepted"]) for r in job.result["transfer_syntaxes"]["rows"])


def test_the_consoles_listener_knows_the_console_as_destination(
        celery_worker_process: Path, operator: User, listener: Listener,
        remote_ae: Any) -> None:
    ae = remote_ae(ae_title=listener.ae_title, port=listener.port,
                   accepts_move_destination=True)
    job = check(operator, {"ae": ae.pk})

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["console"] == {"ae_title": listener.ae_title, "host": "127.0.0.1",
                                     "port": listener.port,
                                     "source": f"listener '{listener.name}'"}
    move = job.result["move"]
    assert (move["verdict"], move["status"]) == ("knows_console", "0x0000")
    assert f"accepted a C-MOVE to {listener.ae_title}" in move["explanation"]
    assert set(row(job, CT).values()) == {"accepted"}  # the archive keeps any syntax
    assert row(job, STUDY_ROOT_MOVE)["1.2.840.10008.1.2.1"] == "accepted"
    move_record = Association.objects.filter(job=job).order_by("pk")[1]
    assert list(move_record.dimse_messages.values_list("command", "status")) == [
        ("C-MOVE-RQ", None), ("C-MOVE-RSP", 0)]


def test_the_consoles_listener_that_does_not_know_the_console(
        celery_worker_process: Path, operator: User, listener: Listener,
        remote_ae: Any) -> None:
    ae = remote_ae(ae_title=listener.ae_title, port=listener.port,
                   accepts_move_destination=False)
    job = check(operator, {"ae": ae.pk, "transfer_syntaxes": False})

    assert job.status == JobStatus.PARTIAL
    move = job.result["move"]
    assert (move["verdict"], move["status"]) == ("does_not_know_console", "0xA801")
    assert f"does not know {listener.ae_title} as a move destination" in job.error
    assert "Unknown move destination" in move["status_text"]  # the listener's Error Comment
    configuration = job.result["remote_configuration"]
    assert (f"AE title {listener.ae_title}, host 127.0.0.1, port {listener.port}"
            in configuration)
    assert "transfer_syntaxes" not in job.result
    assert Association.objects.filter(job=job).count() == 2

    page = logged_in(operator).get(job.get_absolute_url()).content.decode()
    assert f"<code>{listener.port}</code>" in page
    assert 'data-verdict="does_not_know_console"' in page


def test_a_peer_that_is_down(celery_worker_process: Path, operator: User,
                             remote_ae: Any) -> None:
    ae = remote_ae(port=free_port())
    job = check(operator, {"ae": ae.pk})
    assert job.status == JobStatus.FAILED
    assert "Nothing is listening on 127.0.0.1" in job.error
    assert job.result["move"]["verdict"] == "not_run"
    assert "transfer_syntaxes" not in job.result
    assert Association.objects.filter(job=job).count() == 1  # no pointless retries


def test_a_rejected_association(celery_worker_process: Path, operator: User,
                                listener: Listener, remote_ae: Any) -> None:
    ae = remote_ae(ae_title="NOT_CONSOLE", port=listener.port)
    job = check(operator, {"ae": ae.pk})
    assert job.status == JobStatus.FAILED
    assert "does not accept the called AE title 'NOT_CONSOLE'" in job.error
    assert Association.objects.get(job=job).outcome == AssociationOutcome.REJECTED


def test_contexts_are_split_at_128_per_association() -> None:
    pairs = probe_pairs()
    assert len(pairs) == len(set(pairs)) == 100
    assert [len(b) for b in batches(pairs * 3)] == [128, 128, 44]


@pytest.mark.django_db  # not transactional: the on-commit enqueueing is captured, not run
def test_form_and_command_lines(operator: User, remote_ae: Any,
                                django_capture_on_commit_callbacks: Any) -> None:
    ae: ApplicationEntity = remote_ae(ae_title="PACS", port=11112)
    client = logged_in(operator)
    assert "/jobs/new/connectivity/" in client.get("/jobs/new/").content.decode()
    page = client.get(f"/jobs/new/connectivity/?ae={ae.pk}").content.decode()
    assert f'<option value="{ae.pk}" selected>' in page
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post("/jobs/new/connectivity/", {"ae": ae.pk, "move_test": "on"})
    assert started.status_code == 302
    job = Job.objects.get()
    assert (job.params["move_test"], job.params["transfer_syntaxes"]) == (True, False)
    commands = [(c["tool_set"], c["command"])
                for c in client.get(f"/api/jobs/{job.pk}").json()["commands"]]
    assert ("DCMTK", "echoscu -aet DICOMCONSOLE -aec PACS 127.0.0.1 11112") in commands
    assert ("DCMTK", "movescu -S -aet DICOMCONSOLE -aec PACS -aem DICOMCONSOLE "
                     "-k QueryRetrieveLevel=STUDY -k StudyInstanceUID=2.25.0 "
                     "127.0.0.1 11112") in commands
    assert ("dcm4che", "movescu -c PACS@127.0.0.1:11112 -b DICOMCONSOLE --dest DICOMCONSOLE "
                       "-L STUDY -m StudyInstanceUID=2.25.0") in commands
