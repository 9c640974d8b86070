"""Store jobs end to end (a real Celery worker): archive studies and server files sent to
DCMTK storescp and Orthanc byte for byte, decompression for peers that take only
uncompressed syntaxes, per-instance results, failures, cancel, retry of the failures."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from pydicom import dcmread
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, DEFAULT_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from archive.imports.uploads import staged_upload_dir
from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from netjobs.jobs.services import create_job
from netjobs.models import (
    AbortSource,
    Association,
    AssociationOutcome,
    ItemOutcome,
    Job,
    JobStatus,
)
from tests.archive_helpers import corpus, import_folder
from tests.conftest import logged_in, wait_for_job
from tests.peers import _running, free_port, orthanc, require_tool

pytestmark = pytest.mark.django_db(transaction=True)

UNCOMPRESSED_FILES = ["693_UNCI.dcm", "emri_small.dcm", "MR2_UNCI.dcm"]
COMPRESSED_FILES = ["693_J2KR.dcm", "OBXXXX1A_rle.dcm", "JPEG-LL.dcm", "MR2_J2KI.dcm"]


def data_set(data: bytes) -> bytes:
    return data[144 + int.from_bytes(data[140:144], "little"):]


def archived(names: list[str]) -> list[Instance]:
    for name in names:
        store_file(corpus(name), source=InstanceSource.PATH_IMPORT)
    uids = {str(dcmread(corpus(n), stop_before_pixels=True).SOPInstanceUID) for n in names}
    return list(Instance.objects.filter(sop_instance_uid__in=uids))


def study_ids(instances: list[Instance]) -> list[int]:
    return sorted({i.series.study_id for i in instances})


def received(folder: Path) -> dict[str, Path]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
            for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def storescp_all(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """DCMTK storescp taking every transfer syntax and keeping the bytes as received."""
    port, out = free_port(), tmp_path / "in"
    out.mkdir()
    argv = [require_tool("storescp"), "+xa", "+B", "-aet", "STORESCP", "-od", str(out),
            str(port)]
    with _running(argv, "STORESCP", port, tmp_path / "storescp.log"):
        yield port, out


@pytest.fixture
def storescp_uncompressed(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port, out = free_port(), tmp_path / "plain"
    out.mkdir()
    argv = [require_tool("storescp"), "-aet", "STORESCP", "-od", str(out), str(port)]
    with _running(argv, "STORESCP", port, tmp_path / "storescp-plain.log"):
        yield port, out


@pytest.fixture
def dcmrecv_all(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """DCMTK dcmrecv with Debian's storescp.cfg default profile (every storage SOP class in
    any transfer syntax), keeping the bytes as received."""
    config = Path("/etc/dcmtk/storescp.cfg")
    if not config.is_file():
        pytest.fail(f"{config} is missing: bin/test installs DCMTK, which provides it")
    port, out = free_port(), tmp_path / "recv"
    out.mkdir()
    argv = [require_tool("dcmrecv"), "-xf", str(config), "Default", "+B", "-aet", "STORESCP",
            "-od", str(out), str(port)]
    with _running(argv, "STORESCP", port, tmp_path / "dcmrecv.log"):
        yield port, out


@pytest.mark.parametrize("receiver", ["storescp_all", "dcmrecv_all"])
def test_a_study_arrives_byte_for_byte(celery_worker_process: Path, operator: User,
                                       remote_ae: Any, receiver: str,
                                       request: pytest.FixtureRequest) -> None:
    port, out = request.getfixturevalue(receiver)
    instances = archived(UNCOMPRESSED_FILES + COMPRESSED_FILES)
    ae = remote_ae(ae_title="STORESCP", port=port)
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids(instances)},
                                  owner=operator), seconds=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    got = received(out)
    assert set(got) == {i.sop_instance_uid for i in instances}
    for instance in instances:
        assert data_set(got[instance.sop_instance_uid].read_bytes()) == data_set(
            absolute_path(instance.file_path).read_bytes()), instance.transfer_syntax_uid
    items = job.items.all()
    assert {(i.outcome, i.status) for i in items} == {(ItemOutcome.SUCCEEDED, 0)}
    assert job.result["sent"] == len(instances) and job.counters["bytes"] == sum(
        i.file_size for i in instances)
    record = Association.objects.get(job=job)
    assert record.dimse_messages.filter(command="C-STORE-RSP", status=0).count() == len(
        instances)
    client = logged_in(operator)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "dcmsend -aet DICOMCONSOLE -aec STORESCP" in page and "Transfer report" in page
    report = client.get(f"/jobs/{job.pk}/download/report/").content.decode()
    assert report.count("Succeeded 0x0000") == len(instances)
    assert f"{record.calling_ae_title} -> STORESCP" in report


def test_compressed_instances_are_decompressed_for_an_uncompressed_peer(
        celery_worker_process: Path, operator: User, remote_ae: Any,
        storescp_uncompressed: tuple[int, Path]) -> None:
    port, out = storescp_uncompressed
    instances = archived(["693_J2KR.dcm", "OBXXXX1A_rle.dcm", "MR2_J2KI.dcm"])
    ae = remote_ae(ae_title="STORESCP", port=port)
    job = wait_for_job(create_job("store", {"ae": ae.pk, "instances": [i.pk for i in instances]},
                                  owner=operator), seconds=60)
    lossy = next(i for i in instances if i.transfer_syntax_uid == "1.2.840.10008.1.2.4.91")
    assert job.status == JobStatus.PARTIAL  # the lossy one needs the lossy option
    failed = job.items.get(outcome=ItemOutcome.FAILED)
    assert failed.sop_instance_uid == lossy.sop_instance_uid
    assert "decompress lossy" in failed.message
    got = received(out)
    assert set(got) == {i.sop_instance_uid for i in instances} - {lossy.sop_instance_uid}
    for uid, path in got.items():
        original = dcmread(absolute_path(Instance.objects.get(sop_instance_uid=uid).file_path))
        arrived = dcmread(path)
        assert not arrived.file_meta.TransferSyntaxUID.is_compressed
        assert np.array_equal(arrived.pixel_array, original.pixel_array)
    # the failures again, now allowing lossy decompression: only the one instance goes
    retry = create_job("store", {**job.params, "only": [lossy.sop_instance_uid],
                                 "decompress": "lossy"}, owner=operator, retry_of=job)
    retry = wait_for_job(retry, seconds=60)
    assert retry.status == JobStatus.SUCCEEDED and retry.items.count() == 1
    assert lossy.sop_instance_uid in received(out)


class FlakyStorage:
    """A pynetdicom Storage SCP that refuses chosen instances, or aborts, or is slow."""

    def __init__(self, refuse: set[str] = frozenset(), abort_at: int = 0,  # type: ignore[assignment]
                 delay: float = 0.0) -> None:
        self.refuse, self.abort_at, self.delay = set(refuse), abort_at, delay
        self.stored: list[str] = []
        self.calls = 0
        self.lock = threading.Lock()

    def handle(self, event: Any) -> int:
        with self.lock:
            self.calls += 1
            call = self.calls
        if self.abort_at and call == self.abort_at:
            event.assoc.abort()
            return 0xA700
        time.sleep(self.delay)
        uid = str(event.request.AffectedSOPInstanceUID)
        if uid in self.refuse:
            return 0xA700
        with self.lock:
            self.stored.append(uid)
        return 0


@pytest.fixture
def flaky() -> Iterator[tuple[FlakyStorage, int]]:
    yield from flaky_scp(prefer_explicit=False)


@pytest.fixture
def flaky_explicit() -> Iterator[tuple[FlakyStorage, int]]:
    """Accepts Explicit VR Little Endian (the files' own syntax), so files go as stored."""
    yield from flaky_scp(prefer_explicit=True)


def flaky_scp(prefer_explicit: bool) -> Iterator[tuple[FlakyStorage, int]]:
    scp = FlakyStorage()
    ae = AE(ae_title="FLAKY")
    syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian] if prefer_explicit \
        else DEFAULT_TRANSFER_SYNTAXES
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(str(context.abstract_syntax), syntaxes)
    ae.add_supported_context(Verification)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False,
                             evt_handlers=[(evt.EVT_C_STORE, scp.handle)])
    assert server is not None
    try:
        yield scp, port
    finally:
        server.shutdown()


def many_instances(count: int, tmp_path: Path) -> list[Instance]:
    from tests.archive_helpers import make_object
    study = "1.2.826.0.1.3680043.8.498.77"
    for n in range(count):
        store_file(make_object(tmp_path, patient_name=f"Flaky^{n}", patient_id="FLAKY",
                               study_date="20260101", modality="OT", study_uid=study),
                   source=InstanceSource.PATH_IMPORT)
    return list(Instance.objects.filter(series__study__study_instance_uid=study))


def test_refused_instances_and_retry_failed_only(celery_worker_process: Path, operator: User,
                                                  remote_ae: Any, tmp_path: Path,
                                                  flaky: tuple[FlakyStorage, int]) -> None:
    scp, port = flaky
    instances = many_instances(5, tmp_path)
    refused = {instances[1].sop_instance_uid, instances[3].sop_instance_uid}
    scp.refuse = set(refused)
    ae = remote_ae(ae_title="FLAKY", port=port)
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids(instances)},
                                  owner=operator), seconds=60)
    assert job.status == JobStatus.PARTIAL, (job.error, list(job.items.values_list(
        "outcome", "message")))
    assert set(job.items.filter(outcome=ItemOutcome.FAILED).values_list(
        "sop_instance_uid", flat=True)) == refused
    assert all(i.status == 0xA700 and "Out of Resources" in i.message
               for i in job.items.filter(outcome=ItemOutcome.FAILED))
    scp.refuse = set()
    response = logged_in(operator).post(f"/api/jobs/{job.pk}/retry-failed")
    assert response.status_code == 201
    retry = wait_for_job(Job.objects.get(pk=response.json()["id"]), seconds=60)
    assert retry.status == JobStatus.SUCCEEDED and retry.retry_of_id == job.pk
    assert set(retry.items.values_list("sop_instance_uid", flat=True)) == refused
    assert sorted(scp.stored) == sorted(i.sop_instance_uid for i in instances)


@pytest.mark.parametrize("peer", ["flaky_explicit", "flaky"])
def test_a_peer_abort_mid_transfer_reports_only_what_was_stored(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path,
        peer: str, request: pytest.FixtureRequest) -> None:
    """Files sent as stored (the abort reaches the console's own response reading, which
    hands it to pynetdicom) and converted (pynetdicom sends and reads)."""
    scp, port = request.getfixturevalue(peer)
    scp.abort_at = 3
    instances = many_instances(6, tmp_path)
    ae = remote_ae(ae_title="FLAKY", port=port)
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids(instances)},
                                  owner=operator), seconds=60)
    assert job.status == JobStatus.PARTIAL
    succeeded = set(job.items.filter(outcome=ItemOutcome.SUCCEEDED).values_list(
        "sop_instance_uid", flat=True))
    assert succeeded == set(scp.stored) and len(succeeded) == 2
    assert job.items.count() == 6
    failed = list(job.items.filter(outcome=ItemOutcome.FAILED).values_list("message",
                                                                           flat=True))
    assert len(failed) == 4 and all("aborted" in m for m in failed), failed
    record = Association.objects.filter(job=job).get()
    assert (record.outcome, record.abort_source) == (AssociationOutcome.ABORTED,
                                                     AbortSource.PEER)
    assert record.dimse_messages.filter(command="C-STORE-RSP", status=0).count() == 2


@pytest.mark.parametrize("peer", ["flaky_explicit", "flaky"])
def test_a_peer_slower_than_the_dimse_timeout_is_aborted_and_nothing_claimed_sent(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path,
        peer: str, request: pytest.FixtureRequest) -> None:
    """Files sent as stored (the console reads the response) and converted to Implicit VR
    (pynetdicom sends and reads) both give up at the DIMSE timeout and say so."""
    scp, port = request.getfixturevalue(peer)
    instances = many_instances(4, tmp_path)
    ae = remote_ae(ae_title="FLAKY", port=port, dimse_timeout=1)
    scp.delay = 0.0
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids(instances[:1])},
                                  owner=operator), seconds=30)
    assert job.status == JobStatus.SUCCEEDED  # a prompt peer: the response is read as usual
    scp.delay = 2.5
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids(instances)},
                                  owner=operator), seconds=30)
    assert job.status == JobStatus.FAILED
    messages = list(job.items.order_by("pk").values_list("outcome", "message"))
    assert len(messages) == 4 and all(o == ItemOutcome.FAILED for o, _ in messages)
    assert all("DIMSE timeout (1 s)" in m for _, m in messages), messages
    assert messages[0][1].startswith("no response") and "not sent" in messages[1][1]
    record = Association.objects.filter(job=job).get()
    assert (record.outcome, record.abort_source) == (AssociationOutcome.ABORTED,
                                                     AbortSource.LOCAL)
    assert "DIMSE timeout (1 s)" in record.explanation
    assert record.dimse_messages.filter(command="C-STORE-RQ").count() == 1
    assert not record.dimse_messages.filter(command="C-STORE-RSP").exists()


@pytest.fixture
def cutting_scp() -> Iterator[int]:
    """A Storage SCP (16 KB PDUs) that shuts the connection down in the middle of the
    first data set it receives."""
    ae = AE(ae_title="CUTTER")
    ae.maximum_pdu_size = 16384
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(str(context.abstract_syntax),
                                 [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    pdus = 0

    def cut(event: Any) -> None:
        nonlocal pdus
        if event.data[:1] == b"\x04":  # P-DATA-TF
            pdus += 1
            if pdus == 6:
                event.assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)

    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False,
                             evt_handlers=[(evt.EVT_DATA_RECV, cut)])
    assert server is not None
    try:
        yield port
    finally:
        server.shutdown()


def test_a_connection_cut_while_sending_claims_nothing_sent(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path,
        cutting_scp: int) -> None:
    """With 32 MB of pixel data, more than loopback's socket buffers hold, the cut reaches
    the console while it is still sending."""
    big = dcmread(corpus("693_UNCI.dcm"))
    big.Rows = big.Columns = 4096
    big.InstanceNumber = 0  # sent first
    big.PixelData = np.arange(4096 * 4096, dtype=np.uint16).tobytes()
    big.SOPInstanceUID = big.file_meta.MediaStorageSOPInstanceUID = UID(
        "1.2.826.0.1.3680043.8.498.4")
    big.save_as(tmp_path / "big.dcm")
    store_file(tmp_path / "big.dcm", source=InstanceSource.PATH_IMPORT)
    instances = archived(["693_UNCI.dcm", "MR2_UNCI.dcm"])  # the big one's study, and another
    ae = remote_ae(ae_title="CUTTER", port=cutting_scp)
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids(instances)},
                                  owner=operator), seconds=30)
    assert job.status == JobStatus.FAILED and job.result["sent"] == 0
    messages = list(job.items.order_by("pk").values_list("outcome", "message"))
    assert len(messages) == 3 and {o for o, _ in messages} == {ItemOutcome.FAILED}, messages
    record = Association.objects.filter(job=job).get()
    assert messages[0][1].startswith("not sent: sending broke off"), messages
    assert record.outcome == AssociationOutcome.ABORTED
    assert "connection closed" in record.explanation, record.explanation
    assert not record.dimse_messages.filter(command="C-STORE-RSP").exists()


def test_cancel_in_the_middle(celery_worker_process: Path, operator: User, remote_ae: Any,
                              tmp_path: Path, flaky: tuple[FlakyStorage, int]) -> None:
    scp, port = flaky
    scp.delay = 0.2
    instances = many_instances(30, tmp_path)
    ae = remote_ae(ae_title="FLAKY", port=port)
    job = create_job("store", {"ae": ae.pk, "studies": study_ids(instances)}, owner=operator)
    wait_for_job(job, seconds=30, until=lambda j: j.progress_done >= 2)
    assert logged_in(operator).post(f"/api/jobs/{job.pk}/cancel").status_code == 200
    job = wait_for_job(job, seconds=30)
    assert job.status == JobStatus.CANCELLED
    sent = set(job.items.filter(outcome=ItemOutcome.SUCCEEDED).values_list(
        "sop_instance_uid", flat=True))
    assert sent == set(scp.stored) and 0 < len(sent) < 30
    assert job.items.filter(outcome=ItemOutcome.SKIPPED).count() == 30 - len(sent)


def test_peer_down_and_parallel_associations(celery_worker_process: Path, operator: User,
                                             remote_ae: Any, tmp_path: Path,
                                             flaky: tuple[FlakyStorage, int]) -> None:
    instances = many_instances(9, tmp_path)
    down = remote_ae(ae_title="DOWN", port=free_port())
    job = wait_for_job(create_job("store", {"ae": down.pk, "studies": study_ids(instances)},
                                  owner=operator), seconds=60)
    assert job.status == JobStatus.FAILED and job.result["sent"] == 0
    messages = list(job.items.values_list("message", flat=True))
    assert len(messages) == 9 and all("not sent" in m for m in messages), messages
    scp, port = flaky
    ae = remote_ae(ae_title="FLAKY", port=port)
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids(instances),
                                            "associations": 3}, owner=operator), seconds=60)
    assert job.status == JobStatus.SUCCEEDED
    assert Association.objects.filter(job=job).count() == 3
    assert sorted(scp.stored) == sorted(i.sop_instance_uid for i in instances)


def test_server_files_to_orthanc(celery_worker_process: Path, operator: User, remote_ae: Any,
                                 tmp_path: Path) -> None:
    with import_folder() as folder:
        for name in ["693_J2KR.dcm", "emri_small.dcm"]:
            shutil.copy(corpus(name), folder / name)
        (folder / "notes.txt").write_text("not DICOM")
        with orthanc(tmp_path, {}) as peer:
            ae = remote_ae(ae_title="ORTHANC", port=peer.dicom_port)
            job = wait_for_job(create_job("store", {"ae": ae.pk, "path": str(folder)},
                                          owner=operator), seconds=60)
            assert job.status == JobStatus.PARTIAL  # the text file is listed as not sent
            bad = job.items.get(outcome=ItemOutcome.FAILED)
            assert bad.name == "notes.txt" and "not a DICOM" in bad.message
            assert job.result["sent"] == 2
            stored = peer.rest("GET", "/instances?expand")
            assert len(stored) == 2
            for entry in stored:
                sent = peer.rest("GET", f"/instances/{entry['ID']}/file")
                uid = entry["MainDicomTags"]["SOPInstanceUID"]
                name = next(n for n in ["693_J2KR.dcm", "emri_small.dcm"] if str(dcmread(
                    corpus(n), stop_before_pixels=True).SOPInstanceUID) == uid)
                # Orthanc (DCMTK inside) rewrites group lengths; storescp +B above shows the
                # bytes on the wire. Here: every element and the pixel data bytes are equal.
                arrived, original = dcmread(BytesIO(sent)), dcmread(corpus(name))
                assert arrived.file_meta.TransferSyntaxUID == \
                    original.file_meta.TransferSyntaxUID
                assert arrived.PixelData == original.PixelData
                assert [e for e in arrived if e.tag.element] == \
                    [e for e in original if e.tag.element]


def test_bad_requests_are_422(operator: User, remote_ae: Any) -> None:
    ae = remote_ae()
    client = logged_in(operator)
    for params in ({"ae": ae.pk}, {"ae": ae.pk, "path": "/etc"},
                   {"ae": ae.pk, "studies": [1], "path": "/tmp"},
                   {"ae": ae.pk, "studies": [1], "associations": 9}):
        response = client.post("/api/jobs", {"kind": "store", "params": params},
                               content_type="application/json")
        assert response.status_code == 422, params
    assert not Job.objects.exists()
    assert Study.objects.count() == 0


def test_files_from_the_browser_are_sent(celery_worker_process: Path, operator: User,
                                         remote_ae: Any, storescp_all: tuple[int, Path]) -> None:
    port, out = storescp_all
    ae = remote_ae(ae_title="STORESCP", port=port)
    with corpus("emri_small.dcm").open("rb") as first, corpus("693_J2KR.dcm").open("rb") as second:
        response = logged_in(operator).post("/jobs/new/store/", {
            "ae": ae.pk, "decompress": "lossless", "associations": 1,
            "upload": [first, second]})
    assert response.status_code == 302, response.content.decode()[:3000]
    job = wait_for_job(Job.objects.get(), seconds=60)
    assert job.status == JobStatus.SUCCEEDED and job.params["upload"]
    got = received(out)
    for name in ("emri_small.dcm", "693_J2KR.dcm"):
        uid = str(dcmread(corpus(name), stop_before_pixels=True).SOPInstanceUID)
        assert data_set(got[uid].read_bytes()) == data_set(corpus(name).read_bytes())
    assert not Instance.objects.exists()  # sent, not archived
    assert staged_upload_dir(job.params["upload"]) is None  # nothing left to retry: removed


@pytest.mark.parametrize("refusal", ["params", "role"])
def test_a_refused_store_form_leaves_no_staged_upload(
        operator: User, remote_ae: Any, settings: Any, tmp_path: Path, monkeypatch: Any,
        refusal: str) -> None:
    """The files are staged before the job is created, outside its transaction; when the
    job is refused after that (a fault injected here), the staged files go too."""
    from console.roles import Role
    from netjobs.jobs.services import FieldError, ParamsInvalid, RoleMissing
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads" / "tmp")
    (tmp_path / "uploads" / "tmp").mkdir(parents=True)
    ae = remote_ae(ae_title="STORESCP", port=free_port())
    seen: list[str] = []

    def refuse(kind: str, params: dict[str, Any], owner: Any) -> None:
        seen.append(params["upload"])
        assert staged_upload_dir(params["upload"]) is not None
        if refusal == "role":
            raise RoleMissing(Role.ADMINISTRATOR)
        raise ParamsInvalid([FieldError(("body", "ae"), "the AE was deleted meanwhile",
                                        "value_error")])

    monkeypatch.setattr("netjobs.jobs.views.create_job", refuse)
    with corpus("emri_small.dcm").open("rb") as upload:
        response = logged_in(operator).post("/jobs/new/store/", {
            "ae": ae.pk, "decompress": "lossless", "associations": 1, "upload": [upload]})
    assert response.status_code == (403 if refusal == "role" else 422)
    assert len(seen) == 1 and staged_upload_dir(seen[0]) is None
    assert not Job.objects.exists()
