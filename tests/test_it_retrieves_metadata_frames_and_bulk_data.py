"""WADO-RS /metadata, /frames/{list} and /bulkdata: the metadata equals the console's DICOM
JSON of the stored file with every large binary value replaced by a BulkDataURI whose bytes
are that value; frames equal pydicom's decoding of the stored file (compressed frames come
as stored, and decode to the same pixels); dicomweb-client as an independent client."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from django.contrib.auth.models import User
from django.test import Client
from pydicom import dcmread
from pydicom.encaps import generate_frames
from pydicom.pixels import pixel_array
from pydicom.uid import UID

from archive.indexing import store_file
from archive.inspect.dicomjson import to_dicom_json
from archive.inspect.loading import load
from archive.models import Instance, InstanceSource
from archive.storage import absolute_path
from console.tokens import issue_token
from tests.archive_helpers import corpus, make_object

OCTET = 'multipart/related; type="application/octet-stream"'
AS_STORED = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
JPEG_LS = "1.2.840.10008.1.2.4.80"


@pytest.fixture
def storage(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"


def archive(name: str) -> Instance:
    return store_file(corpus(name), source=InstanceSource.UPLOAD).instance


def url(instance: Instance) -> str:
    return (f"/dicomweb/studies/{instance.series.study.study_instance_uid}/series/"
            f"{instance.series.series_instance_uid}/instances/{instance.sop_instance_uid}")


def client_of(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'wado').raw}"})


def parts_of(response: Any) -> list[tuple[str, dict[str, str], Any]]:
    """(content type with parameters, headers, bytes) of each part of a multipart body."""
    body = b"".join(response.streaming_content)
    message = email.message_from_bytes(
        b"Content-Type: " + response["Content-Type"].encode() + b"\r\n\r\n" + body,
        policy=email.policy.HTTP)
    assert message.get_content_type() == "multipart/related"
    assert body.endswith(b"--\r\n")
    found = []
    for part in message.iter_parts():
        kind = part.get_content_type()
        if part.get_param("transfer-syntax"):
            kind += f"; transfer-syntax={part.get_param('transfer-syntax')}"
        found.append((kind, dict(part.items()), part.get_payload(decode=True)))
    return found


def stored_file(instance: Instance) -> Path:
    return absolute_path(instance.file_path)


def test_metadata_is_the_dicom_json_with_bulk_data_named(storage: None, viewer: User) -> None:
    instance = archive("emri_small_big_endian.dcm")
    client = client_of(viewer)
    response = client.get(url(instance) + "/metadata", HTTP_ACCEPT="application/dicom+json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom+json"
    (ours,) = json.loads(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    loaded = load(stored_file(instance))
    inline = to_dicom_json(loaded.dataset, little_endian=loaded.little_endian)
    assert ours.pop("00083002") == {"vr": "UI", "Value": ["1.2.840.10008.1.2.2"]}
    assert ours.keys() == inline.keys()
    named = 0
    for tag, element in ours.items():
        if "BulkDataURI" not in element:
            assert element == inline[tag], tag
            continue
        named += 1
        assert element["vr"] == inline[tag]["vr"]
        if tag == "7FE00010":
            continue  # pixel data: frame by frame, checked below
        got = client.get(element["BulkDataURI"], HTTP_ACCEPT=OCTET)
        assert got.status_code == 200, got.content
        ((content_type, headers, data),) = parts_of(got)
        assert content_type == "application/octet-stream"
        assert headers["Content-Location"] == element["BulkDataURI"]
        assert data == base64.b64decode(inline[tag]["InlineBinary"])
    assert ours["7FE00010"]["BulkDataURI"].endswith("/bulkdata/7FE00010")
    assert named >= 1


def test_the_pixel_data_bulk_data_is_every_frame(storage: None, viewer: User) -> None:
    instance = archive("emri_small_big_endian.dcm")
    response = client_of(viewer).get(url(instance) + "/bulkdata/7FE00010", HTTP_ACCEPT=OCTET)
    parts = parts_of(response)
    expected = dcmread(corpus("emri_small_big_endian.dcm")).pixel_array
    assert len(parts) == 10
    for index, (_, _, data) in enumerate(parts):
        assert np.array_equal(np.frombuffer(data, "<u2").reshape(64, 64), expected[index])


def test_a_study_and_a_series_give_every_instance(storage: None, viewer: User) -> None:
    first, second = archive("693_UNCI.dcm"), archive("693_J2KR.dcm")
    study = first.series.study.study_instance_uid
    if second.series.study.study_instance_uid != study:
        pytest.skip("the corpus files are not of one study")
    got = client_of(viewer).get(f"/dicomweb/studies/{study}/metadata")
    items = json.loads(b"".join(got.streaming_content))  # type: ignore[attr-defined]
    assert sorted(i["00080018"]["Value"][0] for i in items) == sorted(
        [first.sop_instance_uid, second.sop_instance_uid])


def test_native_frames_are_the_decoded_values(storage: None, viewer: User) -> None:
    for name in ("emri_small.dcm", "emri_small_big_endian.dcm", "SC_rgb_expb_16bit_2frame.dcm"):
        instance = archive(name)
        expected = dcmread(corpus(name)).pixel_array
        response = client_of(viewer).get(url(instance) + "/frames/2,1", HTTP_ACCEPT=OCTET)
        assert response.status_code == 200
        assert "transfer-syntax=1.2.840.10008.1.2.1" in response["Content-Type"]
        (_, _, second), (_, _, first) = parts_of(response)
        dtype = expected.dtype.newbyteorder("<")
        assert np.array_equal(np.frombuffer(second, dtype).reshape(expected[1].shape),
                              expected[1]), name
        assert np.array_equal(np.frombuffer(first, dtype).reshape(expected[0].shape),
                              expected[0]), name


def test_one_bit_frames_are_packed_per_frame(storage: None, viewer: User) -> None:
    instance = archive("liver_nonbyte_aligned.dcm")
    expected = dcmread(corpus("liver_nonbyte_aligned.dcm")).pixel_array
    response = client_of(viewer).get(url(instance) + "/frames/3", HTTP_ACCEPT=OCTET)
    ((_, _, data),) = parts_of(response)
    bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")[:510 * 510]
    assert np.array_equal(bits.reshape(510, 510), expected[2])


def test_compressed_frames_come_as_stored(storage: None, viewer: User) -> None:
    name = "emri_small_jpeg_2k_lossless.dcm"
    instance = archive(name)
    ds = dcmread(corpus(name))
    stored = list(generate_frames(ds.PixelData, number_of_frames=10))
    client = client_of(viewer)
    for accept in (AS_STORED, 'multipart/related; type="image/jp2"', "*/*"):
        response = client.get(url(instance) + "/frames/1,10", HTTP_ACCEPT=accept)
        assert response.status_code == 200
        (kind, _, first), (_, _, last) = parts_of(response)
        assert kind == "image/jp2; transfer-syntax=1.2.840.10008.1.2.4.90"
        assert (first, last) == (stored[0], stored[9])


def test_compressed_frames_are_decoded_or_transcoded_as_asked(storage: None,
                                                             viewer: User) -> None:
    name = "emri_small_jpeg_2k_lossless.dcm"
    instance = archive(name)
    expected = dcmread(corpus(name)).pixel_array
    client = client_of(viewer)
    decoded = client.get(url(instance) + "/frames/4", HTTP_ACCEPT=OCTET)
    ((kind, _, data),) = parts_of(decoded)
    assert kind == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    assert np.array_equal(np.frombuffer(data, "<u2").reshape(64, 64), expected[3])
    jls = client.get(url(instance) + "/frames/4",
                     HTTP_ACCEPT='multipart/related; type="image/jls"')
    assert jls.status_code == 200
    ((kind, _, data),) = parts_of(jls)
    assert kind == f"image/jls; transfer-syntax={JPEG_LS}"
    assert data[:2] == b"\xff\xd8" and b"\xff\xf7" in data[:64]  # SOI, then SOF55 (JPEG-LS)
    from jpeg_ls import decode

    assert np.array_equal(decode(np.frombuffer(data, np.uint8)), expected[3])


def test_frame_requests_that_cannot_be_met_say_why(storage: None, viewer: User) -> None:
    instance = archive("emri_small.dcm")
    client = client_of(viewer)
    for frames, status, reason in (("0", 400, "rame 0 does not exist"),
                                   ("11", 400, "has 10 frames"),
                                   ("1,x", 400, "not a list of frame numbers")):
        response = client.get(url(instance) + f"/frames/{frames}", HTTP_ACCEPT=OCTET)
        assert response.status_code == status and reason in response.content.decode()
    lossy = client.get(url(instance) + "/frames/1", HTTP_ACCEPT=(
        'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.50'))
    assert lossy.status_code == 406 and "not a lossless syntax" in lossy.content.decode()
    assert client.get(url(instance) + "/frames/1",
                      HTTP_ACCEPT="text/html").status_code == 406
    gone = client.get(url(instance)[:-1] + "9/frames/1", HTTP_ACCEPT=OCTET)
    assert gone.status_code == 404
    assert client.get(url(instance) + "/bulkdata/00100010",
                      HTTP_ACCEPT=OCTET).status_code == 404  # a name is not bulk data
    assert Client().get(url(instance) + "/metadata").status_code == 401


def test_frames_of_an_object_without_pixel_data_are_refused(storage: None, viewer: User,
                                                           tmp_path: Path) -> None:
    made = make_object(tmp_path, patient_name="A^B", patient_id="P", study_date="20240101",
                       modality="SR")
    ds = dcmread(made)
    for keyword in ("PixelData", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
                    "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation"):
        delattr(ds, keyword)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.88.11")
    ds.save_as(made)
    instance = store_file(made, source=InstanceSource.UPLOAD).instance
    response = client_of(viewer).get(url(instance) + "/frames/1", HTTP_ACCEPT=OCTET)
    assert response.status_code == 406 and "no pixel data" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_reads_metadata_frames_and_bulk_data(settings: Any, tmp_path: Path,
                                                             viewer: User,
                                                             live_server: Any) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    # dicomweb-client sends a Host header without the port: the public URL is configured
    settings.DICOMWEB_PUBLIC_URL = f"{live_server.url}/dicomweb"
    instance = archive("emri_small_jpeg_ls_lossless.dcm")
    study = instance.series.study.study_instance_uid
    series = instance.series.series_instance_uid
    client = DICOMwebClient(url=f"{live_server.url}/dicomweb",
                            headers={"Authorization": f"Bearer {issue_token(viewer, 'c').raw}"})
    metadata = client.retrieve_instance_metadata(study, series, instance.sop_instance_uid)
    assert metadata["00080018"]["Value"] == [instance.sop_instance_uid]
    assert metadata["00083002"]["Value"] == [JPEG_LS]
    expected = pixel_array(corpus("emri_small_jpeg_ls_lossless.dcm"))
    (frame,) = client.retrieve_instance_frames(study, series, instance.sop_instance_uid,
                                               frame_numbers=[5],
                                               media_types=(("application/octet-stream",
                                                             "1.2.840.10008.1.2.1"),))
    assert np.array_equal(np.frombuffer(frame, "<u2").reshape(64, 64), expected[4])
    (jls,) = client.retrieve_instance_frames(study, series, instance.sop_instance_uid,
                                             frame_numbers=[5],
                                             media_types=(("image/jls", JPEG_LS),))
    ds = dcmread(corpus("emri_small_jpeg_ls_lossless.dcm"))
    assert jls == list(generate_frames(ds.PixelData, number_of_frames=10))[4]
    bulk = client.retrieve_bulkdata(metadata["7FE00010"]["BulkDataURI"],
                                    media_types=(("application/octet-stream", "*"),))
    assert len(bulk) == 10 and bulk[4] == jls
