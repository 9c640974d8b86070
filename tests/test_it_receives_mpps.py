"""Modality Performed Procedure Step SCP (PS3.4 Annex F) of a running listener, driven by a
pynetdicom SCU over loopback: create, complete, the refusals of Annex F and PS3.7, and the
MPPS pages."""

import struct
import threading
from datetime import datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import InstanceSource, Study
from netjobs.dicom.status import DimseStatus
from netjobs.listeners.manager import ListenerManager
from netjobs.listeners.mpps import create_step, set_step
from netjobs.models import (
    Listener,
    ListenerStatus,
    PerformedProcedureStep,
    PerformedProcedureStepStatus,
)
from tests.archive_helpers import make_object
from tests.conftest import logged_in
from tests.listener_helpers import make_listener
from tests.notification_helpers import modality, step_end, step_in_progress

pytestmark = pytest.mark.django_db(transaction=True)


def running_listener(manager: ListenerManager) -> Listener:
    listener = make_listener(mpps=True, instance_availability=True)
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    return listener


def test_a_step_is_created_in_progress_then_completed(manager: ListenerManager) -> None:
    listener = running_listener(manager)
    study_uid, uid, series_uid = generate_uid(), generate_uid(), generate_uid()
    with modality(listener) as scu:
        status, created = scu.create_step(step_in_progress(study_uid), uid)
        assert status == DimseStatus.SUCCESS
        assert created is not None and created.PatientID == "P-1"  # the attributes as created
        step = PerformedProcedureStep.objects.get(sop_instance_uid=uid)
        assert step.status == PerformedProcedureStepStatus.IN_PROGRESS
        assert (step.patient_name, step.patient_id, step.modality) == ("Doe^Jane", "P-1", "CT")
        assert (step.procedure_step_id, step.station_ae_title) == ("PPS-7", "CT_ROOM_1")
        assert step.description == "Head without contrast"
        assert step.started_at == timezone.make_aware(datetime(2024, 3, 5, 9, 30))
        assert step.ended_at is None
        assert (step.study_instance_uids, step.accession_numbers) == ([study_uid], ["ACC-1"])
        assert (step.calling_ae_title, step.listener_id) == ("MODALITY", listener.pk)
        assert step.dataset["00100020"] == {"vr": "LO", "Value": ["P-1"]}
        assert [e["operation"] for e in step.events] == ["N-CREATE"]

        status, _ = scu.set_step(step_end("COMPLETED", series_uid=series_uid), uid)
        assert status == DimseStatus.SUCCESS
        step.refresh_from_db()
        assert step.status == PerformedProcedureStepStatus.COMPLETED
        assert step.ended_at == timezone.make_aware(datetime(2024, 3, 5, 9, 45, 12))
        performed = step.dataset["00400340"]["Value"]  # Performed Series Sequence, merged
        assert performed[0]["0020000E"]["Value"] == [series_uid]
        assert step.patient_id == "P-1"  # what the N-SET did not touch stays
        assert [(e["operation"], e["result"]) for e in step.events] == [
            ("N-CREATE", "0x0000"), ("N-SET", "0x0000")]
        assert scu.echo() == DimseStatus.SUCCESS


def test_a_final_step_may_no_longer_be_updated(manager: ListenerManager) -> None:
    listener = running_listener(manager)
    uid = generate_uid()
    with modality(listener) as scu:
        assert scu.create_step(step_in_progress(generate_uid()), uid)[0] == 0
        assert scu.set_step(step_end("DISCONTINUED"), uid)[0] == 0
        status, response = scu.set_step(step_end("COMPLETED", end_time="100000"), uid)
        assert status == DimseStatus.MPPS_MAY_NO_LONGER_BE_UPDATED == 0x0110
        assert "DISCONTINUED" in response.ErrorComment
    step = PerformedProcedureStep.objects.get(sop_instance_uid=uid)
    assert step.status == PerformedProcedureStepStatus.DISCONTINUED
    assert step.ended_at == timezone.make_aware(datetime(2024, 3, 5, 9, 45, 12))
    assert [e["result"] for e in step.events] == ["0x0000", "0x0000", "0x0110"]


def test_concurrent_n_sets_end_a_step_once(manager: ListenerManager) -> None:
    listener = running_listener(manager)
    uid = generate_uid()
    with modality(listener) as scu:
        assert scu.create_step(step_in_progress(generate_uid()), uid)[0] == 0
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}

    def end(status: str, ae_title: str) -> None:
        with modality(listener, ae_title=ae_title) as scu:
            barrier.wait(timeout=10)
            answers[status] = scu.set_step(step_end(status), uid)[0]

    threads = [threading.Thread(target=end, args=args)
               for args in (("COMPLETED", "MOD_A"), ("DISCONTINUED", "MOD_B"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers.values()) == [DimseStatus.SUCCESS,
                                        DimseStatus.MPPS_MAY_NO_LONGER_BE_UPDATED]
    winner = next(status for status, answer in answers.items() if answer == 0)
    step = PerformedProcedureStep.objects.get(sop_instance_uid=uid)
    assert step.status == winner
    assert [e["result"] for e in step.events] == ["0x0000", "0x0000", "0x0110"]


def test_unknown_and_duplicate_instances_are_refused(manager: ListenerManager) -> None:
    listener = running_listener(manager)
    uid = generate_uid()
    with modality(listener) as scu:
        status, _ = scu.set_step(step_end("COMPLETED"), generate_uid())
        assert status == DimseStatus.NO_SUCH_OBJECT_INSTANCE == 0x0112
        assert scu.create_step(step_in_progress(generate_uid(), patient_id="FIRST"), uid)[0] == 0
        status, created = scu.create_step(
            step_in_progress(generate_uid(), patient_id="SECOND"), uid)
        assert (status, created) == (DimseStatus.DUPLICATE_SOP_INSTANCE, None)
        assert scu.echo() == DimseStatus.SUCCESS
    assert list(PerformedProcedureStep.objects.values_list("patient_id", flat=True)) == ["FIRST"]


def test_the_scp_assigns_the_uid_when_the_request_has_none(manager: ListenerManager) -> None:
    listener = running_listener(manager)
    with modality(listener) as scu:
        status, _ = scu.create_step(step_in_progress(generate_uid()), None)
        assert status == DimseStatus.SUCCESS
        assigned = str(scu.last_response.AffectedSOPInstanceUID)
    step = PerformedProcedureStep.objects.get()
    assert step.sop_instance_uid == assigned
    assert len(assigned) <= 64 and assigned.replace(".", "").isdigit()


@pytest.mark.parametrize(("status_value", "expected"), [
    ("COMPLETED", DimseStatus.INVALID_ATTRIBUTE_VALUE),  # a step starts IN PROGRESS
    ("SCHEDULED", DimseStatus.INVALID_ATTRIBUTE_VALUE),
    ("", DimseStatus.MISSING_ATTRIBUTE_VALUE),
    (None, DimseStatus.MISSING_ATTRIBUTE),
])
def test_a_create_not_in_progress_is_refused(manager: ListenerManager, status_value: str | None,
                                             expected: DimseStatus) -> None:
    listener = running_listener(manager)
    with modality(listener) as scu:
        attributes = step_in_progress(generate_uid(), status=status_value)
        assert scu.create_step(attributes, generate_uid())[0] == expected
        assert scu.echo() == DimseStatus.SUCCESS
    assert not PerformedProcedureStep.objects.exists()


def test_malformed_requests_fail_and_the_listener_keeps_serving(
    manager: ListenerManager,
) -> None:
    listener = running_listener(manager)
    uid = generate_uid()
    with modality(listener) as scu:
        assert scu.create_step(step_in_progress(generate_uid()), uid)[0] == 0
        bad_status = Dataset()
        bad_status.PerformedProcedureStepStatus = "PAUSED"
        assert scu.set_step(bad_status, uid)[0] == DimseStatus.INVALID_ATTRIBUTE_VALUE
        # Rows (0028,0010) as US with three bytes: the attribute list cannot be decoded.
        assert scu.transfer_syntax.is_implicit_VR
        rows = struct.pack("<HHI", 0x0028, 0x0010, 3) + b"\x01\x02\x03"
        broken = generate_uid()
        assert scu.create_step_from_bytes(rows, broken) == DimseStatus.PROCESSING_FAILURE
        assert scu.echo() == DimseStatus.SUCCESS
    with modality(listener) as scu:  # and new associations are served
        assert scu.echo() == DimseStatus.SUCCESS
    step = PerformedProcedureStep.objects.get()
    assert (step.sop_instance_uid, step.status) == (uid, PerformedProcedureStepStatus.IN_PROGRESS)
    assert step.events[-1]["result"] == "0x0106"


def test_the_plain_functions_refuse_an_invalid_uid_and_unknown_steps(db: None) -> None:
    attributes = step_in_progress(generate_uid())
    assert create_step(attributes, "1.2.abc", "MOD", None).status == \
        DimseStatus.INVALID_OBJECT_INSTANCE
    assert create_step(attributes, "1.2.3.4", "MOD", None).status == DimseStatus.SUCCESS
    assert set_step(step_end("COMPLETED"), "1.2.3.5", "MOD").status == \
        DimseStatus.NO_SUCH_OBJECT_INSTANCE
    assert set_step(step_end("COMPLETED"), "1.2.3.4", "MOD").status == DimseStatus.SUCCESS


# --- pages --------------------------------------------------------------------------------
def archived_study(tmp_path: Path, accession: str) -> Study:
    path = make_object(tmp_path, patient_name="Doe^Jane", patient_id="P-1",
                       study_date="20240305", modality="CT", accession=accession)
    result = store_file(path, source=InstanceSource.UPLOAD)
    return result.instance.series.study


def test_a_viewer_sees_the_steps_linked_to_their_studies(
    manager: ListenerManager, viewer: User, tmp_path: Path,
) -> None:
    listener = running_listener(manager)
    study = archived_study(tmp_path, "ACC-9")
    missing_study_uid, uid = generate_uid(), generate_uid()
    with modality(listener, ae_title="CT_SCANNER") as scu:
        assert scu.create_step(step_in_progress(study.study_instance_uid, accession="ACC-9",
                                                patient_name="Roe^Rita"), uid)[0] == 0
        assert scu.create_step(step_in_progress(missing_study_uid, patient_name="Poe^Paul",
                                                modality="MR"), generate_uid())[0] == 0
        assert scu.set_step(step_end("COMPLETED"), uid)[0] == 0
    client = logged_in(viewer)
    page = client.get("/notifications/mpps/").content.decode()
    assert "Roe^Rita" in page and "Poe^Paul" in page and "CT_SCANNER" in page
    assert f'href="{study.get_absolute_url()}"' in page
    assert missing_study_uid in page  # shown, without a link: not in the archive
    filtered = client.get("/notifications/mpps/", {"status": "COMPLETED"}).content.decode()
    assert "Roe^Rita" in filtered and "Poe^Paul" not in filtered
    by_calling = client.get("/notifications/mpps/", {"calling": "nobody"}).content.decode()
    assert "Roe^Rita" not in by_calling
    other = make_listener(name="other", ae_title="OTHER")
    assert "Roe^Rita" in client.get("/notifications/mpps/",
                                    {"listener": listener.pk}).content.decode()
    assert "Roe^Rita" not in client.get("/notifications/mpps/",
                                        {"listener": other.pk}).content.decode()
    step = PerformedProcedureStep.objects.get(sop_instance_uid=uid)
    detail = client.get(f"/notifications/mpps/{step.pk}/").content.decode()
    assert uid in detail and "Head without contrast" in detail
    assert f'href="{study.get_absolute_url()}"' in detail
    assert "N-CREATE" in detail and "N-SET" in detail  # the events
    assert "PerformedSeriesSequence" in detail and "Tech^Tom" in detail  # the attributes


def test_anonymous_visitors_are_sent_to_login(db: None) -> None:
    step = PerformedProcedureStep.objects.create(sop_instance_uid="1.2.3", status="IN PROGRESS")
    for path in ("/notifications/mpps/", f"/notifications/mpps/{step.pk}/"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].split("?")[0] == "/login/"


def test_the_api_lists_steps_for_viewers(viewer: User) -> None:
    PerformedProcedureStep.objects.create(sop_instance_uid="1.2.3.1", status="IN PROGRESS",
                                          patient_id="P-1", calling_ae_title="CT_A")
    done = PerformedProcedureStep.objects.create(
        sop_instance_uid="1.2.3.2", status="COMPLETED", patient_id="P-2",
        calling_ae_title="MR_B", dataset={"00100020": {"vr": "LO", "Value": ["P-2"]}})
    client = logged_in(viewer)
    listed = client.get("/api/mpps", {"status": "COMPLETED"}).json()
    assert [(s["sop_instance_uid"], s["patient_id"]) for s in listed["items"]] == [
        ("1.2.3.2", "P-2")]
    assert listed["count"] == 1
    assert len(client.get("/api/mpps").json()["items"]) == 2
    detail = client.get(f"/api/mpps/{done.pk}").json()
    assert detail["dataset"]["00100020"]["Value"] == ["P-2"]
    assert client.get("/api/mpps", {"status": "PAUSED"}).status_code == 422
    assert Client().get("/api/mpps").status_code == 401
