"""Image facts like gdcminfo: SOP class, geometry, orientation, rescale, bits, transfer
syntax, whether the pixel data is lossy (reading the JPEG 2000 / JPEG-LS stream headers when
the transfer syntax cannot tell), and the MD5 of the decoded pixel data."""

from __future__ import annotations

import hashlib
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID

from archive.dicomdict import register_newer_transfer_syntaxes
from archive.rendering import frame_count

register_newer_transfer_syntaxes()

ALWAYS_LOSSY = {
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103",
    "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105", "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.112",
}
J2K_MAYBE_LOSSY = {"1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.93",
                   "1.2.840.10008.1.2.4.203"}
JLS_NEAR_LOSSLESS = "1.2.840.10008.1.2.4.81"


@dataclass
class ImageInfo:
    facts: list[tuple[str, str]] = field(default_factory=list)
    lossy: bool | None = None
    lossy_reason: str = ""
    pixel_md5: str = ""
    notes: list[str] = field(default_factory=list)

    def add(self, label: str, value: Any) -> None:
        if value not in (None, "", []):
            self.facts.append((label, str(value)))


def j2k_is_irreversible(codestream: bytes) -> bool | None:
    """True if the COD segment names the 9-7 irreversible wavelet, False for 5-3."""
    start = codestream.find(b"\xff\x4f\xff\x51")  # SOC then SIZ (skips a JP2 wrapper)
    if start < 0:
        return None
    cod = codestream.find(b"\xff\x52", start)
    if cod < 0 or cod + 14 > len(codestream):
        return None
    # Lcod(2) Scod(1) SGcod: order(1) layers(2) MCT(1); SPcod: levels(1) xcb(1) ycb(1)
    # style(1) transform(1)
    return codestream[cod + 13] == 0


def jpeg_ls_near(stream: bytes) -> int | None:
    """The NEAR parameter of the first JPEG-LS scan (0 = lossless)."""
    position = stream.find(b"\xff\xda")
    if position < 0 or position + 5 > len(stream):
        return None
    (components,) = struct.unpack(">B", stream[position + 4:position + 5])
    near = position + 5 + 2 * components
    return stream[near] if near < len(stream) else None


def _first_frame(ds: Dataset) -> bytes:
    frames = frame_count(ds)
    return next(generate_frames(ds.PixelData, number_of_frames=frames))


def lossy_state(ds: Dataset, transfer_syntax: str) -> tuple[bool | None, str]:
    if str(ds.get("LossyImageCompression", "")).strip() == "01":
        return True, "Lossy Image Compression (0028,2110) is 01: lossy at some point"
    if transfer_syntax in ALWAYS_LOSSY:
        return True, f"the transfer syntax ({UID(transfer_syntax).name}) is lossy"
    if "PixelData" not in ds:
        return None, "no pixel data"
    if transfer_syntax in J2K_MAYBE_LOSSY:
        irreversible = j2k_is_irreversible(_first_frame(ds))
        if irreversible is None:
            return None, "the JPEG 2000 stream has no readable COD segment"
        return irreversible, ("the JPEG 2000 stream uses the 9-7 irreversible wavelet"
                              if irreversible else
                              "the JPEG 2000 stream uses the 5-3 reversible wavelet")
    if transfer_syntax == JLS_NEAR_LOSSLESS:
        near = jpeg_ls_near(_first_frame(ds))
        if near is None:
            return None, "the JPEG-LS stream has no readable scan header"
        return near > 0, f"the JPEG-LS scan has NEAR = {near}"
    return False, "the transfer syntax is lossless and no lossy compression is recorded"


def orientation_label(cosines: list[float]) -> str:
    """AXIAL / CORONAL / SAGITTAL by the image normal's main axis, else OBLIQUE."""
    if len(cosines) != 6:
        return ""
    row, column = np.array(cosines[:3], float), np.array(cosines[3:], float)
    normal = np.cross(row, column)
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) < 0.8:
        return "OBLIQUE"
    return ("SAGITTAL", "CORONAL", "AXIAL")[axis]


def _functional(ds: Dataset, sequence: str, keyword: str) -> Any:
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for item in ds.get(groups, [])[:1]:
            for inner in item.get(sequence, [])[:1]:
                if keyword in inner:
                    return inner.get(keyword)
    return None


def image_info(path: Path, with_md5: bool = True) -> ImageInfo:
    info = ImageInfo()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = dcmread(path, force=True)
        ts = str(ds.file_meta.get("TransferSyntaxUID", "")) if ds.file_meta else ""
        sop = UID(str(ds.get("SOPClassUID", "")))
        info.add("SOP Class", f"{sop.name} ({sop})" if sop else "")
        info.add("Transfer syntax", f"{UID(ts).name} ({ts})" if ts else "")
        frames = frame_count(ds)
        if "Rows" in ds:
            info.add("Dimensions", f"{ds.get('Columns')} × {ds.get('Rows')} × {frames} frame(s)")
        spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing") or _functional(
            ds, "PixelMeasuresSequence", "PixelSpacing")
        info.add("Pixel spacing (mm)", "\\".join(str(v) for v in spacing) if spacing else "")
        cosines = ds.get("ImageOrientationPatient") or _functional(
            ds, "PlaneOrientationSequence", "ImageOrientationPatient")
        if cosines:
            label = orientation_label([float(c) for c in cosines])
            joined = "\\".join(str(c) for c in cosines)
            info.add("Orientation", f"{label} ({joined})")
        slope = ds.get("RescaleSlope") or _functional(ds, "PixelValueTransformationSequence",
                                                       "RescaleSlope")
        intercept = ds.get("RescaleIntercept") or _functional(
            ds, "PixelValueTransformationSequence", "RescaleIntercept")
        if slope is not None or intercept is not None:
            info.add("Rescale", f"slope {slope if slope is not None else 1}, "
                                f"intercept {intercept if intercept is not None else 0}")
        if "BitsAllocated" in ds:
            signed = "signed" if ds.get("PixelRepresentation") == 1 else "unsigned"
            info.add("Bits", f"allocated {ds.BitsAllocated}, stored {ds.get('BitsStored')}, "
                             f"high bit {ds.get('HighBit')}, {signed}")
        info.add("Samples per pixel", ds.get("SamplesPerPixel"))
        info.add("Photometric interpretation", ds.get("PhotometricInterpretation"))
        info.add("Planar configuration", ds.get("PlanarConfiguration"))
        try:
            info.lossy, info.lossy_reason = lossy_state(ds, ts)
        except Exception as exc:
            info.lossy, info.lossy_reason = None, f"cannot tell ({type(exc).__name__}: {exc})"
        info.add("Lossy", {True: "yes", False: "no", None: "unknown"}[info.lossy]
                 + f" — {info.lossy_reason}")
        if with_md5 and "PixelData" in ds:
            info.pixel_md5 = _pixel_md5(ds, frames)
            info.add("MD5 of the decoded pixel data", info.pixel_md5)
    info.notes = list(dict.fromkeys(str(w.message) for w in caught))
    return info


def _pixel_md5(ds: Dataset, frames: int) -> str:
    samples = int(ds.get("Rows", 0)) * int(ds.get("Columns", 0)) * frames * int(
        ds.get("SamplesPerPixel", 1) or 1)
    if samples > settings.RENDER_MAX_PIXELS * 4:
        return f"(not computed: {samples} samples is over the decoding budget)"
    try:
        array = ds.pixel_array
    except Exception as exc:
        return f"(not computed: the pixel data cannot be decoded: {exc})"
    return hashlib.md5(np.ascontiguousarray(array).astype(
        array.dtype.newbyteorder("<")).tobytes()).hexdigest()
