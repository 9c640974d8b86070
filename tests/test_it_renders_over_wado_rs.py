"""WADO-RS rendered and thumbnail resources (PS3.18 10.4.1.1.3-4) under /dicomweb/: pixels
against the PS3.3 window formulas applied here with numpy to pydicom's modality values, and
against DCMTK's dcmj2pnm; viewport, quality, frames, thumbnails, study and series levels;
400/404/406/401/403 with the reason; dicomweb-client against a live server."""

from __future__ import annotations

import email
import email.policy
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.uri import URI, URISuffix
from django.contrib.auth.models import User
from django.test import Client
from PIL import Image, ImageSequence
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut
from pydicom.uid import UID, generate_uid

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from console.tokens import issue_token
from tests.archive_helpers import corpus, make_object
from tests.object_helpers import tiny_pdf

PNG = "image/png"


@pytest.fixture
def storage(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"


def archive(source: str | Path) -> Instance:
    path = corpus(source) if isinstance(source, str) else source
    return store_file(path, source=InstanceSource.UPLOAD).instance


def url(instance: Instance, tail: str = "rendered") -> str:
    return (f"/dicomweb/studies/{instance.series.study.study_instance_uid}/series/"
            f"{instance.series.series_instance_uid}/instances/{instance.sop_instance_uid}/"
            f"{tail}")


def client_of(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'wado').raw}"})


def image_of(response: Any, kind: str = PNG) -> np.ndarray:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == kind
    return np.asarray(Image.open(BytesIO(response.content)))


def values_of(name: str, frame: int | None = None) -> np.ndarray:
    """pydicom's stored values through its own modality LUT (rescale)."""
    ds = dcmread(corpus(name))
    arr = ds.pixel_array if frame is None else ds.pixel_array[frame]
    return np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)


def linear(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1, y from 0 to 255."""
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    return np.where(x <= c - 0.5 - (w - 1) / 2, 0, np.where(x > c - 0.5 + (w - 1) / 2, 255, y))


def linear_exact(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.3.2."""
    return np.where(x <= c - w / 2, 0, np.where(x > c + w / 2, 255, ((x - c) / w + 0.5) * 255))


def sigmoid(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.3.1."""
    return 255 / (1 + np.exp(-4 * (x - c) / w))


def assert_8bit(rendered: np.ndarray, expected: np.ndarray) -> None:
    """The rendered 8-bit values are the formula's, to the nearest step below or above."""
    assert rendered.shape == expected.shape
    assert np.abs(rendered.astype(np.float64) - expected).max() < 1.0


def dcmtk_png(name: str, tmp_path: Path, *options: str) -> np.ndarray:
    out = tmp_path / f"{name}.png"
    subprocess.run(["dcmj2pnm", *options, "+on", str(corpus(name)), str(out)], check=True,
                   capture_output=True)
    return np.asarray(Image.open(out))


@pytest.mark.parametrize(("function", "formula"), [("linear", linear),
                                                   ("linear-exact", linear_exact),
                                                   ("sigmoid", sigmoid)])
def test_a_typed_window_is_the_ps33_formula(storage: None, viewer: User, function: str,
                                            formula: Any) -> None:
    ct = archive("693_UNCI.dcm")
    response = client_of(viewer).get(url(ct), {"window": f"300,1500,{function}"},
                                     HTTP_ACCEPT=PNG)
    assert_8bit(image_of(response), formula(values_of("693_UNCI.dcm"), 300.0, 1500.0))


def test_the_default_window_is_the_files(storage: None, viewer: User, tmp_path: Path) -> None:
    ct = archive("693_UNCI.dcm")
    shown = image_of(client_of(viewer).get(url(ct), HTTP_ACCEPT=PNG))
    ds = dcmread(corpus("693_UNCI.dcm"))
    assert_8bit(shown, linear(values_of("693_UNCI.dcm"), float(ds.WindowCenter),
                              float(ds.WindowWidth)))
    assert np.array_equal(shown, dcmtk_png("693_UNCI.dcm", tmp_path, "+Wi", "1"))


def test_monochrome1_is_inverted(storage: None, viewer: User) -> None:
    cr = archive("RG3_J2KR.dcm")
    ds = dcmread(corpus("RG3_J2KR.dcm"))
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    shown = image_of(client_of(viewer).get(url(cr), HTTP_ACCEPT=PNG))
    windowed = linear(values_of("RG3_J2KR.dcm"), float(ds.WindowCenter), float(ds.WindowWidth))
    assert_8bit(shown, 255 - windowed)


def test_palette_and_rgb_colour(storage: None, viewer: User, tmp_path: Path) -> None:
    client = client_of(viewer)
    palette = image_of(client.get(url(archive("OBXXXX1A.dcm")), HTTP_ACCEPT=PNG))
    expected = dcmtk_png("OBXXXX1A.dcm", tmp_path)  # DCMTK keeps the LUT's high byte
    assert palette.shape == expected.shape == (600, 800, 3)
    assert np.abs(palette.astype(int) - expected).max() <= 1
    response = client.get(url(archive("SC_rgb.dcm")), {"window": "10,20"}, HTTP_ACCEPT=PNG)
    assert "window is ignored" in response["Warning"]
    assert np.array_equal(image_of(response), dcmread(corpus("SC_rgb.dcm")).pixel_array)


def test_viewport_scales_keeping_the_aspect_and_crops(storage: None, viewer: User) -> None:
    client = client_of(viewer)
    palette = archive("OBXXXX1A.dcm")  # 800 × 600
    assert image_of(client.get(url(palette), {"viewport": "200,200"},
                               HTTP_ACCEPT=PNG)).shape == (150, 200, 3)
    assert image_of(client.get(url(palette), {"viewport": "1600,300"},
                               HTTP_ACCEPT=PNG)).shape == (300, 400, 3)
    ct = archive("693_UNCI.dcm")
    whole = image_of(client.get(url(ct), HTTP_ACCEPT=PNG))
    region = image_of(client.get(url(ct), {"viewport": "128,128,100,50,128,64"},
                                 HTTP_ACCEPT=PNG))
    assert np.array_equal(region, whole[50:114, 100:228])
    flipped = image_of(client.get(url(ct), {"viewport": "128,128,228,50,-128,64"},
                                  HTTP_ACCEPT=PNG))
    assert np.array_equal(flipped, whole[50:114, 100:228][:, ::-1])


def test_quality_changes_the_jpeg(storage: None, viewer: User) -> None:
    client = client_of(viewer)
    ct = archive("693_UNCI.dcm")
    low = client.get(url(ct), {"quality": "5"})
    high = client.get(url(ct), {"quality": "95"}, HTTP_ACCEPT="*/*")
    assert low["Content-Type"] == high["Content-Type"] == "image/jpeg"
    assert len(low.content) < len(high.content) / 2
    shown = image_of(high, "image/jpeg").astype(int)
    assert np.abs(shown - image_of(client.get(url(ct), HTTP_ACCEPT=PNG))).mean() < 2
    png = client.get(url(ct), {"quality": "5"}, HTTP_ACCEPT="image/gif;q=0.5, image/png")
    assert png["Content-Type"] == PNG and "quality applies" in png["Warning"]


def test_frames_render_one_frame_or_an_animation(storage: None, viewer: User) -> None:
    client = client_of(viewer)
    mr = archive("emri_small.dcm")
    window = {"window": "600,1200"}
    for number in (1, 4, 10):
        shown = image_of(client.get(url(mr, f"frames/{number}/rendered"), window,
                                    HTTP_ACCEPT=PNG))
        assert_8bit(shown, linear(values_of("emri_small.dcm", number - 1), 600.0, 1200.0))
    first = client.get(url(mr), window, HTTP_ACCEPT=PNG)
    assert "10 frames; this is frame 1" in first["Warning"]
    assert_8bit(image_of(first), linear(values_of("emri_small.dcm", 0), 600.0, 1200.0))
    gif = client.get(url(mr, "frames/2,5,7/rendered"), window)
    assert gif.status_code == 200 and gif["Content-Type"] == "image/gif"
    frames = [np.asarray(f.convert("L")) for f in
              ImageSequence.Iterator(Image.open(BytesIO(gif.content)))]
    assert len(frames) == 3
    for got, number in zip(frames, (2, 5, 7), strict=True):
        assert_8bit(got, linear(values_of("emri_small.dcm", number - 1), 600.0, 1200.0))
    several = client.get(url(mr, "frames/1,2/rendered"), HTTP_ACCEPT="image/jpeg")
    assert several.status_code == 406 and "image/gif" in several.content.decode()


def test_thumbnails_are_small_and_representative(storage: None, viewer: User,
                                                 tmp_path: Path) -> None:
    client = client_of(viewer)
    assert image_of(client.get(url(archive("693_UNCI.dcm"), "thumbnail")),
                    "image/jpeg").shape == (128, 128)
    palette = archive("OBXXXX1A.dcm")
    assert image_of(client.get(url(palette, "thumbnail"), HTTP_ACCEPT=PNG)).shape == (96, 128, 3)
    assert image_of(client.get(url(palette, "thumbnail"), {"viewport": "64,64"},
                               HTTP_ACCEPT=PNG)).shape == (48, 64, 3)
    mr = archive("emri_small.dcm")
    assert np.array_equal(
        image_of(client.get(url(mr, "frames/3/thumbnail"), HTTP_ACCEPT=PNG)),
        image_of(client.get(url(mr, "frames/3/rendered"), HTTP_ACCEPT=PNG)))
    assert np.array_equal(  # an instance's thumbnail is its middle frame
        image_of(client.get(url(mr, "thumbnail"), HTTP_ACCEPT=PNG)),
        image_of(client.get(url(mr, "frames/6/rendered"), HTTP_ACCEPT=PNG)))
    study, first, second = generate_uid(), generate_uid(), generate_uid()
    for series, rows in ((first, 8), (first, 12), (first, 16), (second, 20)):
        archive(make_object(tmp_path, patient_name="A^B", patient_id="P1", modality="OT",
                            study_date="20240101", study_uid=study, series_uid=series,
                            rows=rows))
    base = f"/dicomweb/studies/{study}"
    assert image_of(client.get(f"{base}/series/{first}/thumbnail"),
                    "image/jpeg").shape == (12, 12)  # the middle instance
    assert image_of(client.get(f"{base}/thumbnail"), "image/jpeg").shape == (12, 12)
    assert image_of(client.get(f"{base}/series/{second}/thumbnail"),
                    "image/jpeg").shape == (20, 20)


def _parts(response: Any) -> list[tuple[str, str, bytes]]:
    body = b"".join(response.streaming_content)
    assert body.endswith(b"--\r\n")
    message = email.message_from_bytes(
        b"Content-Type: " + response["Content-Type"].encode() + b"\r\n\r\n" + body,
        policy=email.policy.HTTP)
    return [(part.get_content_type(), str(part["Content-Location"]), part.get_content())
            for part in message.iter_parts()]


def test_a_study_or_series_is_its_first_image_or_every_one(storage: None, viewer: User,
                                                           tmp_path: Path) -> None:
    client = client_of(viewer)
    study, series = generate_uid(), generate_uid()
    made = [archive(make_object(tmp_path, patient_name="A^B", patient_id="P1", modality="OT",
                                study_date="20240101", study_uid=study, series_uid=series,
                                rows=rows)) for rows in (8, 12)]
    whole = client.get(f"/dicomweb/studies/{study}/series/{series}/rendered", HTTP_ACCEPT=PNG)
    assert np.array_equal(image_of(whole), image_of(client.get(url(made[0]), HTTP_ACCEPT=PNG)))
    assert "has 2 instances" in whole["Warning"]
    response = client.get(f"/dicomweb/studies/{study}/rendered",
                          HTTP_ACCEPT='multipart/related; type="image/png"')
    assert response.status_code == 200 and response.streaming
    parts = _parts(response)
    assert [kind for kind, _, _ in parts] == [PNG, PNG]
    for (_, location, data), instance in zip(parts, made, strict=True):
        assert location == f"http://testserver{url(instance)}"
        assert np.array_equal(np.asarray(Image.open(BytesIO(data))),
                              image_of(client.get(url(instance), HTTP_ACCEPT=PNG)))


def _without_pixels(tmp_path: Path, sop_class: str, **values: Any) -> Path:
    made = make_object(tmp_path, patient_name="A^B", patient_id="P", study_date="20240101",
                       modality="DOC")
    ds = dcmread(made)
    for keyword in ("PixelData", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
                    "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation"):
        delattr(ds, keyword)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    ds.save_as(made)
    return made


def test_objects_without_pixels(storage: None, viewer: User, tmp_path: Path) -> None:
    client = client_of(viewer)
    sr = archive(_without_pixels(tmp_path, "1.2.840.10008.5.1.4.1.1.88.11"))
    refused = client.get(url(sr))
    assert refused.status_code == 406 and "no pixel data" in refused.content.decode()
    pdf = tiny_pdf(tmp_path / "report.pdf", pad_to_odd=False).read_bytes()
    document = archive(_without_pixels(tmp_path, "1.2.840.10008.5.1.4.1.1.104.1",
                                       MIMETypeOfEncapsulatedDocument="application/pdf",
                                       EncapsulatedDocument=pdf, DocumentTitle="Report"))
    response: Any = client.get(url(document))
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == pdf
    assert client.get(url(document), HTTP_ACCEPT="image/jpeg").status_code == 406
    assert client.get(url(document, "thumbnail")).status_code == 406
    assert client.get(url(document, "frames/1/rendered")).status_code == 400


def test_what_cannot_be_rendered_says_why(storage: None, viewer: User,
                                          no_role_user: User) -> None:
    client = client_of(viewer)
    mr = archive("emri_small.dcm")
    for query, reason in (({"window": "40,0"}, "at least 1"),
                          ({"window": "40,0.5"}, "at least 1"),
                          ({"window": "40,-2,sigmoid"}, "above 0"),
                          ({"window": "a,400"}, "must be a number"),
                          ({"window": "40,400,cubic"}, "linear, linear-exact or sigmoid"),
                          ({"window": "40"}, "center,width"),
                          ({"viewport": "abc,10"}, "whole number"),
                          ({"viewport": "0,10"}, "at least 1×1"),
                          ({"viewport": "10,10,60,0,10,10"}, "not inside"),
                          ({"quality": "0"}, "1 to 100"),
                          ({"quality": "101"}, "1 to 100"),
                          ({"quality": "high"}, "whole number")):
        response = client.get(url(mr), query)
        assert response.status_code == 400, query
        assert reason in response.content.decode(), (query, response.content)
    assert client.get(url(mr), {"window": "40,0.5,sigmoid"}).status_code == 200
    for frames, reason in (("0", "start at 1"), ("11", "has 10 frames"), ("x", "whole")):
        response = client.get(url(mr, f"frames/{frames}/rendered"))
        assert response.status_code == 400 and reason in response.content.decode()
    for accept in ("image/jp2", 'multipart/related; type="application/dicom"',
                   "image/png;q=0, image/jpeg;q=0"):
        response = client.get(url(mr), HTTP_ACCEPT=accept)
        assert response.status_code == 406 and "image/jpeg" in response.content.decode()
    assert client.get(url(mr), {"accept": PNG}, HTTP_ACCEPT="image/jp2")["Content-Type"] == PNG
    noted = client.get(url(mr), {"annotation": "patient"})
    assert noted.status_code == 200 and "annotation is not supported" in noted["Warning"]
    study = mr.series.study.study_instance_uid
    assert "no study" in client.get(f"/dicomweb/studies/{study}.9/rendered").content.decode()
    assert client.get(f"/dicomweb/studies/{study}/series/1.2.3/thumbnail").status_code == 404
    assert client.get(url(mr).replace(mr.sop_instance_uid, "1.2.3")).status_code == 404
    assert Client().get(url(mr)).status_code == 401
    assert client_of(no_role_user).get(url(mr, "thumbnail")).status_code == 403


def test_an_undecodable_frame_is_refused_with_the_reason(storage: None, viewer: User,
                                                        tmp_path: Path) -> None:
    ds = dcmread(corpus("693_J2KR.dcm"))  # its codestream, labelled as JPEG XL: no decoder
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.110")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(tmp_path / "jxl.dcm")
    response = client_of(viewer).get(url(archive(tmp_path / "jxl.dcm")))
    assert response.status_code == 422
    assert "cannot be decoded" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_renders(settings: Any, tmp_path: Path, viewer: User,
                                 live_server: Any) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    ct, mr = archive("693_UNCI.dcm"), archive("emri_small.dcm")
    headers = {"Authorization": f"Bearer {issue_token(viewer, 'c').raw}"}
    client = DICOMwebClient(url=f"{live_server.url}/dicomweb", headers=headers)
    uids = (ct.series.study.study_instance_uid, ct.series.series_instance_uid,
            ct.sop_instance_uid)
    png = client.retrieve_instance_rendered(*uids, media_types=(PNG,),
                                            params={"window": "300,1500,linear"})
    assert_8bit(np.asarray(Image.open(BytesIO(png))),
                linear(values_of("693_UNCI.dcm"), 300.0, 1500.0))
    jpeg = client.retrieve_series_rendered(*uids[:2], media_types=("image/jpeg",),
                                           params={"viewport": "64,64", "quality": 80})
    assert Image.open(BytesIO(jpeg)).size == (64, 64)
    frame = client.retrieve_instance_frames_rendered(
        mr.series.study.study_instance_uid, mr.series.series_instance_uid,
        mr.sop_instance_uid, frame_numbers=[4], media_types=(PNG,),
        params={"window": "600,1200"})
    assert_8bit(np.asarray(Image.open(BytesIO(frame))),
                linear(values_of("emri_small.dcm", 3), 600.0, 1200.0))
    # This dicomweb-client has no thumbnail method: its URI builder names the resource.
    thumbnail = URI(f"{live_server.url}/dicomweb", *uids, suffix=URISuffix.THUMBNAIL)
    got = requests.get(str(thumbnail), headers={**headers, "Accept": "image/jpeg"}, timeout=30)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/jpeg"
    assert Image.open(BytesIO(got.content)).size == (128, 128)
