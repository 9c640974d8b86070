"""Pixel values for the render page's readout: the stored value at a row and column of a frame
and its Modality LUT output (Rescale Slope/Intercept, from the top level or, in an enhanced
multi-frame object, from the frame's Pixel Value Transformation functional group)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

from archive.rendering import decode_frame, frame_count, frame_group_item, modality_values

UNSPECIFIED_UNIT = "US"  # Rescale Type "US": unspecified (PS3.3 C.11.1.1.2)


class BadPoint(ValueError):
    """The asked frame, row or column does not exist; the message says why."""


@dataclass(frozen=True)
class Rescale:
    slope: float
    intercept: float
    unit: str  # "HU", "OD"…, or "" when unspecified


@dataclass(frozen=True)
class PixelValue:
    frame: int  # from 1
    row: int  # from 0
    column: int  # from 0
    stored: int | float | list[int | float]
    rescaled: float | None
    rescale: Rescale | None
    unit: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "frame": self.frame, "row": self.row, "column": self.column,
            "stored": self.stored, "rescaled": self.rescaled,
            "slope": self.rescale.slope if self.rescale else None,
            "intercept": self.rescale.intercept if self.rescale else None,
            "unit": self.unit or (self.rescale.unit if self.rescale else ""),
        }


def _unit(item: Dataset, ds: Dataset) -> str:
    kind = str(item.get("RescaleType", "") or "").strip()
    if kind and kind != UNSPECIFIED_UNIT:
        return kind
    if not kind and str(ds.get("Modality", "")) == "CT":
        return "HU"  # CT Image: Hounsfield units unless said otherwise (PS3.3 C.8.2.1.1.2)
    return ""


def _from_item(item: Dataset | None, ds: Dataset) -> Rescale | None:
    if item is None or "RescaleSlope" not in item or "RescaleIntercept" not in item:
        return None
    try:
        return Rescale(float(item.RescaleSlope), float(item.RescaleIntercept), _unit(item, ds))
    except (TypeError, ValueError):
        return None


def _functional_group(ds: Dataset, frame: int) -> Dataset | None:
    """The frame's Pixel Value Transformation item: per-frame first, then shared."""
    return frame_group_item(ds, frame, "PixelValueTransformationSequence")


def frame_rescale(ds: Dataset, frame: int) -> Rescale | None:
    """Rescale Slope/Intercept that apply to ``frame`` (from 0), or None for identity."""
    return _from_item(ds, ds) or _from_item(_functional_group(ds, frame), ds)


@lru_cache(maxsize=4)
def _decoded(path: str, changed: int, frame: int) -> tuple[np.ndarray, Dataset]:
    del changed  # part of the cache key only: a replaced file is decoded again
    return decode_frame(Path(path), frame)


def decoded_frame(path: Path, frame: int) -> tuple[np.ndarray, Dataset]:
    return _decoded(str(path), path.stat().st_mtime_ns, frame)


def _number(value: np.generic) -> int | float:
    return float(value) if np.issubdtype(value.dtype, np.floating) else int(value)


def _check(text: str, name: str, count: int, base: int) -> int:
    if not (text.isascii() and text.lstrip("-").isdecimal()):
        raise BadPoint(f"The {name} must be a whole number, not “{text[:20]}”.")
    number = int(text)
    if not base <= number < count + base:
        raise BadPoint(f"{name.capitalize()} {number} is outside the image "
                       f"({base} to {count + base - 1}).")
    return number


def pixel_value(path: Path, frame_text: str, row_text: str, column_text: str) -> PixelValue:
    """The value at (row, column) of a frame; frame counts from 1, row and column from 0."""
    header = decoded_frame(path, 0)[1]  # RenderRefused when there is nothing to decode
    frame = _check(frame_text, "frame", frame_count(header), 1) - 1
    arr, ds = decoded_frame(path, frame)
    row = _check(row_text, "row", arr.shape[0], 0)
    column = _check(column_text, "column", arr.shape[1], 0)
    value = arr[row, column]
    if arr.ndim == 3:  # colour: one value per sample, no Modality LUT
        return PixelValue(frame + 1, row, column, [_number(v) for v in value], None, None)
    stored = _number(value)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric == "PALETTE COLOR":
        return PixelValue(frame + 1, row, column, stored, None, None)
    rescale = frame_rescale(ds, frame)
    if rescale is not None:
        return PixelValue(frame + 1, row, column, stored,
                          rescale.slope * stored + rescale.intercept, rescale)
    if ds.get("ModalityLUTSequence"):
        mapped = apply_modality_lut(np.asarray([value]), ds)[0]
        unit = str(ds.ModalityLUTSequence[0].get("ModalityLUTType", "") or "")
        return PixelValue(frame + 1, row, column, stored, float(mapped), None, unit)
    return PixelValue(frame + 1, row, column, stored, float(stored), None)


def display_range(path: Path) -> tuple[float, float] | None:
    """Min and max of the first frame after the Modality LUT the renderer applies, for a
    starting window when the file has none; None for colour images."""
    arr, ds = decoded_frame(path, 0)
    if arr.ndim == 3 or str(ds.get("PhotometricInterpretation", "")).strip() == "PALETTE COLOR":
        return None
    values = modality_values(arr, ds, 0)
    return float(np.min(values)), float(np.max(values))
