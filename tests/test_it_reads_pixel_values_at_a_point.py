"""The render page's pixel readout: the value at a point equals pydicom's decoded value, the
rescaled value is slope × stored + intercept, and bad points get a 400 with a message."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from pydicom import dcmread

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from tests.archive_helpers import corpus
from tests.conftest import logged_in

POINTS = [(0, 0), (100, 200), (255, 256), (511, 511), (300, 17)]


@pytest.fixture
def own_folders(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.INSPECT_DIR = tmp_path / "inspect"


def archived(name: str) -> Instance:
    return store_file(corpus(name), source=InstanceSource.UPLOAD).instance


def point(client: Any, instance: Instance, **query: str) -> Any:
    return client.get(f"/inspect/instance/{instance.pk}/pixel", query)


def test_ct_values_and_hounsfield_units(db: Any, own_folders: None, viewer: User) -> None:
    instance = archived("693_J2KR.dcm")  # JPEG 2000: decoded, not read from the bytes
    ds = dcmread(corpus("693_J2KR.dcm"))
    pixels = ds.pixel_array
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    client = logged_in(viewer)
    for row, column in POINTS:
        body = point(client, instance, row=str(row), column=str(column)).json()
        assert body["stored"] == int(pixels[row, column]), (row, column)
        assert body["rescaled"] == pytest.approx(slope * int(pixels[row, column]) + intercept)
        assert (body["slope"], body["intercept"], body["unit"]) == (slope, intercept, "HU")
    assert len({int(pixels[r, c]) for r, c in POINTS}) > 1  # the points differ


def test_every_frame_of_a_multi_frame_mr(db: Any, own_folders: None, viewer: User) -> None:
    instance = archived("emri_small_RLE.dcm")
    pixels = dcmread(corpus("emri_small_RLE.dcm")).pixel_array
    client = logged_in(viewer)
    for frame in (1, 5, 10):
        for row, column in ((0, 0), (32, 40), (63, 7)):
            body = point(client, instance, frame=str(frame), row=str(row),
                         column=str(column)).json()
            assert body["frame"] == frame
            assert body["stored"] == int(pixels[frame - 1, row, column])
    assert not np.array_equal(pixels[0], pixels[9])


def test_enhanced_ct_takes_the_functional_group_rescale(db: Any, own_folders: None,
                                                        viewer: User) -> None:
    instance = archived("eCT_Supplemental.dcm")
    ds = dcmread(corpus("eCT_Supplemental.dcm"))
    transform = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    slope, intercept = float(transform.RescaleSlope), float(transform.RescaleIntercept)
    stored = int(ds.pixel_array[1, 250, 260])
    body = point(logged_in(viewer), instance, frame="2", row="250", column="260").json()
    assert body["stored"] == stored
    assert body["rescaled"] == pytest.approx(slope * stored + intercept)


def test_colour_pixels_give_one_value_per_sample(db: Any, own_folders: None,
                                                 viewer: User) -> None:
    instance = archived("SC_rgb_2frame.dcm")
    pixels = dcmread(corpus("SC_rgb_2frame.dcm")).pixel_array
    body = point(logged_in(viewer), instance, frame="2", row="50", column="10").json()
    assert body["stored"] == [int(v) for v in pixels[1, 50, 10]]
    assert body["rescaled"] is None


def test_bad_points_are_refused_with_a_message(db: Any, own_folders: None,
                                               viewer: User) -> None:
    instance = archived("693_UNCI.dcm")
    client = logged_in(viewer)
    for query, words in (({"row": "512", "column": "0"}, "Row 512 is outside"),
                         ({"row": "0", "column": "-1"}, "Column -1 is outside"),
                         ({"row": "x", "column": "0"}, "whole number"),
                         ({"row": "", "column": "0"}, "whole number"),
                         ({"row": "1.5", "column": "0"}, "whole number"),
                         ({"frame": "2", "row": "0", "column": "0"}, "Frame 2 is outside"),
                         ({"frame": "0", "row": "0", "column": "0"}, "Frame 0 is outside")):
        response = point(client, instance, **query)
        assert response.status_code == 400, query
        assert words in response.json()["error"], query
    assert point(client, instance, row="511", column="511").status_code == 200  # the edge
