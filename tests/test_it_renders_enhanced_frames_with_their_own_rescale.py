"""Enhanced multi-frame objects keep Rescale and Window in functional groups, not at the top
level: the renderer applies the frame's Pixel Value Transformation and Frame VOI LUT, so a
window typed in HU means HU. Oracle: pydicom's decoded frames and the file's own groups."""

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread

from archive.inspect.pixels import display_range
from archive.rendering import Window, file_window, render
from tests.archive_helpers import corpus

ENHANCED_CT = "eCT_Supplemental.dcm"


def hounsfield(path: Path, frame: int) -> np.ndarray:
    ds = dcmread(path)
    group = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    stored = ds.pixel_array[frame].astype(np.float64)
    return stored * float(group.RescaleSlope) + float(group.RescaleIntercept)


def shown(path: Path, frame: int, window: Window | None) -> np.ndarray:
    buffer = io.BytesIO()
    render(path, frame, window).save(buffer, format="PNG")
    return np.asarray(Image.open(buffer))


def test_the_frame_voi_lut_group_is_the_default_window() -> None:
    path = corpus(ENHANCED_CT)
    ds = dcmread(path, stop_before_pixels=True)
    assert "WindowCenter" not in ds and "RescaleSlope" not in ds
    voi = ds.SharedFunctionalGroupsSequence[0].FrameVOILUTSequence[0]
    assert file_window(ds, 1) == Window(float(voi.WindowCenter), float(voi.WindowWidth))


def test_a_window_in_hu_cuts_at_hu_values_on_every_frame() -> None:
    path = corpus(ENHANCED_CT)
    window = Window(center=40, width=100)  # a narrow soft-tissue window, in HU
    low, high = window.center - 0.5 - (window.width - 1) / 2, \
        window.center - 0.5 + (window.width - 1) / 2
    for frame in (0, 1):
        hu = hounsfield(path, frame)
        image = shown(path, frame, window)
        assert (hu <= low).any() and (hu > high).any(), "the frame spans the window"
        assert (image[hu <= low] == 0).all()
        assert (image[hu > high] == 255).all()
    # the same image with the file's own window differs (it is not ignored)
    assert not np.array_equal(shown(path, 0, None), shown(path, 0, window))


def test_the_starting_full_range_is_in_hu() -> None:
    path = corpus(ENHANCED_CT)
    hu = hounsfield(path, 0)
    assert display_range(path) == (float(hu.min()), float(hu.max()))
