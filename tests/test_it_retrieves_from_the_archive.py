"""C-MOVE and C-GET over the archive, driven by DCMTK movescu/getscu and pynetdicom SCUs,
sending to DCMTK storescp and to the console's own Storage SCP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelMove,
)

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Series
from archive.storage import absolute_path
from netjobs.listeners.manager import ListenerManager
from netjobs.listeners.retrieve import StoredInstance, instances_to_retrieve, plan_contexts
from netjobs.models import AEKind, ApplicationEntity, Association, DimseMessage, Listener
from tests.archive_helpers import corpus, make_object
from tests.listener_helpers import dcmtk, make_listener, settled
from tests.peers import dcmtk_storescp, orthanc

pytestmark = pytest.mark.django_db(transaction=True)

FILES = ["693_J2KR.dcm", "693_UNCI.dcm", "OBXXXX1A_rle.dcm", "emri_small.dcm"]


def after_meta(data: bytes) -> bytes:
    """The data set bytes of a Part 10 file (what travels in a C-STORE)."""
    meta_length = int.from_bytes(data[140:144], "little")  # (0002,0000) group length value
    return data[144 + meta_length:]


@pytest.fixture
def archived(manager: ListenerManager) -> list[Instance]:
    for name in FILES:
        store_file(corpus(name), source=InstanceSource.PATH_IMPORT)
    return list(Instance.objects.select_related("series__study__patient"))


@pytest.fixture
def qr_listener(manager: ListenerManager, archived: list[Instance]) -> Iterator[Listener]:
    listener = make_listener(query_retrieve=True, storage=True)
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == "running", listener.last_error
    yield listener


def destination(ae_title: str, port: int, **fields: Any) -> ApplicationEntity:
    values: dict[str, Any] = {"kind": AEKind.REMOTE, "ae_title": ae_title,
                              "host": "127.0.0.1", "port": port,
                              "accepts_move_destination": True}
    values.update(fields)
    return ApplicationEntity.objects.create(**values)


def received_files(folder: Path) -> dict[str, Path]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
            for p in folder.iterdir() if p.is_file()}


def test_movescu_to_storescp_sends_the_stored_bytes(qr_listener: Listener,
                                                    archived: list[Instance],
                                                    tmp_path: Path) -> None:
    study = archived[0].series.study
    with dcmtk_storescp(tmp_path, "DEST") as peer:
        # storescp accepts only uncompressed syntaxes by default: compressed instances
        # are decompressed on the way (checked below); +xa is the next test.
        destination("DEST", peer.port)
        moved = dcmtk("movescu", "-v", "-S", "-aet", "MOVER", "-aec", "CONSOLE", "-aem", "DEST",
                      "-k", "QueryRetrieveLevel=STUDY",
                      "-k", f"StudyInstanceUID={study.study_instance_uid}",
                      "127.0.0.1", str(qr_listener.port))
        assert moved.returncode == 0, moved.stderr
        settled(qr_listener, 2)  # the C-MOVE association and its sub-association
    expected = Instance.objects.filter(series__study=study)
    got = received_files(tmp_path / "storescp-in")
    assert set(got) == {i.sop_instance_uid for i in expected}
    for instance in expected:
        sent = got[instance.sop_instance_uid]
        stored = absolute_path(instance.file_path)
        if instance.transfer_syntax_uid in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"):
            assert after_meta(sent.read_bytes()) == after_meta(stored.read_bytes())
        else:  # storescp takes no compressed syntax by default: decompressed on the way
            received, original = dcmread(sent), dcmread(stored)
            assert not received.file_meta.TransferSyntaxUID.is_compressed
            assert np.array_equal(received.pixel_array, original.pixel_array)
    move = Association.objects.get(listener=qr_listener, role="acceptor",
                                   calling_ae_title="MOVER")
    final = move.dimse_messages.filter(command="C-MOVE-RSP").order_by("pk").last()
    assert final is not None and final.status == 0
    sub = Association.objects.get(listener=qr_listener, role="requestor")
    assert (sub.called_ae_title, sub.outcome) == ("DEST", "released")
    assert sub.dimse_messages.filter(command="C-STORE-RSP", status=0).count() == expected.count()
    assert sub.tcp_nodelay is True


def test_movescu_with_compressed_syntaxes_keeps_them(qr_listener: Listener,
                                                     archived: list[Instance],
                                                     tmp_path: Path) -> None:
    from tests.peers import _running, free_port, require_tool
    port = free_port()
    out = tmp_path / "in"
    out.mkdir()
    argv = [require_tool("storescp"), "+xa", "+B", "-aet", "DEST", "-od", str(out), str(port)]
    with _running(argv, "DEST", port, tmp_path / "storescp.log"):
        destination("DEST", port)
        uids = [i.sop_instance_uid for i in archived]
        identifier = ["-k", "QueryRetrieveLevel=IMAGE", "-k",
                      "SOPInstanceUID=" + "\\".join(uids)]
        moved = dcmtk("movescu", "-S", "-aet", "MOVER", "-aec", "CONSOLE", "-aem", "DEST",
                      *identifier, "127.0.0.1", str(qr_listener.port))
        assert moved.returncode == 0, moved.stderr
    got = received_files(out)
    assert set(got) == set(uids)
    for instance in archived:
        assert after_meta(got[instance.sop_instance_uid].read_bytes()) == after_meta(
            absolute_path(instance.file_path).read_bytes()), instance.transfer_syntax_uid


def test_move_to_the_consoles_own_storage_listener(manager: ListenerManager,
                                                   archived: list[Instance],
                                                   tmp_path: Path) -> None:
    source = make_listener(name="qr", ae_title="CONSOLE", storage=False)
    inbox = make_listener(name="inbox", ae_title="INBOX", query_retrieve=False,
                          duplicate_policy="keep")
    manager.reconcile()
    destination("INBOX", inbox.port, kind=AEKind.LOCAL)
    series = archived[0].series
    moved = dcmtk("movescu", "-aet", "MOVER", "-aec", "CONSOLE", "-aem", "INBOX",
                  "-k", "QueryRetrieveLevel=SERIES",
                  "-k", f"PatientID={series.study.patient.patient_id}",
                  "-k", f"StudyInstanceUID={series.study.study_instance_uid}",
                  "-k", f"SeriesInstanceUID={series.series_instance_uid}",
                  "127.0.0.1", str(source.port))
    assert moved.returncode == 0, moved.stderr
    settled(inbox, 1)
    record = Association.objects.get(listener=inbox)
    assert record.calling_ae_title == "CONSOLE"
    assert record.dimse_messages.filter(command="C-STORE-RSP", status=0).count() == \
        series.instances.count()


def test_unknown_destination_is_a801_with_a_comment(qr_listener: Listener,
                                                     archived: list[Instance]) -> None:
    ae = AE(ae_title="MOVER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate("127.0.0.1", qr_listener.port, ae_title="CONSOLE")
    assert assoc.is_established
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = archived[0].series.study.study_instance_uid
    try:
        responses = list(assoc.send_c_move(identifier, "NOWHERE",
                                           StudyRootQueryRetrieveInformationModelMove))
    finally:
        assoc.release()
    status = responses[-1][0]
    assert status.Status == 0xA801
    assert "NOWHERE" in status.ErrorComment
    # movescu sees the same
    moved = dcmtk("movescu", "-S", "-aec", "CONSOLE", "-aem", "NOWHERE",
                  "-k", "QueryRetrieveLevel=STUDY",
                  "-k", f"StudyInstanceUID={identifier.StudyInstanceUID}",
                  "127.0.0.1", str(qr_listener.port))
    assert "a801" in (moved.stdout + moved.stderr).lower() or moved.returncode != 0
    settled(qr_listener, 2)
    assert DimseMessage.objects.filter(association__listener=qr_listener,
                                       command="C-MOVE-RSP", status=0xA801).count() == 2


def test_a_destination_that_is_down_is_a801(qr_listener: Listener,
                                            archived: list[Instance]) -> None:
    from tests.peers import free_port
    destination("GONE", free_port())
    dcmtk("movescu", "-S", "-aec", "CONSOLE", "-aem", "GONE",
          "-k", "QueryRetrieveLevel=STUDY",
          "-k", f"StudyInstanceUID={archived[0].series.study.study_instance_uid}",
          "127.0.0.1", str(qr_listener.port))
    settled(qr_listener, 2)
    assert DimseMessage.objects.filter(association__listener=qr_listener,
                                       command="C-MOVE-RSP", status=0xA801).exists()
    failed = Association.objects.get(listener=qr_listener, role="requestor")
    assert failed.outcome == "connection_failed"


def test_getscu_receives_on_the_same_association(qr_listener: Listener,
                                                 archived: list[Instance],
                                                 tmp_path: Path) -> None:
    out = tmp_path / "got"
    out.mkdir()
    series = Series.objects.get(instances__sop_instance_uid=archived[-1].sop_instance_uid)
    got = dcmtk("getscu", "-S", "-aet", "GETTER", "-aec", "CONSOLE", "-od", str(out),
                "-k", "QueryRetrieveLevel=SERIES",
                "-k", f"StudyInstanceUID={series.study.study_instance_uid}",
                "-k", f"SeriesInstanceUID={series.series_instance_uid}",
                "127.0.0.1", str(qr_listener.port))
    assert got.returncode == 0, got.stderr
    files = received_files(out)
    assert set(files) == {i.sop_instance_uid for i in series.instances.all()}
    for instance in series.instances.all():
        stored = dcmread(absolute_path(instance.file_path))
        assert np.array_equal(dcmread(files[instance.sop_instance_uid]).pixel_array,
                              stored.pixel_array)
    settled(qr_listener, 1)
    record = Association.objects.get(listener=qr_listener)
    assert record.dimse_messages.filter(command="C-GET-RSP", status=0).count() == 1
    assert record.presentation_contexts.filter(scp_role=True).exists()


def test_c_cancel_stops_a_move(manager: ListenerManager, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    study_uid = "1.2.826.0.1.3680043.8.498.4242"
    for n in range(40):
        store_file(make_object(folder, patient_name=f"CANCEL^{n}", patient_id="CANCEL",
                               study_date="20260101", modality="OT", study_uid=study_uid,
                               rows=256), source=InstanceSource.PATH_IMPORT)
    listener = make_listener(query_retrieve=True)
    manager.reconcile()
    received: list[str] = []

    def slow_store(event: Any) -> int:
        received.append(event.request.AffectedSOPInstanceUID)
        time.sleep(0.05)
        return 0

    sink = AE(ae_title="SINK")
    sink.supported_contexts = StoragePresentationContexts
    from tests.peers import free_port
    port = free_port()
    server = sink.start_server(("127.0.0.1", port), block=False,
                               evt_handlers=[(evt.EVT_C_STORE, slow_store)])
    assert server is not None
    try:
        destination("SINK", port)
        ae = AE(ae_title="MOVER")
        ae.add_requested_context(PatientRootQueryRetrieveInformationModelMove)
        assoc = ae.associate("127.0.0.1", listener.port, ae_title="CONSOLE")
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "PATIENT"
        identifier.PatientID = "CANCEL"
        statuses = []
        context_id = assoc.accepted_contexts[0].context_id
        for status, _ in assoc.send_c_move(identifier, "SINK",
                                           PatientRootQueryRetrieveInformationModelMove,
                                           msg_id=7):
            statuses.append(status.Status)
            if len(statuses) == 2:
                assoc.send_c_cancel(7, context_id)
        assoc.release()
    finally:
        server.shutdown()
    assert statuses[-1] == 0xFE00
    assert 0 < len(received) < 40


def test_retrieve_keys_select_the_right_instances(archived: list[Instance]) -> None:
    study = archived[0].series.study
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study.study_instance_uid
    found = instances_to_retrieve(identifier, patient_root=False)
    assert {i.sop_instance_uid for i in found} == set(
        Instance.objects.filter(series__study=study).values_list("sop_instance_uid", flat=True))
    identifier.QueryRetrieveLevel = "PATIENT"
    with pytest.raises(ValueError, match="no PATIENT level"):
        instances_to_retrieve(identifier, patient_root=False)
    identifier.QueryRetrieveLevel = "SERIES"
    with pytest.raises(ValueError, match="SeriesInstanceUID is required"):
        instances_to_retrieve(identifier, patient_root=True)
    identifier.SeriesInstanceUID = "1.2.*"
    with pytest.raises(ValueError, match="no wildcards"):
        instances_to_retrieve(identifier, patient_root=True)


def test_contexts_are_planned_like_dcmsend() -> None:
    items = [StoredInstance("1.2.840.10008.5.1.4.1.1.2", "1", "1.2.840.10008.1.2.4.90", "a"),
             StoredInstance("1.2.840.10008.5.1.4.1.1.2", "2", "1.2.840.10008.1.2.1", "b"),
             StoredInstance("1.2.840.10008.5.1.4.1.1.4", "3", "1.2.840.10008.1.2", "c")]
    assert plan_contexts(items) == [
        ("1.2.840.10008.5.1.4.1.1.2", ["1.2.840.10008.1.2.4.90"]),
        ("1.2.840.10008.5.1.4.1.1.2", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]),
        ("1.2.840.10008.5.1.4.1.1.4", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]),
    ]
    many = [StoredInstance(f"1.2.3.{n}", str(n), "1.2.840.10008.1.2.4.50", "x")
            for n in range(100)]
    assert len(plan_contexts(many)) == 128


def test_orthanc_retrieves_from_the_console_by_c_move(qr_listener: Listener,
                                                      archived: list[Instance],
                                                      tmp_path: Path) -> None:
    study = archived[0].series.study
    with orthanc(tmp_path, {"console": ("CONSOLE", "127.0.0.1", qr_listener.port)}) as peer:
        destination("ORTHANC", peer.dicom_port)
        peer.rest("POST", "/modalities/console/move", {
            "Level": "Study", "Resources": [{"StudyInstanceUID": study.study_instance_uid}],
            "TargetAet": "ORTHANC", "Synchronous": True})
        stored = peer.rest("GET", "/instances?expand")
        assert {i["MainDicomTags"]["SOPInstanceUID"] for i in stored} == set(
            Instance.objects.filter(series__study=study)
            .values_list("sop_instance_uid", flat=True))
        for entry in stored:
            instance = Instance.objects.get(sop_instance_uid=entry["MainDicomTags"]
                                            ["SOPInstanceUID"])
            original = absolute_path(instance.file_path).read_bytes()
            received = peer.rest("GET", f"/instances/{entry['ID']}/file")
            if dcmread(BytesIO(received)).file_meta.TransferSyntaxUID == \
                    instance.transfer_syntax_uid:
                assert after_meta(received) == after_meta(original)
            else:
                assert np.array_equal(dcmread(BytesIO(received)).pixel_array,
                                      dcmread(BytesIO(original)).pixel_array)


def move_statuses(port: int, identifier: Dataset,
                  destination_title: str) -> list[tuple[Dataset, Dataset | None]]:
    ae = AE(ae_title="MOVER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate("127.0.0.1", port, ae_title="CONSOLE")
    assert assoc.is_established
    try:
        return list(assoc.send_c_move(identifier, destination_title,
                                      StudyRootQueryRetrieveInformationModelMove))
    finally:
        assoc.release()


def test_no_match_and_bad_identifiers(qr_listener: Listener, tmp_path: Path) -> None:
    with dcmtk_storescp(tmp_path, "DEST") as peer:
        destination("DEST", peer.port)
        nothing = Dataset()
        nothing.QueryRetrieveLevel = "STUDY"
        nothing.StudyInstanceUID = "1.2.3.999"
        final = move_statuses(qr_listener.port, nothing, "DEST")[-1][0]
        assert (final.Status, final.NumberOfCompletedSuboperations) == (0, 0)
        bad = Dataset()
        bad.QueryRetrieveLevel = "FOO"
        refused = move_statuses(qr_listener.port, bad, "DEST")[-1][0]
        assert refused.Status == 0xC513 and "FOO" in refused.ErrorComment
    settled(qr_listener, 2)
    # neither opened an association to the destination
    assert not Association.objects.filter(listener=qr_listener, role="requestor").exists()


def test_a_destination_with_unusable_tls_settings_is_unable_to_process(
        qr_listener: Listener, archived: list[Instance]) -> None:
    destination("TLSDEST", 11112, tls_enabled=True, tls_ca_file="no-such-ca.pem")
    wanted = Dataset()
    wanted.QueryRetrieveLevel = "STUDY"
    wanted.StudyInstanceUID = archived[0].series.study.study_instance_uid
    final = move_statuses(qr_listener.port, wanted, "TLSDEST")[-1][0]
    assert final.Status == 0xC513, hex(final.Status)  # not 0xA801: the AE is known
    assert "TLS settings of destination TLSDEST are unusable" in final.ErrorComment
    settled(qr_listener, 1)
    assert not Association.objects.filter(listener=qr_listener, role="requestor").exists()


def test_an_instance_that_cannot_be_decompressed_fails_alone(manager: ListenerManager,
                                                            tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate
    broken = dcmread(corpus("693_J2KR.dcm"))
    broken.PixelData = encapsulate([b"\x00" * 64])  # not a JPEG 2000 code stream
    broken.save_as(tmp_path / "broken.dcm")
    store_file(tmp_path / "broken.dcm", source=InstanceSource.PATH_IMPORT)
    store_file(corpus("693_UNCI.dcm"), source=InstanceSource.PATH_IMPORT)  # same study
    listener = make_listener()
    manager.reconcile()
    with dcmtk_storescp(tmp_path, "DEST") as peer:  # takes uncompressed syntaxes only
        destination("DEST", peer.port)
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.StudyInstanceUID = broken.StudyInstanceUID
        final, failed = move_statuses(listener.port, identifier, "DEST")[-1]
    assert final.Status == 0xB000  # completed with failures
    assert (final.NumberOfCompletedSuboperations, final.NumberOfFailedSuboperations) == (1, 1)
    assert failed is not None and failed.FailedSOPInstanceUIDList == broken.SOPInstanceUID
