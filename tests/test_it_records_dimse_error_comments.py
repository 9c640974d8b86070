"""DIMSE rows keep the status, the Affected SOP Instance UID and the Error Comment of the
messages both ways, and the association record shows them: a store job refused by a peer
that says why (received), and the console's own Q/R listener answering DCMTK movescu's move
to an unknown destination with 0xA801 and a comment (sent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from netjobs.jobs.services import create_job
from netjobs.listeners.manager import ListenerManager
from netjobs.models import Association, AssociationRole, DimseDirection, JobStatus
from tests.archive_helpers import make_object
from tests.conftest import logged_in, wait_for_job
from tests.listener_helpers import dcmtk, make_listener, settled
from tests.peers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

COMMENT = "Disk /data is full"
OUT_OF_RESOURCES = 0xA700
MOVE_DESTINATION_UNKNOWN = 0xA801


@pytest.fixture
def refusing_scp() -> Iterator[int]:
    """A Storage SCP that refuses every instance with 0xA700 and an Error Comment."""

    def refuse(event: Any) -> Dataset:
        status = Dataset()
        status.Status = OUT_OF_RESOURCES
        status.ErrorComment = COMMENT
        return status

    ae = AE(ae_title="FULLDISK")
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(str(context.abstract_syntax))
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False,
                             evt_handlers=[(evt.EVT_C_STORE, refuse)])
    assert server is not None
    try:
        yield port
    finally:
        server.shutdown()


def instances(tmp_path: Path, count: int, study_uid: str) -> list[Instance]:
    for n in range(count):
        store_file(make_object(tmp_path, patient_name=f"Full^{n}", patient_id="FULL",
                               study_date="20260101", modality="OT", study_uid=study_uid),
                   source=InstanceSource.PATH_IMPORT)
    return list(Instance.objects.filter(series__study__study_instance_uid=study_uid))


def test_a_refused_c_store_records_status_uid_and_comment(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path,
        refusing_scp: int) -> None:
    sent = instances(tmp_path, 2, "1.2.826.0.1.3680043.8.498.9101")
    ae = remote_ae(ae_title="FULLDISK", port=refusing_scp)
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": [sent[0].series.study_id]},
                                  owner=operator), seconds=60)
    assert job.status == JobStatus.FAILED, job.error
    record = Association.objects.get(job=job)
    responses = record.dimse_messages.filter(command="C-STORE-RSP")
    assert responses.count() == 2
    assert {m.direction for m in responses} == {DimseDirection.RECEIVED}
    assert {m.status for m in responses} == {OUT_OF_RESOURCES}
    assert {m.error_comment for m in responses} == {COMMENT}
    uids = {i.sop_instance_uid for i in sent}
    assert {m.affected_sop_instance_uid for m in responses} == uids
    requests = record.dimse_messages.filter(command="C-STORE-RQ")
    assert {m.affected_sop_instance_uid for m in requests} == uids
    assert record.dimse_failures == 2

    client = logged_in(operator)
    page = client.get(f"/associations/{record.pk}/record/").content.decode()
    assert COMMENT in page and "0xA700" in page
    assert all(uid in page for uid in uids)
    listed = client.get("/associations/?failures=1").content.decode()
    assert f'id="association-{record.pk}"' in listed


def test_a_move_to_an_unknown_destination_records_the_sent_comment(
        manager: ListenerManager, viewer: User, tmp_path: Path) -> None:
    archived = instances(tmp_path, 1, "1.2.826.0.1.3680043.8.498.9102")[0]
    listener = make_listener(query_retrieve=True, storage=False)
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == "running", listener.last_error
    moved = dcmtk("movescu", "-d", "-S", "-aet", "MOVER", "-aec", "CONSOLE", "-aem", "NOWHERE",
                  "-k", "QueryRetrieveLevel=STUDY",
                  "-k", f"StudyInstanceUID={archived.series.study.study_instance_uid}",
                  "127.0.0.1", str(listener.port))
    said = moved.stdout + moved.stderr
    assert "MoveDestinationUnknown" in said, said
    settled(listener, 1)
    record = Association.objects.get(listener=listener, role=AssociationRole.ACCEPTOR)
    response = record.dimse_messages.get(command="C-MOVE-RSP")
    assert response.direction == DimseDirection.SENT
    assert response.status == MOVE_DESTINATION_UNKNOWN
    assert "NOWHERE" in response.error_comment
    assert response.error_comment in said  # what movescu itself received
    assert record.dimse_failures == 1

    page = logged_in(viewer).get(f"/associations/{record.pk}/record/").content.decode()
    assert response.error_comment in page.replace("&#x27;", "'").replace("&quot;", '"')
    assert "0xA801" in page
