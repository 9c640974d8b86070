"""Inspection pages: dump with filter, DICOM JSON with working BulkDataURIs, raw values and
fragments, and files uploaded for inspection kept private to their owner."""

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom import dcmread
from pydicom.encaps import generate_fragments

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from tests.archive_helpers import corpus
from tests.conftest import logged_in


@pytest.fixture
def own_folders(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.INSPECT_DIR = tmp_path / "inspect"


def archived(name: str) -> Instance:
    return store_file(corpus(name), source=InstanceSource.UPLOAD).instance


def test_dump_page_and_filter(db: Any, own_folders: None, viewer: User) -> None:
    instance = archived("693_UNCI.dcm")
    client = logged_in(viewer)
    page = client.get(f"/inspect/instance/{instance.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "(0010,0010)" in body and "(7FE0,0010)" in body
    only = client.get(f"/inspect/instance/{instance.pk}/", {"q": "0010,0020"})
    tags = [row.tag_text for row in only.context["rows"]]
    assert tags == ["(0010,0020)"]
    nested = client.get(f"/inspect/instance/{instance.pk}/", {"q": "CodeValue"})
    kinds = [(row.kind, row.tag_text) for row in nested.context["rows"]]
    assert ("element", "(0008,2112)") in kinds  # the sequence around the match is shown
    assert kinds[-1] == ("element", "(0008,0100)")
    text = client.get(f"/inspect/instance/{instance.pk}/dump.txt").content.decode()
    assert "(0008,0060) CS CT" in text


def test_raw_values_are_the_stored_bytes(db: Any, own_folders: None, viewer: User) -> None:
    instance = archived("693_UNCI.dcm")
    response = logged_in(viewer).get(f"/inspect/instance/{instance.pk}/value",
                                     {"path": "7FE00010"})
    assert response.status_code == 200
    assert response.content == dcmread(corpus("693_UNCI.dcm")).PixelData


def test_fragments_download_one_by_one_and_as_zip(db: Any, own_folders: None,
                                                  viewer: User) -> None:
    instance = archived("OBXXXX1A_rle_2frame.dcm")
    # pydicom yields the Basic Offset Table item first, then the fragments.
    expected = list(generate_fragments(dcmread(corpus("OBXXXX1A_rle_2frame.dcm")).PixelData))
    assert len(expected) >= 3
    client = logged_in(viewer)
    first = client.get(f"/inspect/instance/{instance.pk}/value",
                       {"path": "7FE00010", "fragment": "1"})
    assert first.content == expected[1] and len(first.content) > 100
    bundle = client.get(f"/inspect/instance/{instance.pk}/value",
                        {"path": "7FE00010", "fragments": "zip"})
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as zf:
        names = sorted(zf.namelist())
        assert len(names) == len(expected)
        assert [zf.read(n) for n in names] == expected


def test_json_bulk_data_uris_resolve(db: Any, own_folders: None, viewer: User) -> None:
    instance = archived("MR-SIEMENS-DICOM-WithOverlays.dcm")
    client = logged_in(viewer)
    document = json.loads(client.get(f"/inspect/instance/{instance.pk}/json/",
                                     {"raw": "1"}).content)[0]
    ds = dcmread(corpus("MR-SIEMENS-DICOM-WithOverlays.dcm"))
    uris = {tag: el["BulkDataURI"] for tag, el in document.items() if "BulkDataURI" in el}
    assert "7FE00010" in uris and "60003000" in uris
    for tag, uri in uris.items():
        url = urlparse(uri)
        fetched = client.get(url.path + "?" + url.query)
        assert fetched.content == ds[int(tag, 16)].value, tag
    assert document["00100010"]["Value"][0]["Alphabetic"]


def test_uploaded_files_are_private(db: Any, own_folders: None, viewer: User,
                                    operator: User) -> None:
    mine = logged_in(viewer)
    response = mine.post("/inspect/", {"file": SimpleUploadedFile(
        "face.dcm", corpus("OT-PAL-8-face.dcm").read_bytes())})
    assert response.status_code == 302
    url = response["Location"]
    assert mine.get(url).status_code == 200
    token = url.strip("/").split("/")[-1]
    theirs = logged_in(operator)
    for path in (url, f"{url}json/", f"{url}dump.txt", f"{url}value?path=7FE00010"):
        assert theirs.get(path).status_code == 404, path
    assert "face.dcm" in mine.get("/inspect/").content.decode()
    assert "face.dcm" not in theirs.get("/inspect/").content.decode()
    mine.post(f"/inspect/uploads/{token}/delete/")
    assert mine.get(url).status_code == 404


def test_bad_input_gets_clear_answers(db: Any, own_folders: None, viewer: User) -> None:
    client = logged_in(viewer)
    garbage = client.post("/inspect/", {"file": SimpleUploadedFile("junk.bin",
                                                                   bytes(range(256)) * 8)})
    page = client.get(garbage["Location"])
    assert page.status_code == 200  # shown for what it is, not a 500
    json_page = client.get(garbage["Location"] + "json/")
    assert json_page.status_code in (200, 422)
    instance = archived("693_UNCI.dcm")
    for query in ({"path": "zzzz"}, {"path": "00100010/5/00100010"}, {"path": ""},
                  {"path": "7FE00010", "fragment": "99"}):
        assert client.get(f"/inspect/instance/{instance.pk}/value", query).status_code == 404
    for url in ("/inspect/instance/999999/", "/inspect/nothing/1/", "/inspect/upload/abc/"):
        assert client.get(url).status_code == 404


def test_api_dump_json_and_value(db: Any, own_folders: None, viewer: User) -> None:
    instance = archived("693_UNCI.dcm")
    from django.test import Client

    from console.tokens import issue_token

    client = Client(headers={"Authorization": f"Bearer {issue_token(viewer, 't').raw}"})
    rows = client.get(f"/api/instances/{instance.pk}/dump",
                      {"format": "rows", "q": "(0010,0020)"}).json()
    assert [r["tag"] for r in rows] == ["(0010,0020)"] and rows[0]["vr"] == "LO"
    text = client.get(f"/api/instances/{instance.pk}/dump", {"format": "text"})
    assert text["Content-Type"].startswith("text/plain") and b"(0008,0016) UI" in text.content
    document = client.get(f"/api/instances/{instance.pk}/dump", {"format": "json"}).json()[0]
    assert document["00080060"] == {"vr": "CS", "Value": ["CT"]}
    assert "BulkDataURI" in document["7FE00010"]
    value = client.get(f"/api/instances/{instance.pk}/value", {"path": "00080060"})
    assert value.content == b"CT"
    assert client.get(f"/api/instances/{instance.pk}/value", {"path": "bad"}).status_code == 404
    xml = client.get(f"/api/instances/{instance.pk}/dump", {"format": "xml"})
    assert xml["Content-Type"] == "application/dicom+xml"
    from archive.inspect.nativexml import from_native_xml

    again = from_native_xml(xml.content, bulk_loader=lambda uri: b"")
    assert again.Modality == "CT" and "PixelData" in again
    assert client.get(f"/api/instances/{instance.pk}/dump", {"format": "pdf"}).status_code == 422
    page = logged_in(viewer).get(f"/inspect/instance/{instance.pk}/xml/")
    assert page.status_code == 200 and "NativeDicomModel" in page.content.decode()


def test_info_and_render_pages(db: Any, own_folders: None, viewer: User, settings: Any) -> None:
    from PIL import Image

    instance = archived("693_UNCI.dcm")
    client = logged_in(viewer)
    info = client.get(f"/inspect/instance/{instance.pk}/info/").content.decode()
    assert "AXIAL" in info and "MD5 of the decoded pixel data" in info
    page = client.get(f"/inspect/instance/{instance.pk}/render/").content.decode()
    assert "CT lung" in page and "from the file" in page
    png = client.get(f"/inspect/instance/{instance.pk}/frame", {"preset": "lung"})
    assert png["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (512, 512)
    jpeg = client.get(f"/inspect/instance/{instance.pk}/frame",
                      {"wc": "40", "ww": "400", "format": "jpeg", "download": "1"})
    assert jpeg["Content-Type"] == "image/jpeg"
    assert "attachment" in jpeg["Content-Disposition"]
    lung = np.asarray(Image.open(io.BytesIO(png.content)))
    soft = np.asarray(Image.open(io.BytesIO(client.get(
        f"/inspect/instance/{instance.pk}/frame", {"wc": "40", "ww": "400"}).content)))
    assert not np.array_equal(lung, soft)  # the window changes the picture
    for query in ({"frame": "2"}, {"frame": "x"}, {"frame": "0"}):
        bad = client.get(f"/inspect/instance/{instance.pk}/frame", query)
        assert bad.status_code == 422 and b"does not exist" in bad.content
    settings.RENDER_MAX_PIXELS = 100
    refused = client.get(f"/inspect/instance/{instance.pk}/frame")
    assert refused.status_code == 422 and b"budget" in refused.content


def test_validate_page_and_api(db: Any, own_folders: None, viewer: User) -> None:
    from django.test import Client

    from console.tokens import issue_token

    instance = archived("693_UNCI.dcm")
    page = logged_in(viewer).get(f"/inspect/instance/{instance.pk}/validate/")
    assert page.status_code == 200 and "FrameOfReferenceUID" in page.content.decode()
    client = Client(headers={"Authorization": f"Bearer {issue_token(viewer, 't').raw}"})
    findings = client.get(f"/api/instances/{instance.pk}/validate").json()
    assert {"keyword": "FrameOfReferenceUID", "kind": "missing_type1"}.items() <= \
        next(f for f in findings if f["keyword"] == "FrameOfReferenceUID").items()
    info = client.get(f"/api/instances/{instance.pk}/info").json()
    assert info["facts"]["Orientation"].startswith("AXIAL") and len(info["pixel_md5"]) == 32
    png = client.get(f"/api/instances/{instance.pk}/render", {"wc": "40", "ww": "400"})
    assert png["Content-Type"] == "image/png"
    assert client.get(f"/api/instances/{instance.pk}/render", {"frame": "9"}).status_code == 422
