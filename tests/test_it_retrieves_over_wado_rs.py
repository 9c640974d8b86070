"""WADO-RS retrieval of studies, series and instances under /dicomweb/: stored bytes for
transfer-syntax=*, lossless transcoding for another syntax (pixels compared with pydicom's
decoding of the stored file), 406/404/401 with the reason; dicomweb-client as a client."""

from __future__ import annotations

import email
import email.policy
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from django.contrib.auth.models import User
from django.test import Client
from pydicom import dcmread
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from archive.storage import absolute_path
from console.tokens import issue_token
from tests.archive_helpers import corpus, make_object

ALL = 'multipart/related; type="application/dicom"; transfer-syntax=*'
JPEG_LS = "1.2.840.10008.1.2.4.80"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


@pytest.fixture
def archived(db: Any, settings: Any, tmp_path: Path) -> dict[str, Any]:
    """A made study of two series (3 instances) and the corpus J2K CT."""
    settings.STORAGE_ROOT = tmp_path / "storage"
    study, series = generate_uid(), [generate_uid(), generate_uid()]
    made = []
    for index, rows in enumerate((8, 12, 16)):
        made.append(make_object(tmp_path, patient_name="Doe^John", patient_id="P1",
                                study_date="20240102", modality="OT", study_uid=study,
                                series_uid=series[min(index, 1)], rows=rows))
    for path in [*made, corpus("693_J2KR.dcm")]:
        store_file(path, source=InstanceSource.UPLOAD)
    j2k = Instance.objects.get(transfer_syntax_uid="1.2.840.10008.1.2.4.90")
    return {"study": study, "series": series, "j2k": j2k}


def _client(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'wado').raw}"})


def _parts(response: Any) -> list[tuple[str, bytes]]:
    body = b"".join(response.streaming_content)
    message = email.message_from_bytes(
        b"Content-Type: " + response["Content-Type"].encode() + b"\r\n\r\n" + body,
        policy=email.policy.HTTP)
    assert message.get_content_type() == "multipart/related"
    parts = list(message.iter_parts())
    assert {part.get_content_type() for part in parts} <= {"application/dicom"}
    return [(str(part.get_param("transfer-syntax")), part.get_content()) for part in parts]


def _stored(uid: str) -> bytes:
    return absolute_path(Instance.objects.get(sop_instance_uid=uid).file_path).read_bytes()


def test_a_study_comes_as_stored(archived: dict[str, Any], viewer: User) -> None:
    response = _client(viewer).get(f"/dicomweb/studies/{archived['study']}", HTTP_ACCEPT=ALL)
    assert response.status_code == 200 and response.streaming
    parts = _parts(response)
    uids = [str(dcmread(BytesIO(data)).SOPInstanceUID) for _, data in parts]
    assert sorted(uids) == sorted(Instance.objects.filter(
        series__study__study_instance_uid=archived["study"]).values_list(
        "sop_instance_uid", flat=True))
    for (syntax, data), uid in zip(parts, uids, strict=True):
        assert data == _stored(uid)
        assert syntax == EXPLICIT_LE


def test_series_and_instance_resources(archived: dict[str, Any], viewer: User) -> None:
    client = _client(viewer)
    study, (first, second) = archived["study"], archived["series"]
    assert len(_parts(client.get(f"/dicomweb/studies/{study}/series/{second}",
                                 HTTP_ACCEPT=ALL))) == 2
    one = Instance.objects.filter(series__series_instance_uid=first).get()
    response = client.get(f"/dicomweb/studies/{study}/series/{first}/instances/"
                          f"{one.sop_instance_uid}", HTTP_ACCEPT=ALL)
    assert [data for _, data in _parts(response)] == [_stored(one.sop_instance_uid)]


def test_another_syntax_is_a_lossless_transcode(archived: dict[str, Any],
                                                viewer: User) -> None:
    j2k: Instance = archived["j2k"]
    url = (f"/dicomweb/studies/{j2k.series.study.study_instance_uid}/series/"
           f"{j2k.series.series_instance_uid}/instances/{j2k.sop_instance_uid}")
    original = dcmread(absolute_path(j2k.file_path)).pixel_array
    client = _client(viewer)
    for accept, syntax in (('multipart/related; type="application/dicom"', EXPLICIT_LE),
                           (None, EXPLICIT_LE),
                           (f'multipart/related; type="application/dicom"; '
                            f'transfer-syntax={JPEG_LS}', JPEG_LS)):
        response = client.get(url, headers={"Accept": accept} if accept else None)
        assert response.status_code == 200
        ((part_syntax, data),) = _parts(response)
        ds = dcmread(BytesIO(data))
        assert ds.file_meta.TransferSyntaxUID == syntax == part_syntax
        assert np.array_equal(ds.pixel_array, original)
        assert ds.SOPInstanceUID == j2k.sop_instance_uid


def test_what_cannot_be_sent_is_refused_with_the_reason(archived: dict[str, Any],
                                                        viewer: User) -> None:
    client = _client(viewer)
    study = archived["study"]
    lossy = client.get(f"/dicomweb/studies/{study}", HTTP_ACCEPT=(
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'))
    assert lossy.status_code == 406
    assert "not a lossless syntax" in lossy.content.decode()
    assert client.get(f"/dicomweb/studies/{study}",
                      HTTP_ACCEPT="application/json").status_code == 406
    missing = client.get(f"/dicomweb/studies/{study}.9", HTTP_ACCEPT=ALL)
    assert missing.status_code == 404 and "no study" in missing.content.decode()
    assert Client().get(f"/dicomweb/studies/{study}").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_retrieves_the_stored_instances(archived: dict[str, Any],
                                                        viewer: User,
                                                        live_server: Any) -> None:
    client = DICOMwebClient(url=f"{live_server.url}/dicomweb",
                            headers={"Authorization": f"Bearer {issue_token(viewer, 'c').raw}"})
    got = client.retrieve_study(archived["study"], media_types=(("application/dicom", "*"),))
    assert sorted(str(ds.SOPInstanceUID) for ds in got) == sorted(Instance.objects.filter(
        series__study__study_instance_uid=archived["study"]).values_list(
        "sop_instance_uid", flat=True))
    for ds in got:
        stored = dcmread(BytesIO(_stored(str(ds.SOPInstanceUID))))
        assert np.array_equal(ds.pixel_array, stored.pixel_array)
