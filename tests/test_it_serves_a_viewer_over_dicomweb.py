"""A web viewer on /dicomweb/ as OHIF v3 drives it: no OHIF can be installed here, so its
request sequence is made again against live_server — dicomweb-client (the Python port of the
library OHIF's DicomWebDataSource uses) for the QIDO-RS searches and the series metadata, and
plain HTTP for the frames, as cornerstone's WADO-RS image loader fetches them:

1. the study list: ``/studies?limit=101&offset=0&fuzzymatching=false&includefield=...``
   (OHIF's qido.js mapParams), then the next page by offset;
2. the series of the study opened: ``/studies/{s}/series?includefield=0008103E,00080021``;
3. each series' metadata: ``/studies/{s}/series/{se}/metadata`` (enableStudyLazyLoad), and
   a palette's lookup table data by its BulkDataURI;
4. every frame, one request each: ``/frames/{n}`` with
   ``Accept: multipart/related; type=application/octet-stream; transfer-syntax=*``, decoded
   with the part's transfer syntax and the metadata's Image Pixel attributes, as the loader
   does, and compared with pydicom's decoding of the stored file;
5. thumbnails and rendered images (``Accept: image/jpeg``), when /rendered routes exist.

dicomweb-client sends a Host header without the port, where a browser sends it with; so
DICOMWEB_PUBLIC_URL gives the BulkDataURIs the live server's address, as a browser would get.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from django.contrib.auth.models import User
from django.urls import Resolver404, resolve
from PIL import Image
from pydicom import dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from archive.storage import absolute_path
from console.tokens import issue_token
from tests.archive_helpers import corpus

pytestmark = pytest.mark.django_db(transaction=True)

# A CT series of two instances (JPEG 2000, Explicit VR Little Endian), a 10-frame JPEG-LS
# MR, a 2-frame RLE palette US, a JPEG Lossless NM, an RGB in Explicit VR Big Endian and an
# RGB with planes one after another (PlanarConfiguration 1).
FILES = ["693_J2KR.dcm", "693_UNCI.dcm", "emri_small_jpeg_ls_lossless.dcm",
         "OBXXXX1A_rle_2frame.dcm", "JPEG-LL.dcm", "SC_rgb_expb.dcm", "color-pl.dcm"]
STUDY_LIST_FIELDS = "00081030,00080060,00080090,00100030"  # OHIF 3.11's mapParams
SERIES_FIELDS = "0008103E,00080021"  # OHIF's seriesInStudy
FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"
IMPLICIT_LE = "1.2.840.10008.1.2"
# cornerstone's getTransferSyntaxForContentType, for a part that names no transfer-syntax
DEFAULT_SYNTAX = {"application/octet-stream": IMPLICIT_LE,
                  "image/jpeg": "1.2.840.10008.1.2.4.50", "image/jls": "1.2.840.10008.1.2.4.80",
                  "image/jp2": "1.2.840.10008.1.2.4.90", "image/dicom-rle": "1.2.840.10008.1.2.5"}
IMAGE_PIXEL = ["Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation",
               "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
               "PlanarConfiguration"]


@pytest.fixture
def base(settings: Any, tmp_path: Path, live_server: Any) -> str:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.DICOMWEB_PUBLIC_URL = f"{live_server.url}/dicomweb"
    return str(settings.DICOMWEB_PUBLIC_URL)


def seed(paths: list[Path]) -> dict[str, Path]:
    """The files archived as an upload would: the stored file by SOP Instance UID."""
    stored = {}
    for path in paths:
        instance = store_file(path, source=InstanceSource.UPLOAD).instance
        stored[instance.sop_instance_uid] = absolute_path(instance.file_path)
    return stored


def clients(base: str, user: User) -> tuple[DICOMwebClient, requests.Session]:
    """What OHIF's data source searches and reads metadata with (dicomweb-client), and what
    the image loader fetches frames with (plain HTTP), both with the user's token."""
    headers = {"Authorization": f"Bearer {issue_token(user, 'ohif').raw}"}
    session = requests.Session()
    session.headers.update(headers)
    return DICOMwebClient(url=base, headers=headers), session


def frame_parts(response: requests.Response) -> list[tuple[str, str | None, bytes]]:
    """(media type, transfer-syntax parameter, bytes) of each part of a multipart body."""
    message = email.message_from_bytes(
        b"Content-Type: " + response.headers["Content-Type"].encode() + b"\r\n\r\n"
        + response.content, policy=email.policy.HTTP)
    assert message.get_content_type() == "multipart/related"
    closing = f"--{message.get_boundary()}--".encode()
    assert closing in response.content, "the body has no closing delimiter: it was cut"
    parts = []
    for part in message.iter_parts():
        syntax = part.get_param("transfer-syntax")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts.append((part.get_content_type(), str(syntax) if syntax else None, payload))
    return parts


def decode_frame(metadata: dict[str, Any], media_type: str, syntax: str | None,
                 data: bytes) -> np.ndarray:
    """One frame as the image loader makes it: the metadata's Image Pixel attributes, the
    bytes of the part, and the part's transfer syntax (or the media type's default)."""
    uid = UID(syntax or DEFAULT_SYNTAX[media_type])
    wanted = {tag_of(keyword) for keyword in IMAGE_PIXEL}
    ds = Dataset.from_json({key: item for key, item in metadata.items() if key in wanted})
    ds.NumberOfFrames = 1
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid
    ds.PixelData = encapsulate([data]) if uid.is_compressed else data
    return np.asarray(ds.pixel_array)


def tag_of(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    assert tag is not None
    return f"{tag:08X}"


def value(item: dict[str, Any], keyword: str) -> Any:
    values = item.get(tag_of(keyword), {}).get("Value", [])
    return values[0] if values else None


def study_date(ds: Dataset) -> str | None:
    """The StudyDate as QIDO-RS gives it: a PS3.5 DA, or none (color-pl.dcm has the retired
    ACR-NEMA form 1994.11.05, which the archive's index does not take)."""
    date = str(ds.get("StudyDate") or "")
    return date if re.fullmatch(r"\d{8}", date) else None


def test_a_viewer_lists_opens_and_draws_every_frame(base: str, viewer: User) -> None:
    stored = seed([corpus(name) for name in FILES])
    read = {uid: dcmread(path, stop_before_pixels=True) for uid, path in stored.items()}
    studies: dict[str, list[Dataset]] = {}
    for ds in read.values():
        studies.setdefault(str(ds.StudyInstanceUID), []).append(ds)
    client, session = clients(base, viewer)

    # 1. The study list, and its second page.
    listed = client.search_for_studies(additional_params={
        "limit": "101", "offset": "0", "fuzzymatching": "false",
        "includefield": STUDY_LIST_FIELDS})
    assert sorted(value(s, "StudyInstanceUID") for s in listed) == sorted(studies)
    for item in listed:
        datasets = studies[value(item, "StudyInstanceUID")]
        assert value(item, "NumberOfStudyRelatedInstances") == len(datasets)
        assert value(item, "PatientID") == (datasets[0].get("PatientID") or None)
        assert value(item, "StudyDate") == study_date(datasets[0])
        modalities = item.get("00080061", {}).get("Value", [])
        assert sorted(modalities) == sorted({str(ds.Modality) for ds in datasets})
    page = client.search_for_studies(additional_params={
        "limit": "2", "offset": "2", "fuzzymatching": "false",
        "includefield": STUDY_LIST_FIELDS})
    assert [value(s, "StudyInstanceUID") for s in page] == [
        value(s, "StudyInstanceUID") for s in listed[2:4]]

    for study_uid, datasets in studies.items():
        # 2. The series of the study opened.
        series = client.search_for_series(study_uid, additional_params={
            "includefield": SERIES_FIELDS})
        by_series: dict[str, list[Dataset]] = {}
        for member in datasets:
            by_series.setdefault(str(member.SeriesInstanceUID), []).append(member)
        assert sorted(value(s, "SeriesInstanceUID") for s in series) == sorted(by_series)
        for item in series:
            members = by_series[value(item, "SeriesInstanceUID")]
            assert value(item, "Modality") == members[0].Modality
            assert value(item, "NumberOfSeriesRelatedInstances") == len(members)
            # 3. Its metadata, then 4. every frame of every instance.
            metadata = client.retrieve_series_metadata(study_uid, value(item,
                                                                        "SeriesInstanceUID"))
            assert sorted(value(m, "SOPInstanceUID") for m in metadata) == sorted(
                str(ds.SOPInstanceUID) for ds in members)
            for instance in metadata:
                check_instance(session, base, instance,
                               stored[value(instance, "SOPInstanceUID")])


def check_instance(session: requests.Session, base: str, metadata: dict[str, Any],
                   path: Path) -> None:
    """The metadata's Image Pixel attributes are the file's, and every frame, fetched as
    the image loader does, decodes to pydicom's pixels of the stored file."""
    ds = dcmread(path, stop_before_pixels=True)
    for keyword in IMAGE_PIXEL:
        assert value(metadata, keyword) == ds.get(keyword), keyword
    frames = int(ds.get("NumberOfFrames") or 1)
    pixels = dcmread(path).pixel_array  # pydicom.pixels.pixel_array(path) reads no deflated
    assert int(value(metadata, "NumberOfFrames") or 1) == frames
    url = (f"{base}/studies/{value(metadata, 'StudyInstanceUID')}/series/"  # getWADORSImageId
           f"{value(metadata, 'SeriesInstanceUID')}/instances/{value(metadata, 'SOPInstanceUID')}")
    for number in range(1, frames + 1):
        response = session.get(f"{url}/frames/{number}", headers={"Accept": FRAME_ACCEPT},
                               timeout=60)
        assert response.status_code == 200, response.text
        ((media_type, syntax, data),) = frame_parts(response)
        decoded = decode_frame(metadata, media_type, syntax, data)
        expected = pixels[number - 1] if frames > 1 else pixels
        assert np.array_equal(decoded, expected), (path.name, number, media_type, syntax)
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        check_palette(session, metadata, ds)


def check_palette(session: requests.Session, metadata: dict[str, Any], ds: Dataset) -> None:
    """The palette's data as OHIF gets it when drawing: inline, or by its BulkDataURI."""
    full = dcmread(ds.filename)
    for keyword in ("RedPaletteColorLookupTableData", "GreenPaletteColorLookupTableData",
                    "BluePaletteColorLookupTableData"):
        element = metadata[tag_of(keyword)]
        if "InlineBinary" in element:
            assert base64.b64decode(element["InlineBinary"]) == full[keyword].value
            continue
        response = session.get(element["BulkDataURI"], timeout=30, headers={
            "Accept": 'multipart/related; type="application/octet-stream"'})
        assert response.status_code == 200
        ((_, _, data),) = frame_parts(response)
        assert data == full[keyword].value


def _routed(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def test_a_viewer_gets_thumbnails_and_rendered_images(base: str, viewer: User) -> None:
    ct = corpus("693_UNCI.dcm")
    ds = dcmread(ct, stop_before_pixels=True)
    series = f"/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
    instance = f"{series}/instances/{ds.SOPInstanceUID}"
    if not _routed(f"/dicomweb{instance}/rendered"):
        pytest.skip("no /rendered routes under /dicomweb/ in this checkout")
    seed([ct])
    _, session = clients(base, viewer)
    for resource in (f"{instance}/thumbnail", f"{series}/thumbnail", f"{instance}/rendered"):
        # OHIF's thumbnailRequestStrategy "fetch": a GET with Accept: image/jpeg
        response = session.get(base + resource, headers={"Accept": "image/jpeg"}, timeout=60)
        assert response.status_code == 200, (resource, response.text)
        assert response.headers["Content-Type"].startswith("image/jpeg")
        image = Image.open(BytesIO(response.content))
        assert image.format == "JPEG"
        if resource.endswith("/rendered"):
            assert image.size == (ds.Columns, ds.Rows)


def big_endian_planar_rgb(folder: Path) -> Path:
    source = dcmread(corpus("color-pl.dcm"))
    assert source.PlanarConfiguration == 1 and source.BitsAllocated == 8
    source.file_meta.TransferSyntaxUID = ExplicitVRBigEndian  # 8-bit values: same bytes
    path = folder / "planar-big-endian.dcm"
    dcmwrite(path, source, implicit_vr=False, little_endian=False, force_encoding=True)
    return path


def deflated_ct(folder: Path) -> Path:
    source = dcmread(corpus("693_UNCI.dcm"))
    source.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path = folder / "deflated.dcm"
    source.save_as(path)
    return path


@pytest.mark.parametrize("make", [
    pytest.param(big_endian_planar_rgb, id="big-endian-planar-rgb"),
    pytest.param(deflated_ct, id="deflated"),
])
def test_frames_of_native_files_the_console_cannot_seek(base: str, viewer: User,
                                                        tmp_path: Path, make: Any) -> None:
    (uid,) = seed([make(tmp_path)])
    instance = Instance.objects.select_related("series__study").get(sop_instance_uid=uid)
    client, session = clients(base, viewer)
    metadata = client.retrieve_instance_metadata(
        instance.series.study.study_instance_uid, instance.series.series_instance_uid, uid)
    check_instance(session, base, metadata, absolute_path(instance.file_path))
