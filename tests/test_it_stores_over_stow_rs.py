"""STOW-RS (PS3.18 10.5) under /dicomweb/: multipart/related application/dicom (and
application/dicom+json with bulk data) into the archive, byte for byte; the Store Instances
Response Module field by field; 200/202/409 and 400/413/415 with the reason and nothing
half-stored; roles and CSRF; dicomweb-client and concurrent senders as independent clients."""

from __future__ import annotations

import http.client
import json
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client, RequestFactory
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.encaps import generate_frames
from pydicom.uid import generate_uid
from requests import HTTPError

from archive.dicomweb import store_views
from archive.dicomweb.stow_multipart import Limits, Refused, discard, read_parts
from archive.models import Instance, Study
from archive.storage import absolute_path
from console.tokens import issue_token
from tests.archive_helpers import corpus, make_object
from tests.conftest import logged_in

DICOM = 'multipart/related; type="application/dicom"; boundary=BOUNDARY'
DICOM_JSON = 'multipart/related; type="application/dicom+json"; boundary=BOUNDARY'
SC = "1.2.840.10008.5.1.4.1.1.7"
CANNOT_UNDERSTAND, DOES_NOT_MATCH, DUPLICATE = 0xC000, 0xA900, 0x0111
DUPLICATE_KEPT = 0xB111


@pytest.fixture
def storage(settings: Any, tmp_path: Path) -> Path:
    settings.STORAGE_ROOT = tmp_path / "storage"
    return Path(settings.STORAGE_ROOT)


def _objects(folder: Path, count: int, study: str | None = None,
             series: str | None = None) -> list[bytes]:
    study = study or generate_uid()
    return [make_object(folder, patient_name="Doe^Jane", patient_id="P7",
                        study_date="20240305", modality="OT", study_uid=study,
                        series_uid=series, rows=8 + index % 4).read_bytes()
            for index in range(count)]


def _body(parts: list[tuple[str, bytes]], boundary: str = "BOUNDARY") -> bytes:
    """A multipart body with each part's header lines (may be empty) and bytes."""
    out = b"preamble, ignored\r\n"
    for headers, data in parts:
        out += f"--{boundary}\r\n{headers}\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\nepilogue, ignored".encode()


def _dicom_body(files: list[bytes]) -> bytes:
    return _body([("Content-Type: application/dicom\r\n", data) for data in files])


def _client(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'stow').raw}"})


def _post(client: Client, body: bytes, content_type: str = DICOM, path: str = "",
          **headers: str) -> Any:
    # CONTENT_TYPE again: the test client sends none with an empty body.
    return client.post(f"/dicomweb/studies{path}", body, content_type=content_type,
                       headers=headers, CONTENT_TYPE=content_type)


def _uids(data: bytes) -> tuple[str, str, str, str]:
    ds = dcmread(BytesIO(data))
    return (str(ds.SOPClassUID), str(ds.SOPInstanceUID), str(ds.StudyInstanceUID),
            str(ds.SeriesInstanceUID))


def _stored(uid: str) -> bytes:
    return absolute_path(Instance.objects.get(sop_instance_uid=uid).file_path).read_bytes()


def _incoming_left(storage: Path) -> list[Path]:
    folder = storage / ".incoming"
    return list(folder.iterdir()) if folder.is_dir() else []


def test_a_multi_instance_post_is_stored_byte_for_byte(storage: Path, operator: User,
                                                       tmp_path: Path) -> None:
    study, series = generate_uid(), generate_uid()
    files = _objects(tmp_path, 2, study, series) + _objects(tmp_path, 1, study)
    response = _post(_client(operator), _dicom_body(files))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/dicom+json"
    assert "Warning" not in response
    base = "http://testserver/dicomweb"
    expected_items = []
    for data in files:
        sop_class, sop, study_uid, series_uid = _uids(data)
        assert _stored(sop) == data
        expected_items.append({
            "00081150": {"vr": "UI", "Value": [sop_class]},
            "00081155": {"vr": "UI", "Value": [sop]},
            "00081190": {"vr": "UR", "Value": [
                f"{base}/studies/{study_uid}/series/{series_uid}/instances/{sop}"]},
        })
    assert json.loads(response.content) == {
        "00081190": {"vr": "UR", "Value": [f"{base}/studies/{study}"]},
        "00081199": {"vr": "SQ", "Value": expected_items},
    }
    assert set(Instance.objects.values_list("source_detail", flat=True)) == {
        "STOW-RS, otto-operator"}
    assert Study.objects.get(study_instance_uid=study).number_of_instances == 3
    assert _incoming_left(storage) == []


def test_the_stored_instances_come_back_over_wado_rs(storage: Path, operator: User,
                                                     tmp_path: Path) -> None:
    files = _objects(tmp_path, 1)
    client = _client(operator)
    body = json.loads(_post(client, _dicom_body(files)).content)
    url = body["00081199"]["Value"][0]["00081190"]["Value"][0]
    got: Any = client.get(urlparse(url).path, HTTP_ACCEPT=(
        'multipart/related; type="application/dicom"; transfer-syntax=*'))
    assert got.status_code == 200
    assert files[0] in b"".join(got.streaming_content)
    assert client.get("/dicomweb/studies", HTTP_ACCEPT="application/dicom+json").json()
    assert client.put("/dicomweb/studies").status_code == 405


def test_a_study_scoped_post_fails_the_instances_of_another_study(
        storage: Path, operator: User, tmp_path: Path) -> None:
    study = generate_uid()
    ours, other = _objects(tmp_path, 1, study)[0], _objects(tmp_path, 1)[0]
    client = _client(operator)
    response = _post(client, _dicom_body([ours, other]), path=f"/{study}")
    assert response.status_code == 202
    body = json.loads(response.content)
    other_class, other_sop, _, _ = _uids(other)
    assert body["00081198"]["Value"] == [{
        "00081150": {"vr": "UI", "Value": [other_class]},
        "00081155": {"vr": "UI", "Value": [other_sop]},
        "00081197": {"vr": "US", "Value": [DOES_NOT_MATCH]},
    }]
    assert [item["00081155"]["Value"][0] for item in body["00081199"]["Value"]] == [
        _uids(ours)[1]]
    assert body["00081190"]["Value"] == [f"http://testserver/dicomweb/studies/{study}"]
    assert "is not " + study in response["Warning"]
    assert not Instance.objects.filter(sop_instance_uid=other_sop).exists()
    assert _stored(_uids(ours)[1]) == ours
    # Nothing of the study: 409 (PS3.18 Table 10.5.3-1).
    again = _post(client, _dicom_body([_objects(tmp_path, 1)[0]]), path=f"/{study}")
    assert again.status_code == 409 and "00081199" not in json.loads(again.content)


def test_a_duplicate_keeps_the_first_copy_with_a_warning(storage: Path, operator: User,
                                                         tmp_path: Path,
                                                         settings: Any) -> None:
    first = _objects(tmp_path, 1)[0]
    ds = dcmread(BytesIO(first))
    ds.PatientName = "Changed^Name"
    changed = BytesIO()
    ds.save_as(changed, enforce_file_format=True)
    client = _client(operator)
    assert _post(client, _dicom_body([first])).status_code == 200
    response = _post(client, _dicom_body([changed.getvalue()]))
    assert response.status_code == 202
    (item,) = json.loads(response.content)["00081199"]["Value"]
    assert item["00081196"] == {"vr": "US", "Value": [DUPLICATE_KEPT]}
    assert item["00081155"]["Value"] == [str(ds.SOPInstanceUID)]
    assert _stored(str(ds.SOPInstanceUID)) == first
    settings.DICOMWEB_STOW_DUPLICATE_POLICY = "reject"
    rejected = _post(client, _dicom_body([changed.getvalue()]))
    assert rejected.status_code == 409
    (failed,) = json.loads(rejected.content)["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [DUPLICATE]
    assert _stored(str(ds.SOPInstanceUID)) == first
    assert Instance.objects.count() == 1


def test_a_non_dicom_part_fails_alone_with_the_reason(storage: Path, operator: User,
                                                      tmp_path: Path) -> None:
    good = _objects(tmp_path, 1)[0]
    body = _body([("Content-Type: application/dicom\r\n", b"not DICOM at all" * 20),
                  ("Content-Type: text/plain\r\n", b"hello"),
                  ("Content-Type: application/dicom\r\n", good)])
    response = _post(_client(operator), body)
    assert response.status_code == 202
    decoded = json.loads(response.content)
    assert decoded["00081198"]["Value"] == [
        {"00081197": {"vr": "US", "Value": [CANNOT_UNDERSTAND]}}] * 2
    assert "part 1: not a DICOM file" in response["Warning"]
    assert "part 2 is text/plain" in response["Warning"]
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [_uids(good)[1]]
    only_bad = _post(_client(operator), _body([("Content-Type: text/plain\r\n", b"x")]))
    assert only_bad.status_code == 409
    assert Instance.objects.count() == 1 and _incoming_left(storage) == []


@pytest.mark.parametrize(("content_type", "body", "reason"), [
    (DICOM.replace("BOUNDARY", "OTHER"), None, "no part starts with the boundary"),
    ('multipart/related; type="application/dicom"', None, "no boundary parameter"),
    (DICOM, "truncated", "truncated: the body ends inside part 2"),
    (DICOM, "no parts", "no parts"),
    (DICOM, "empty", "body is empty"),
])
def test_a_malformed_body_is_400_and_stores_nothing(storage: Path, operator: User,
                                                    tmp_path: Path, content_type: str,
                                                    body: str | None, reason: str) -> None:
    whole = _dicom_body(_objects(tmp_path, 2))
    data = {None: whole, "truncated": whole[:-len("--\r\nepilogue, ignored") - 200],
            "no parts": b"--BOUNDARY--\r\n", "empty": b""}[body]
    response = _post(_client(operator), data, content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert reason in response.content.decode()
    assert not Instance.objects.exists() and _incoming_left(storage) == []


@pytest.mark.parametrize(("content_type", "reason"), [
    ("application/dicom", "STOW-RS takes multipart/related"),
    ('multipart/related; type="image/jpeg"; boundary=BOUNDARY', "image/jpeg are not supported"),
    ("application/json", "STOW-RS takes multipart/related")])
def test_an_unsupported_type_is_415(storage: Path, operator: User, tmp_path: Path,
                                    content_type: str, reason: str) -> None:
    response = _post(_client(operator), _dicom_body(_objects(tmp_path, 1)), content_type)
    assert response.status_code == 415
    assert reason in response.content.decode()
    assert not Instance.objects.exists() and _incoming_left(storage) == []


def test_over_the_limits_is_413_and_stores_nothing(storage: Path, operator: User,
                                                   tmp_path: Path, settings: Any) -> None:
    files = _objects(tmp_path, 3)
    body = _dicom_body(files)
    client = _client(operator)
    settings.DICOMWEB_STOW_MAX_BYTES = len(body) - 1
    response = _post(client, body)
    assert response.status_code == 413 and "DICOMWEB_STOW_MAX_BYTES" in response.content.decode()
    settings.DICOMWEB_STOW_MAX_BYTES = len(body)
    settings.DICOMWEB_STOW_MAX_PART_BYTES = max(len(f) for f in files) - 1
    response = _post(client, body)
    assert response.status_code == 413
    assert "DICOMWEB_STOW_MAX_PART_BYTES" in response.content.decode()
    assert not Instance.objects.exists() and _incoming_left(storage) == []
    # A body without Content-Length (chunked) is counted as it is read.
    with pytest.raises(Refused) as refused:
        read_parts(BytesIO(body).read, "BOUNDARY", Limits(total=len(body) // 2, part=len(body)))
    assert refused.value.status == 413 and _incoming_left(storage) == []


def test_roles_and_csrf(storage: Path, operator: User, viewer: User, tmp_path: Path) -> None:
    body = _dicom_body(_objects(tmp_path, 1))
    assert _post(_client(viewer), body).status_code == 403
    anonymous = _post(Client(), body)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    session = logged_in(operator, enforce_csrf=True)
    refused = _post(session, body)
    assert refused.status_code == 403 and "CSRF" in refused.content.decode()
    assert not Instance.objects.exists()
    session.get("/aes/")  # sets the CSRF cookie
    token = session.cookies["csrftoken"].value
    assert _post(session, body, **{"X-CSRFToken": token}).status_code == 200
    bearer = Client(enforce_csrf_checks=True,
                    headers={"Authorization": f"Bearer {issue_token(operator, 'c').raw}"})
    assert _post(bearer, _dicom_body(_objects(tmp_path, 1))).status_code == 200
    assert Instance.objects.count() == 2


def test_the_answer_in_native_xml(storage: Path, operator: User, tmp_path: Path) -> None:
    files = _objects(tmp_path, 2)
    response = _post(_client(operator), _dicom_body(files), Accept="application/dicom+xml")
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom+xml"
    root = ET.fromstring(response.content)
    found = [value.text for value in root.findall(
        "DicomAttribute[@tag='00081199']/Item/DicomAttribute[@tag='00081155']/Value")]
    assert found == [_uids(data)[1] for data in files]
    assert _post(_client(operator), _dicom_body(files),
                 Accept="text/html").status_code == 406


def test_dicom_json_with_bulk_data(storage: Path, operator: User, tmp_path: Path) -> None:
    files = _objects(tmp_path, 3)
    datasets = [dcmread(BytesIO(data)) for data in files]
    bulk: list[tuple[str, bytes]] = []

    def bulk_uri(element: DataElement) -> str:
        uri = f"http://client.example/bulk/{uuid.uuid4().hex}"
        bulk.append((uri, element.value))
        return uri

    documents = [datasets[0].to_json_dict(bulk_data_threshold=64,
                                          bulk_data_element_handler=bulk_uri),
                 datasets[1].to_json_dict(bulk_data_threshold=10**9),  # InlineBinary
                 datasets[2].to_json_dict(bulk_data_threshold=64,
                                          bulk_data_element_handler=lambda _: "missing")]
    body = _body([("Content-Type: application/dicom+json\r\n", json.dumps(documents).encode()),
                  *[(f"Content-Type: application/octet-stream\r\nContent-Location: {uri}\r\n",
                     data) for uri, data in bulk]])
    response = _post(_client(operator), body, DICOM_JSON)
    assert response.status_code == 202, response.content
    decoded = json.loads(response.content)
    assert [i["00081155"]["Value"][0] for i in decoded["00081199"]["Value"]] == [
        str(ds.SOPInstanceUID) for ds in datasets[:2]]
    assert decoded["00081198"]["Value"] == [{
        "00081150": {"vr": "UI", "Value": [SC]},
        "00081155": {"vr": "UI", "Value": [str(datasets[2].SOPInstanceUID)]},
        "00081197": {"vr": "US", "Value": [CANNOT_UNDERSTAND]}}]
    assert "BulkDataURI missing" in response["Warning"]
    for sent in datasets[:2]:
        stored = dcmread(BytesIO(_stored(str(sent.SOPInstanceUID))))
        assert stored.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert stored.PatientName == sent.PatientName and stored.Rows == sent.Rows
        assert np.array_equal(stored.pixel_array, sent.pixel_array)
    assert _incoming_left(storage) == []


def test_compressed_pixel_data_as_a_bulk_data_part(storage: Path, operator: User) -> None:
    sent = dcmread(corpus("693_J2KR.dcm"))
    (frame,) = generate_frames(sent.PixelData, number_of_frames=1)
    document = sent.to_json_dict(bulk_data_threshold=10**9)
    document["7FE00010"] = {"vr": "OB", "BulkDataURI": "frame-1"}
    body = _body([("Content-Type: application/dicom+json\r\n", json.dumps([document]).encode()),
                  ("Content-Type: image/jp2; transfer-syntax=1.2.840.10008.1.2.4.90\r\n"
                   "Content-Location: frame-1\r\n", frame)])
    response = _post(_client(operator), body, DICOM_JSON)
    assert response.status_code == 200, response.content
    stored = dcmread(BytesIO(_stored(str(sent.SOPInstanceUID))))
    assert stored.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.90"
    assert np.array_equal(stored.pixel_array, sent.pixel_array)


def test_parts_split_across_reads_come_out_whole(storage: Path, tmp_path: Path) -> None:
    """Reads of 1 to 13 bytes: every delimiter, header end and part end falls across reads;
    a part holding most of a delimiter is not cut there."""
    tricky = b"\r\n--BOUNDAR\r\n-x--BOUNDARY--\r" * 3  # near misses of the delimiter
    files = [*_objects(tmp_path, 2), tricky, b""]
    body = _body([("Content-Type: application/dicom\r\n", files[0]), ("", files[1]),
                  ("Content-Type: text/plain\r\nContent-Location: x\r\n", tricky),
                  ("Content-Type: application/dicom\r\n", b"")]).replace(
        b"--BOUNDARY\r\n\r\n", b"--BOUNDARY \t\r\n\r\n", 1)  # transport padding
    stream, sizes = BytesIO(body), iter(range(10**6))
    parts = read_parts(lambda n: stream.read(1 + next(sizes) % 13), "BOUNDARY",
                       Limits(total=len(body), part=len(body)))
    try:
        assert [p.path.read_bytes() for p in parts] == files
        assert [p.written.size for p in parts] == [len(f) for f in files]
        assert [p.headers for p in parts] == [
            {"content-type": "application/dicom"}, {},
            {"content-type": "text/plain", "content-location": "x"},
            {"content-type": "application/dicom"}]
    finally:
        discard(parts)


def test_a_chunked_body_is_read_from_the_servers_stream(storage: Path, operator: User,
                                                        tmp_path: Path) -> None:
    """No Content-Length: Django's request stream is empty, and the body is read from the
    WSGI input that gunicorn fills with the decoded chunks."""
    files = _objects(tmp_path, 2)
    request = RequestFactory().generic(
        "POST", "/dicomweb/studies", b"", CONTENT_TYPE=DICOM, HTTP_TRANSFER_ENCODING="chunked",
        HTTP_AUTHORIZATION=f"Bearer {issue_token(operator, 'chunked').raw}")
    assert "CONTENT_LENGTH" not in request.META
    request.META["wsgi.input"] = BytesIO(_dicom_body(files))
    request.user = AnonymousUser()
    response = store_views.studies(request)
    assert response.status_code == 200
    assert [_stored(_uids(data)[1]) for data in files] == files


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_stores_instances(storage: Path, operator: User, tmp_path: Path,
                                          live_server: Any) -> None:
    study = generate_uid()
    files = _objects(tmp_path, 3, study)
    client = DICOMwebClient(url=f"{live_server.url}/dicomweb", headers={
        "Authorization": f"Bearer {issue_token(operator, 'client').raw}"})
    answer = client.store_instances([dcmread(BytesIO(data)) for data in files])
    assert [str(item.ReferencedSOPInstanceUID) for item in answer.ReferencedSOPSequence] == [
        _uids(data)[1] for data in files]
    # dicomweb-client sends a Host header without the port, and the URL is built from it.
    assert urlparse(answer.RetrieveURL).path == f"/dicomweb/studies/{study}"
    for data in files:  # dicomweb-client writes its own encoding: compare the datasets
        stored = dcmread(BytesIO(_stored(_uids(data)[1])))
        assert np.array_equal(stored.pixel_array, dcmread(BytesIO(data)).pixel_array)
    ours = dcmread(BytesIO(_objects(tmp_path, 1, study)[0]))
    other = dcmread(BytesIO(_objects(tmp_path, 1)[0]))
    scoped = client.store_instances([ours, other], study_instance_uid=study)  # 202
    assert [str(i.ReferencedSOPInstanceUID) for i in scoped.ReferencedSOPSequence] == [
        ours.SOPInstanceUID]
    (failed,) = scoped.FailedSOPSequence
    assert failed.ReferencedSOPInstanceUID == other.SOPInstanceUID
    assert failed.FailureReason == DOES_NOT_MATCH
    with pytest.raises(HTTPError) as conflict:  # nothing stored: 409
        client.store_instances([other], study_instance_uid=study)
    assert conflict.value.response is not None
    assert conflict.value.response.status_code == 409
    assert not Instance.objects.filter(sop_instance_uid=other.SOPInstanceUID).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_get_every_instance_acknowledged_and_archived(
        storage: Path, operator: User, tmp_path: Path, live_server: Any) -> None:
    clients, batches, per_batch = 8, 10, 10
    study = generate_uid()  # one study for all: its rows are raced for
    sent = [_objects(tmp_path, batches * per_batch, study, generate_uid())
            for _ in range(clients)]
    token = issue_token(operator, "load").raw
    address = urlparse(live_server.url)

    def send(files: list[bytes]) -> list[str]:
        acknowledged = []
        for start in range(0, len(files), per_batch):
            connection = http.client.HTTPConnection(address.hostname or "", address.port,
                                                    timeout=120)
            try:
                connection.request("POST", "/dicomweb/studies",
                                   _dicom_body(files[start:start + per_batch]),
                                   {"Content-Type": DICOM, "Authorization": f"Bearer {token}"})
                response = connection.getresponse()
                payload = json.loads(response.read())
            finally:
                connection.close()
            assert response.status == 200, payload
            acknowledged += [i["00081155"]["Value"][0] for i in payload["00081199"]["Value"]]
        return acknowledged

    with ThreadPoolExecutor(clients) as pool:
        acknowledged = [uid for result in pool.map(send, sent) for uid in result]
    expected = {_uids(data)[1] for files in sent for data in files}
    assert len(acknowledged) == len(expected) == clients * batches * per_batch
    assert set(acknowledged) == expected
    archived = set(Instance.objects.filter(series__study__study_instance_uid=study)
                   .values_list("sop_instance_uid", flat=True))
    assert archived == expected
    assert Study.objects.get(study_instance_uid=study).number_of_instances == len(expected)
    assert _incoming_left(storage) == []
