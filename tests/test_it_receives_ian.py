"""Instance Availability Notification SCP (PS3.4 Annex R) of a running listener, driven by a
pynetdicom SCU over loopback, and the IAN pages linked to the archive."""

import logging
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from netjobs.dicom.status import DimseStatus
from netjobs.listeners.manager import ListenerManager
from netjobs.models import (
    AvailabilityNotification,
    Listener,
    ListenerStatus,
    PerformedProcedureStep,
)
from tests.archive_helpers import make_object
from tests.conftest import logged_in
from tests.listener_helpers import make_listener
from tests.notification_helpers import availability, modality, step_in_progress

pytestmark = pytest.mark.django_db(transaction=True)

CT = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def running_listener(manager: ListenerManager) -> Listener:
    listener = make_listener(mpps=True, instance_availability=True)
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    return listener


def archived_instance(tmp_path: Path, study_uid: str, series_uid: str) -> Instance:
    path = make_object(tmp_path, patient_name="Doe^Jane", patient_id="P-1",
                       study_date="20240305", modality="OT", accession="ACC-1",
                       description="Archived head", study_uid=study_uid, series_uid=series_uid)
    return store_file(path, source=InstanceSource.UPLOAD).instance


def test_a_notification_is_stored_and_linked_to_the_archive(
    manager: ListenerManager, viewer: User, tmp_path: Path,
) -> None:
    listener = running_listener(manager)
    study_uid, series_uid, other_series = generate_uid(), generate_uid(), generate_uid()
    archived = archived_instance(tmp_path, study_uid, series_uid)
    missing, step_uid, uid = generate_uid(), generate_uid(), generate_uid()
    notification = availability(study_uid, {
        series_uid: [(SECONDARY_CAPTURE, archived.sop_instance_uid), (CT, missing)],
        other_series: [(CT, generate_uid())],
    }, step_uid=step_uid)
    with modality(listener, ae_title="PACS_B") as scu:
        assert scu.create_step(step_in_progress(study_uid), step_uid)[0] == 0
        assert scu.notify(notification, uid) == DimseStatus.SUCCESS
        assert scu.echo() == DimseStatus.SUCCESS
    stored = AvailabilityNotification.objects.get(sop_instance_uid=uid)
    assert (stored.study_instance_uids, stored.accession_numbers) == ([study_uid], ["ACC-1"])
    assert (stored.calling_ae_title, stored.listener_id) == ("PACS_B", listener.pk)
    assert stored.instance_count == 3
    assert stored.instances[:2] == [
        {"series_instance_uid": series_uid, "sop_class_uid": SECONDARY_CAPTURE,
         "sop_instance_uid": archived.sop_instance_uid, "availability": "ONLINE",
         "retrieve_ae_titles": ["CONSOLE", "BACKUP"]},
        {"series_instance_uid": series_uid, "sop_class_uid": CT, "sop_instance_uid": missing,
         "availability": "ONLINE", "retrieve_ae_titles": ["CONSOLE", "BACKUP"]},
    ]
    assert stored.instances[2]["series_instance_uid"] == other_series
    assert stored.dataset["0020000D"]["Value"] == [study_uid]

    client = logged_in(viewer)
    study_url = archived.series.study.get_absolute_url()
    listing = client.get("/notifications/ian/").content.decode()
    assert f'href="{study_url}"' in listing and "PACS_B" in listing
    assert 'data-archived="1"' in listing  # one of the three is in the archive
    assert "PACS_B" not in client.get("/notifications/ian/", {"calling": "other"}).content.decode()
    detail = client.get(f"/notifications/ian/{stored.pk}/").content.decode()
    assert f'href="{study_url}"' in detail
    assert f'href="{archived.get_absolute_url()}"' in detail  # the archived instance
    assert missing in detail and "CT Image Storage" in detail and "BACKUP" in detail
    step = PerformedProcedureStep.objects.get(sop_instance_uid=step_uid)
    assert f'href="/notifications/mpps/{step.pk}/">PPS-7 (In progress)' in detail
    step_page = client.get(f"/notifications/mpps/{step.pk}/").content.decode()
    assert f'href="/notifications/ian/{stored.pk}/"' in step_page  # IANs of its study


def test_a_duplicate_notification_is_refused(manager: ListenerManager) -> None:
    listener = running_listener(manager)
    uid, first_study = generate_uid(), generate_uid()
    with modality(listener) as scu:
        notification = availability(first_study, {generate_uid(): [(CT, generate_uid())]})
        assert scu.notify(notification, uid) == DimseStatus.SUCCESS
        again = availability(generate_uid(), {generate_uid(): [(CT, generate_uid())]})
        assert scu.notify(again, uid) == DimseStatus.DUPLICATE_SOP_INSTANCE == 0x0111
    assert list(AvailabilityNotification.objects.values_list("study_instance_uids", flat=True)
                ) == [[first_study]]


def test_the_scp_assigns_the_uid_when_the_request_has_none(manager: ListenerManager) -> None:
    listener = running_listener(manager)
    with modality(listener) as scu:
        study_uid = generate_uid()
        notification = availability(study_uid, {generate_uid(): [(CT, generate_uid())]})
        assert scu.notify(notification, None) == DimseStatus.SUCCESS
        assigned = str(scu.last_response.AffectedSOPInstanceUID)
    stored = AvailabilityNotification.objects.get()
    assert (stored.sop_instance_uid, stored.study_instance_uids) == (assigned, [study_uid])


def _without(keyword: str) -> Dataset:
    ds = availability(generate_uid(), {generate_uid(): [(CT, generate_uid())]})
    delattr(ds, keyword)
    return ds


def _series_without_instances() -> Dataset:
    return availability(generate_uid(), {generate_uid(): []})


def _reference_without_instance_uid() -> Dataset:
    ds = availability(generate_uid(), {generate_uid(): [(CT, generate_uid())]})
    del ds.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    return ds


@pytest.mark.parametrize(("make", "expected", "logged"), [
    (lambda: _without("ReferencedSeriesSequence"), DimseStatus.MISSING_ATTRIBUTE,
     "ReferencedSeriesSequence is missing"),
    (lambda: _without("ReferencedPerformedProcedureStepSequence"),
     DimseStatus.MISSING_ATTRIBUTE, "ReferencedPerformedProcedureStepSequence is missing"),
    (lambda: _without("StudyInstanceUID"), DimseStatus.MISSING_ATTRIBUTE,
     "StudyInstanceUID is missing"),
    (_series_without_instances, DimseStatus.MISSING_ATTRIBUTE_VALUE,
     "ReferencedSOPSequence has no item"),
    (_reference_without_instance_uid, DimseStatus.MISSING_ATTRIBUTE,
     "ReferencedSOPInstanceUID is missing in Referenced SOP item 1"),
])
def test_incomplete_notifications_are_refused_and_logged(
    manager: ListenerManager, caplog: pytest.LogCaptureFixture, make: object,
    expected: DimseStatus, logged: str,
) -> None:
    listener = running_listener(manager)
    caplog.set_level(logging.INFO, logger="netjobs.listeners.ian")
    with modality(listener) as scu:
        assert callable(make)
        assert scu.notify(make(), generate_uid()) == expected
        assert scu.echo() == DimseStatus.SUCCESS  # the listener keeps serving
    assert not AvailabilityNotification.objects.exists()
    assert logged in caplog.text


def test_anonymous_visitors_are_sent_to_login(db: None) -> None:
    notification = AvailabilityNotification.objects.create(sop_instance_uid="1.2.3")
    for path in ("/notifications/ian/", f"/notifications/ian/{notification.pk}/"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].split("?")[0] == "/login/"


def test_the_api_lists_notifications_for_viewers(viewer: User) -> None:
    AvailabilityNotification.objects.create(sop_instance_uid="1.2.4.1", calling_ae_title="A",
                                            study_instance_uids=["1.2.9.1"])
    second = AvailabilityNotification.objects.create(
        sop_instance_uid="1.2.4.2", calling_ae_title="B", study_instance_uids=["1.2.9.2"],
        instances=[{"sop_instance_uid": "1.2.9.2.1"}], instance_count=1)
    client = logged_in(viewer)
    listed = client.get("/api/ian", {"study": "1.2.9.2"}).json()["items"]
    assert [(n["sop_instance_uid"], n["instance_count"]) for n in listed] == [("1.2.4.2", 1)]
    assert len(client.get("/api/ian").json()["items"]) == 2
    detail = client.get(f"/api/ian/{second.pk}").json()
    assert detail["instances"] == [{"sop_instance_uid": "1.2.9.2.1"}]
    assert Client().get("/api/ian").status_code == 401


def test_a_steps_notifications_are_those_of_its_exact_studies(db: None) -> None:
    from netjobs.listeners.notification_views import notifications_of_studies
    exact = AvailabilityNotification.objects.create(
        sop_instance_uid="1.2.5.1", study_instance_uids=["1.2.9.7", "1.2.9.1"])
    AvailabilityNotification.objects.create(sop_instance_uid="1.2.5.2",
                                            study_instance_uids=["1.2.9.10"])
    AvailabilityNotification.objects.create(sop_instance_uid="1.2.5.3",
                                            study_instance_uids=["11.2.9.1"])
    assert list(notifications_of_studies(["1.2.9.1"])) == [exact]
    assert list(notifications_of_studies([])) == []
