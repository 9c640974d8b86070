"""Decoding a frame and turning it into an 8-bit image for display: modality LUT (rescale),
window (from the file, a preset, or typed; linear, linear exact or sigmoid VOI LUT function),
MONOCHROME1 inverted, palette colour, YBR to RGB.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, pixel_array

# Named windows (label, center, width): the render page's presets and the image export's.
WINDOW_PRESETS = {
    "lung": ("CT lung", -600.0, 1500.0),
    "mediastinum": ("CT mediastinum", 50.0, 350.0),
    "abdomen": ("CT abdomen", 40.0, 400.0),
    "liver": ("CT liver", 60.0, 160.0),
    "bone": ("CT bone", 400.0, 1800.0),
    "brain": ("CT brain", 40.0, 80.0),
}


class RenderRefused(Exception):
    """The frame cannot or may not be decoded; the message says why."""


class VoiFunction(StrEnum):
    """VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: VoiFunction = VoiFunction.LINEAR

    @property
    def valid(self) -> bool:
        """LINEAR needs a width of at least 1 (C.11.2.1.2.1), the others above 0."""
        return self.width >= 1 if self.function is VoiFunction.LINEAR else self.width > 0


def _first(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value[0] if hasattr(value, "__len__") and not isinstance(value, str)
                     else value)
    except (TypeError, ValueError, IndexError):
        return None


def frame_group_item(ds: Dataset, frame: int, sequence: str) -> Dataset | None:
    """The first item of a functional group macro (e.g. Pixel Value Transformation, Frame VOI
    LUT) that applies to ``frame`` (from 0) of an enhanced multi-frame object: the per-frame
    group first, then the shared one (PS3.3 C.7.6.16)."""
    for keyword, index in (("PerFrameFunctionalGroupsSequence", frame),
                           ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(keyword) or []
        if index < len(groups):
            items = groups[index].get(sequence) or []
            if items:
                return items[0]
    return None


def _function_of(item: Dataset) -> VoiFunction:
    value = str(item.get("VOILUTFunction", "") or "").strip().upper()
    return VoiFunction(value) if value in VoiFunction.__members__ else VoiFunction.LINEAR


def _window_of(item: Dataset) -> Window | None:
    center, width = _first(item.get("WindowCenter")), _first(item.get("WindowWidth"))
    if center is None or width is None:
        return None
    window = Window(center, width, _function_of(item))
    return window if window.valid else None


def file_window(ds: Dataset, frame: int = 0) -> Window | None:
    """The file's window for ``frame``: top level, else the enhanced Frame VOI LUT group."""
    top = _window_of(ds)
    if top is not None:
        return top
    item = frame_group_item(ds, frame, "FrameVOILUTSequence")
    return _window_of(item) if item is not None else None


def modality_values(arr: np.ndarray, ds: Dataset, frame: int = 0) -> np.ndarray:
    """Stored values through the Modality LUT: top-level rescale or LUT (pydicom), else the
    Pixel Value Transformation group of an enhanced multi-frame object for ``frame``."""
    if "RescaleSlope" in ds or "ModalityLUTSequence" in ds:
        return apply_modality_lut(arr, ds).astype(np.float64)
    item = frame_group_item(ds, frame, "PixelValueTransformationSequence")
    if item is not None and "RescaleSlope" in item and "RescaleIntercept" in item:
        try:
            slope, intercept = float(item.RescaleSlope), float(item.RescaleIntercept)
        except (TypeError, ValueError):
            return arr.astype(np.float64)
        return arr.astype(np.float64) * slope + intercept
    return arr.astype(np.float64)


def frame_count(ds: Dataset) -> int:
    """Number of Frames, or 1 when absent or not a number."""
    try:
        return max(1, int(str(ds.get("NumberOfFrames", 1) or 1).strip()))
    except ValueError:
        return 1


def check_budget(ds: Dataset) -> None:
    pixels = int(ds.get("Rows", 0) or 0) * int(ds.get("Columns", 0) or 0)
    pixels *= int(ds.get("SamplesPerPixel", 1) or 1)
    if pixels > settings.RENDER_MAX_PIXELS:
        raise RenderRefused(
            f"A frame of this image has {pixels} samples, over the rendering budget of "
            f"{settings.RENDER_MAX_PIXELS}."
        )


PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def decode_frame(path: Path, frame: int = 0) -> tuple[np.ndarray, Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = dcmread(path, defer_size=64 * 1024, force=True)  # large values stay on disk
    if not any(keyword in ds for keyword in PIXEL_KEYWORDS):
        raise RenderRefused("This object has no readable pixel data.")
    check_budget(ds)
    frames = frame_count(ds)
    if not 0 <= frame < frames:
        raise RenderRefused(f"Frame {frame + 1} does not exist (the image has {frames}).")
    try:
        if _is_one_bit_rle(ds):
            return decode_one_bit_rle(ds, frame), ds
        if _has_part10_header(path):
            arr = pixel_array(str(path), index=frame)
        else:  # a bare dataset: decode through the dataset
            full = dcmread(path, force=True).pixel_array
            arr = full[frame] if frames > 1 else full
    except Exception as exc:  # codec missing, corrupt stream…
        raise RenderRefused(
            f"The pixel data cannot be decoded: {type(exc).__name__}: {exc}"
        ) from exc
    return arr, ds


def _has_part10_header(path: Path) -> bool:
    with path.open("rb") as fp:
        fp.seek(128)
        return fp.read(4) == b"DICM"


def _is_one_bit_rle(ds: Dataset) -> bool:
    return (ds.file_meta.get("TransferSyntaxUID") == "1.2.840.10008.1.2.5"
            and int(ds.get("BitsAllocated", 0) or 0) == 1)


def decode_one_bit_rle(ds: Dataset, frame: int) -> np.ndarray:
    """RLE Lossless with 1 bit allocated (segmentations): neither pydicom nor pylibjpeg
    decodes it. One segment of packed bits, the first pixel in the lowest bit (PS3.5 8.1.1)."""
    from pydicom.encaps import generate_frames
    from pydicom.pixels.decoders.rle import _rle_decode_segment, _rle_parse_header

    frames = frame_count(ds)
    data = ds.PixelData if ds.PixelData is not None else b""
    encoded = next(f for i, f in enumerate(generate_frames(data, number_of_frames=frames))
                   if i == frame)
    offsets = _rle_parse_header(encoded[:64])
    if len(offsets) != 1:
        raise RenderRefused(f"1-bit RLE frame with {len(offsets)} segments (expected 1)")
    packed = np.frombuffer(bytes(_rle_decode_segment(encoded[offsets[0]:])), dtype=np.uint8)
    rows, columns = int(ds.Rows), int(ds.Columns)
    bits = np.unpackbits(packed, bitorder="little")[: rows * columns]
    return bits.reshape(rows, columns)


def linear_window(values: np.ndarray, window: Window) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 linear window to 0..255."""
    low = window.center - 0.5 - (window.width - 1) / 2
    scaled = ((values - (window.center - 0.5)) / max(window.width - 1, 1) + 0.5) * 255.0
    scaled[values <= low] = 0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def linear_exact_window(values: np.ndarray, window: Window) -> np.ndarray:
    """PS3.3 C.11.2.1.3.2 LINEAR_EXACT to 0..255."""
    scaled = ((values - window.center) / window.width + 0.5) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def sigmoid_window(values: np.ndarray, window: Window) -> np.ndarray:
    """PS3.3 C.11.2.1.3.1 SIGMOID to 0..255."""
    with np.errstate(over="ignore"):
        scaled = 255.0 / (1.0 + np.exp(-4.0 * (values - window.center) / window.width))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """The window's VOI LUT function applied to modality values, to 0..255."""
    if window.function is VoiFunction.SIGMOID:
        return sigmoid_window(values, window)
    if window.function is VoiFunction.LINEAR_EXACT:
        return linear_exact_window(values, window)
    return linear_window(values, window)


def to_display(arr: np.ndarray, ds: Dataset, window: Window | None = None,
               frame: int = 0) -> np.ndarray:
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds).astype(np.float64)
        peak = 65535.0 if rgb.max() > 255 else 255.0
        return np.clip(rgb / peak * 255.0, 0, 255).astype(np.uint8)
    if arr.ndim == 3:  # RGB (pydicom converts YBR to RGB when decoding)
        bits = int(ds.get("BitsStored", 8) or 8)
        return np.clip(arr.astype(np.float64) / (2**bits - 1) * 255.0, 0, 255).astype(np.uint8)
    values = modality_values(arr, ds, frame)
    chosen = window or file_window(ds, frame)
    if chosen is not None:
        shown = apply_window(values, chosen)
    else:
        if "VOILUTSequence" in ds:
            values = apply_voi_lut(values, ds).astype(np.float64)
        low, high = float(values.min()), float(values.max())
        shown = np.zeros(values.shape, np.uint8) if high <= low else (
            (values - low) / (high - low) * 255.0
        ).astype(np.uint8)
    if photometric == "MONOCHROME1":
        shown = 255 - shown
    return shown


def render(path: Path, frame: int = 0, window: Window | None = None) -> Image.Image:
    arr, ds = decode_frame(path, frame)
    return Image.fromarray(to_display(arr, ds, window, frame))


def thumbnail(path: Path, size: int = 128) -> Image.Image:
    ds = dcmread(path, stop_before_pixels=True, force=True)
    middle = frame_count(ds) // 2
    image = render(path, middle)
    image.thumbnail((size, size))
    return image
