"""The source file of a transcode: its dataset without pixel values in memory, its layout,
and its frames decoded one at a time by pydicom's decoders."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.pixels.utils import as_pixel_options
from pydicom.tag import Tag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from archive.conversions.outcome import ConversionFailed, ConversionSkipped
from archive.conversions.syntaxes import target_for_uid

PIXEL_DATA = Tag(0x7FE0, 0x0010)
FLOAT_PIXEL_DATA = (Tag(0x7FE0, 0x0008), Tag(0x7FE0, 0x0009))
DEFER_SIZE = 64 * 1024  # values above this stay in the file until written
NON_IMAGE_MODALITIES = {"SR": "a structured report", "DOC": "an encapsulated document",
                        "KO": "a key object selection", "PR": "a presentation state"}


@dataclass(frozen=True)
class Layout:
    rows: int
    columns: int
    samples: int
    frames: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    planar: int

    @property
    def frame_samples(self) -> int:
        return self.rows * self.columns * self.samples

    @property
    def frame_bytes(self) -> int:
        """Bytes of one decoded frame at Bits Allocated (1-bit frames: whole bytes)."""
        return self.frame_samples * max(1, self.bits_allocated // 8)

    @property
    def pixel_bytes(self) -> int:
        if self.bits_allocated == 1:
            return (self.frame_samples * self.frames + 7) // 8
        return self.frame_bytes * self.frames

    def describe(self) -> str:
        sign = "signed" if self.signed else "unsigned"
        return (f"{self.photometric}, {self.samples} sample(s), {self.bits_allocated} bits "
                f"allocated / {self.bits_stored} stored, {sign}")


@dataclass
class Source:
    path: Path
    dataset: Dataset  # pixel data deferred (kept in the file) unless Deflated
    transfer_syntax: UID
    layout: Layout
    file_size: int

    @property
    def was_lossy(self) -> bool:
        syntax = target_for_uid(self.transfer_syntax)
        return (str(self.dataset.get("LossyImageCompression", "")) == "01"
                or (syntax is not None and syntax.is_lossy))

    def frames(self) -> Iterator[tuple[np.ndarray, str]]:
        """Each frame decoded, with the photometric interpretation of the decoded values."""
        decoder = get_decoder(self.transfer_syntax)
        with self._pixel_source() as (src, opts):
            frames = decoder.iter_array(src, **opts)
            for index in range(self.layout.frames):
                try:
                    frame, meta = next(frames)
                except StopIteration:
                    raise ConversionFailed(
                        f"the pixel data holds {index} of its {self.layout.frames} frames "
                        "(truncated)") from None
                except Exception as exc:  # the decoders raise many kinds
                    raise ConversionFailed(
                        f"frame {index + 1} of {self.layout.frames} cannot be decoded "
                        f"({self.transfer_syntax.name}): {_first_line(exc)}") from exc
                if not frame.dtype.isnative:
                    frame = frame.astype(frame.dtype.newbyteorder("="))
                photometric = str(meta.get("photometric_interpretation",
                                           self.layout.photometric))
                yield frame, photometric

    @contextmanager
    def _pixel_source(self) -> Iterator[tuple[Dataset | BinaryIO, dict[str, Any]]]:
        elem = self.dataset._dict[PIXEL_DATA]
        opts = as_pixel_options(self.dataset)
        if getattr(elem, "value", None) is not None or not hasattr(elem, "value_tell"):
            yield self.dataset, {}
            return
        opts["transfer_syntax_uid"] = self.transfer_syntax
        opts["pixel_keyword"] = "PixelData"
        if not self.transfer_syntax.is_implicit_VR:
            opts["pixel_vr"] = elem.VR or "OW"
        with self.path.open("rb") as handle:
            handle.seek(elem.value_tell)
            yield handle, opts


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]


def _int(ds: Dataset, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value is None or value == "":
        if default is None:
            raise ConversionFailed(f"the file has no {keyword}")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConversionFailed(f"{keyword} {value!r} is not a number") from None


def layout_of(ds: Dataset) -> Layout:
    samples = _int(ds, "SamplesPerPixel", 1)
    return Layout(
        rows=_int(ds, "Rows"), columns=_int(ds, "Columns"), samples=samples,
        frames=max(1, _int(ds, "NumberOfFrames", 1)),
        bits_allocated=_int(ds, "BitsAllocated"), bits_stored=_int(ds, "BitsStored"),
        signed=_int(ds, "PixelRepresentation", 0) == 1,
        photometric=str(ds.get("PhotometricInterpretation", "") or "").strip(),
        planar=_int(ds, "PlanarConfiguration", 0) if samples > 1 else 0)


def _refuse_without_pixels(ds: Dataset) -> None:
    if any(tag in ds._dict for tag in FLOAT_PIXEL_DATA):
        raise ConversionFailed(
            "float pixel data (Float / Double Float Pixel Data) has no compressed transfer "
            "syntax and is not transcoded; keep the file as it is")
    if PIXEL_DATA in ds._dict:
        return
    modality = str(ds.get("Modality", ""))
    what = NON_IMAGE_MODALITIES.get(modality, "not an image")
    if "EncapsulatedDocument" in ds:
        what = f"an encapsulated document ({ds.get('MIMETypeOfEncapsulatedDocument', '?')})"
    raise ConversionSkipped(f"no pixel data to transcode: {what} (SOP Class "
                            f"{ds.get('SOPClassUID', '?')})")


def _unreadable_reason(path: Path) -> str:
    """Why pydicom read no element: a header that stops before pixel data reads well when
    the pixel data is what is broken (truncated, no sequence delimiter)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = dcmread(path, stop_before_pixels=True)
    except Exception as exc:
        return f"not a readable DICOM file: {_first_line(exc)}"
    if "Rows" in header:
        return ("the pixel data is truncated or broken (the file ends inside it, before its "
                "sequence delimiter): nothing to decode")
    return "not a readable DICOM file: no element could be read"


def open_source(path: Path) -> Source:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(path, defer_size=DEFER_SIZE)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        if "DICM" in str(exc):
            raise ConversionFailed("not a DICOM Part 10 file (no File Meta Information, so "
                                   "no transfer syntax to decode it with)") from exc
        raise ConversionFailed(f"not a readable DICOM file: {_first_line(exc)}") from exc
    if not len(ds._dict):
        raise ConversionFailed(_unreadable_reason(path))
    meta = getattr(ds, "file_meta", None)
    syntax = UID(str(meta.get("TransferSyntaxUID", ""))) if meta is not None else UID("")
    if not syntax:
        raise ConversionFailed("the file has no Transfer Syntax UID in its meta header")
    _refuse_without_pixels(ds)
    if syntax == DeflatedExplicitVRLittleEndian:
        ds.PixelData  # noqa: B018 - inflated already: make the value concrete
    try:
        get_decoder(syntax)
    except NotImplementedError:
        raise ConversionFailed(f"pydicom has no decoder for {syntax.name}") from None
    source = Source(path=path, dataset=ds, transfer_syntax=syntax, layout=layout_of(ds),
                    file_size=path.stat().st_size)
    _refuse_short_native(source)
    return source


def _refuse_short_native(source: Source) -> None:
    """Native pixel data that the file or its own length cuts short (a copy stopped halfway)
    is refused here, before a same-syntax copy could pass it on."""
    if source.transfer_syntax.is_encapsulated:
        return
    elem = source.dataset._dict[PIXEL_DATA]
    length = getattr(elem, "length", None)
    start = getattr(elem, "value_tell", None)
    value = getattr(elem, "value", None)
    have = len(value) if isinstance(value, bytes | bytearray) else None
    if have is None and isinstance(length, int) and isinstance(start, int):
        have = max(0, min(length, source.file_size - start))
    needed = source.layout.pixel_bytes
    if have is not None and have < needed:
        raise ConversionFailed(f"the pixel data is truncated: {have} of the {needed} bytes "
                               f"its {source.layout.frames} frame(s) need")
