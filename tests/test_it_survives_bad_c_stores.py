"""A Storage SCP under bad input and load: malformed data sets, a SOP class that does not
match its context, truncated PDUs, a full disk, and four DCMTK senders at once. Each gets
the right status or an abort on record, nothing partial is indexed, the listener serves on."""

import errno
import os
import socket
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    SecondaryCaptureImageStorage,
    Verification,
)

from archive.indexing import IndexCache
from archive.models import DuplicatePolicy, Instance
from archive.storage import absolute_path, storage_root
from netjobs.dicom.status import DimseStatus
from netjobs.listeners import handlers
from netjobs.listeners.manager import ListenerManager
from netjobs.models import Association, Listener
from tests.archive_helpers import corpus
from tests.listener_helpers import dcmtk, make_listener, settled
from tests.peers import DCMTK_ENV, _running, free_port, require_tool

pytestmark = pytest.mark.django_db(transaction=True)


def part10(folder: Path, name: str, *, meta_sop_class: str, dataset_sop_class: str,
           truncate: bool = False) -> Path:
    """A file whose meta header says one SOP class (pynetdicom picks the context by it) and
    whose data set says another; or whose data set is cut inside a value."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = dataset_sop_class, generate_uid()
    ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "BAD", generate_uid(), \
        generate_uid()
    ds.Modality = "OT"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(meta_sop_class)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / name
    ds.save_as(path, enforce_file_format=True)  # (which sets the meta from the data set)
    if meta_sop_class != dataset_sop_class:
        data = path.read_bytes()
        meta_end = 144 + int.from_bytes(data[140:144], "little")
        old, new = (f"{uid}{chr(0) * (len(uid) % 2)}".encode()
                    for uid in (dataset_sop_class, meta_sop_class))
        assert len(old) == len(new)
        path.write_bytes(data[:meta_end].replace(old, new, 1) + data[meta_end:])
    if truncate:  # a trailing element announcing 4096 bytes and holding 8
        with path.open("ab") as out:
            out.write(struct.pack("<HH2sHL", 0x0009, 0x1010, b"OB", 0, 4096) + b"12345678")
    return path


@pytest.fixture
def listener(manager: ListenerManager) -> Listener:
    made = make_listener()
    manager.reconcile()
    return made


def store_files(port: int, *paths: Path) -> list[int]:
    ae = AE(ae_title="SENDER")
    ae.add_requested_context(SecondaryCaptureImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="CONSOLE")
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(path).Status) for path in paths]
    finally:
        assoc.release()


def test_malformed_and_mismatched_data_sets_get_failure_statuses(listener: Listener,
                                                                 tmp_path: Path) -> None:
    truncated = part10(tmp_path, "cut.dcm", meta_sop_class=SecondaryCaptureImageStorage,
                       dataset_sop_class=SecondaryCaptureImageStorage, truncate=True)
    mismatched = part10(tmp_path, "ct-as-sc.dcm", meta_sop_class=SecondaryCaptureImageStorage,
                        dataset_sop_class=CTImageStorage)
    fine = part10(tmp_path, "fine.dcm", meta_sop_class=SecondaryCaptureImageStorage,
                  dataset_sop_class=SecondaryCaptureImageStorage)
    statuses = store_files(listener.port, truncated, mismatched, fine)
    assert statuses == [DimseStatus.CANNOT_UNDERSTAND, DimseStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS,
                        DimseStatus.SUCCESS]
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        dcmread(fine).SOPInstanceUID]
    stored = [p for p in storage_root().rglob("*") if p.is_file()]
    assert stored == [absolute_path(Instance.objects.get().file_path)]  # no leftovers
    settled(listener, 1)
    messages = Association.objects.get(listener=listener).dimse_messages
    assert list(messages.filter(command="C-STORE-RSP").order_by("pk")
                .values_list("status", flat=True)) == statuses


def test_a_truncated_pdu_aborts_that_association_only(listener: Listener) -> None:
    ae = AE(ae_title="CUTTER")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="CONSOLE")
    assert assoc.is_established
    transport = assoc.dul.socket
    assert transport is not None and transport.socket is not None
    raw = transport.socket
    raw.sendall(struct.pack(">BBL", 0x04, 0, 1000) + b"only a few bytes")  # P-DATA-TF, cut
    raw.shutdown(socket.SHUT_WR)
    transport.close()
    assoc.kill()
    settled(listener, 1)
    record = Association.objects.get(listener=listener)
    assert record.outcome == "aborted" and record.calling_ae_title == "CUTTER"
    assert dcmtk("echoscu", "-aec", "CONSOLE", "127.0.0.1", str(listener.port)).returncode == 0


def test_a_full_disk_answers_a700_and_indexes_nothing(db: Any, settings: Any,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # A full disk cannot be caused safely for real: fsync fails the way it does on ENOSPC.
    settings.STORAGE_ROOT = tmp_path / "storage"

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    data = corpus("emri_small.dcm").read_bytes()
    status = handlers.store_instance(
        data, "", "SENDER", handlers.StoreSettings(1, DuplicatePolicy.KEEP_FIRST, IndexCache()))
    assert status == DimseStatus.OUT_OF_RESOURCES
    assert not Instance.objects.exists()
    assert not [p for p in (tmp_path / "storage").rglob("*") if p.is_file()]


def sender_commands(port: int) -> list[list[str]]:
    """Two storescu with uncompressed files, two dcmsend keeping the compressed ones."""
    uncompressed = ["693_UNCI.dcm", "emri_small.dcm", "MR2_UNCI.dcm", "JPEG2000_UNC.dcm"]
    compressed = ["693_J2KR.dcm", "MR2_J2KR.dcm", "OBXXXX1A_rle.dcm",
                  "JPGLosslessP14SV1_1s_1f_8b.dcm", "JPEG-LL.dcm", "US1_J2KR.dcm"]
    batches = [("storescu", [], uncompressed[0::2]), ("storescu", [], uncompressed[1::2]),
               ("dcmsend", ["--decompress-never"], compressed[0::2]),
               ("dcmsend", ["--decompress-never"], compressed[1::2])]
    return [[require_tool(tool), *options, "-aet", f"SENDER{n}", "-aec", "CONSOLE",
             "127.0.0.1", str(port), *[str(corpus(name)) for name in names]]
            for n, (tool, options, names) in enumerate(batches)]


def run_all(commands: list[list[str]]) -> None:
    senders = [subprocess.Popen(command, env=DCMTK_ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE) for command in commands]
    for sender in senders:
        _, err = sender.communicate(timeout=120)
        assert sender.returncode == 0, err


def dataset_bytes(data: bytes) -> bytes:
    meta_length = int.from_bytes(data[140:144], "little")  # (0002,0000) value
    return data[144 + meta_length:]


def by_sop_instance(paths: list[Path]) -> dict[str, bytes]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID): dataset_bytes(
        p.read_bytes()) for p in paths}


def test_four_senders_at_once(listener: Listener, tmp_path: Path) -> None:
    # What the senders put on the wire (DCMTK recomputes group lengths, for one) is what
    # DCMTK's storescp keeps with +B (bit-preserving): the oracle for "stored as sent".
    port = free_port()
    received = tmp_path / "storescp"
    received.mkdir()
    argv = [require_tool("storescp"), "+xa", "+B", "-aet", "CONSOLE", "-od", str(received),
            str(port)]
    with _running(argv, "CONSOLE", port, tmp_path / "storescp.log"):
        run_all(sender_commands(port))
    sent = by_sop_instance(list(received.iterdir()))
    assert len(sent) == 10
    run_all(sender_commands(listener.port))
    settled(listener, 4)
    stored = by_sop_instance([absolute_path(i.file_path) for i in Instance.objects.all()])
    assert stored.keys() == sent.keys()
    for uid, data in sent.items():
        assert stored[uid] == data, uid
