"""Decoded pictures: PNG, BMP and TIFF read with pillow (16-bit colour PNG and TIFF, which
pillow narrows to 8 bits, with imagecodecs), JPEG decoded with imagecodecs (libjpeg-turbo:
8/12-bit, lossless, progressive) when it must be re-encoded, and raw sample files laid out by
the caller (like ``gdcmimg --size``). Each becomes a ``Picture``: its frames as arrays and the
DICOM pixel description they need."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import imagecodecs
import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from archive.conversions.outcome import ConversionFailed


class ImageFormat(StrEnum):
    """A picture file's format, told from its first bytes (never its name)."""

    JPEG = "jpeg"
    PNG = "png"
    BMP = "bmp"
    TIFF = "tiff"
    RAW = "raw"  # only when the caller says so

    @property
    def label(self) -> str:
        return self.value.upper() if self != ImageFormat.RAW else "raw samples"


BMP_HEADER_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)


def image_format(head: bytes) -> ImageFormat | None:
    """The format whose magic bytes ``head`` (the first 32 bytes or more) starts with."""
    if head.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return ImageFormat.TIFF
    if head.startswith(b"BM") and len(head) >= 18:
        reserved = head[6:10] == b"\x00\x00\x00\x00"
        if reserved and int.from_bytes(head[14:18], "little") in BMP_HEADER_SIZES:
            return ImageFormat.BMP
    return None


@dataclass
class Picture:
    """Frames (rows × columns [× 3]) of one source with their pixel description."""

    frames: list[np.ndarray]
    photometric: str  # MONOCHROME2, RGB, or PALETTE COLOR (indices into ``palette``)
    bits_stored: int
    signed: bool = False
    lossy_source_bytes: int = 0  # decoded from a lossy JPEG of this many bytes
    warnings: list[str] = field(default_factory=list)
    palette: np.ndarray | None = None  # entries × 3, 8-bit RGB

    def expanded(self) -> Picture:
        """The palette's colours in place of the indices (RGB), for classes without
        PALETTE COLOR."""
        if self.palette is None:
            return self
        frames = [np.ascontiguousarray(self.palette[frame]) for frame in self.frames]
        return Picture(frames, "RGB", 8, warnings=[*self.warnings,
                                                   "palette colours expanded to RGB"])

    @property
    def rows(self) -> int:
        return int(self.frames[0].shape[0])

    @property
    def columns(self) -> int:
        return int(self.frames[0].shape[1])

    @property
    def samples(self) -> int:
        return 3 if self.frames[0].ndim == 3 else 1

    @property
    def lossy(self) -> bool:
        return self.lossy_source_bytes > 0

    @property
    def native_bytes(self) -> int:
        return sum(frame.nbytes for frame in self.frames)

    @property
    def bits_allocated(self) -> int:
        return int(self.frames[0].dtype.itemsize * 8)

    def description(self) -> tuple[int, int, int, int, int, bool, str]:
        """What frames must share to be one multi-frame instance."""
        return (self.rows, self.columns, self.samples, self.bits_allocated, self.bits_stored,
                self.signed, self.photometric)

    def describe(self) -> str:
        sign = ", signed" if self.signed else ""
        return (f"{self.columns}×{self.rows}, {self.photometric}, {self.bits_stored} bits"
                f"{sign}")


def _from_mode(image: Image.Image, notes: list[str]) -> tuple[np.ndarray, str]:
    """One pillow frame as samples DICOM can hold, with what was changed on the way."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16), "MONOCHROME2"
    if mode == "I":
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 0xFFFF:
            raise ConversionFailed("32-bit integer samples outside 0–65535 have no Secondary "
                                   "Capture form here")
        return values.astype(np.uint16), "MONOCHROME2"
    if mode == "F":
        raise ConversionFailed("floating-point samples (a float TIFF) are not supported")
    if mode == "L":
        return np.asarray(image), "MONOCHROME2"
    if mode == "1":
        notes.append("1-bit image stored as 8-bit greyscale (0 and 255)")
        return np.asarray(image.convert("L")), "MONOCHROME2"
    if mode == "LA":
        notes.append("alpha channel dropped (DICOM has no transparency)")
        return np.asarray(image.convert("L")), "MONOCHROME2"
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        notes.append("palette colours expanded to RGB"
                     + ("; transparency dropped" if has_alpha else ""))
        return np.asarray(image.convert("RGB")), "RGB"
    if mode == "RGBA":
        notes.append("alpha channel dropped (DICOM has no transparency)")
        return np.asarray(image.convert("RGB")), "RGB"
    if mode == "RGB":
        return np.asarray(image), "RGB"
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"{mode} colours converted to RGB by pillow (approximate for {mode})")
        return np.asarray(image.convert("RGB")), "RGB"
    raise ConversionFailed(f"pillow image mode {mode} is not supported")


def _wide_colour(data: bytes, kind: ImageFormat) -> np.ndarray | None:
    """16-bit-per-sample colour, which pillow would narrow to 8 bits: decoded with
    imagecodecs instead (alpha dropped by the caller)."""
    if kind == ImageFormat.PNG and len(data) > 26 and data[24] == 16 and data[25] in (2, 6):
        return np.asarray(imagecodecs.png_decode(data))
    return None


def _frames(image: Image.Image, notes: list[str]) -> tuple[list[np.ndarray], str]:
    arrays: list[np.ndarray] = []
    photometric = ""
    for index, page in enumerate(ImageSequence.Iterator(image)):
        page_notes: list[str] = []
        array, page_photometric = _from_mode(page, page_notes)
        if index == 0:
            photometric = page_photometric
            notes.extend(page_notes)
        elif array.shape != arrays[0].shape or array.dtype != arrays[0].dtype \
                or page_photometric != photometric:
            raise ConversionFailed(f"page {index + 1} differs from page 1 in size or pixel "
                                   "description: the pages cannot be frames of one image")
        arrays.append(np.ascontiguousarray(array))
    return arrays, photometric


def decode_pillow(data: bytes, kind: ImageFormat) -> Picture:
    """A PNG, BMP or TIFF: every page (multi-page TIFF) a frame. Truncated or damaged files
    are refused."""
    notes: list[str] = []
    wide = _wide_colour(data, kind)
    try:
        if wide is not None:
            if wide.shape[-1] == 4:
                notes.append("alpha channel dropped (DICOM has no transparency)")
            return Picture([np.ascontiguousarray(wide[..., :3])], "RGB", 16, warnings=notes)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if kind == ImageFormat.TIFF:
                    _refuse_wide_tiff(image)
                if image.mode == "P" and getattr(image, "n_frames", 1) == 1:
                    return _palette_picture(image)
                frames, photometric = _frames(image, notes)
    except ConversionFailed:
        raise
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, EOFError,
            Image.DecompressionBombWarning, Image.DecompressionBombError,
            imagecodecs.PngError) as exc:
        raise ConversionFailed(f"the {kind.label} file cannot be decoded (damaged or "
                               f"truncated?): {exc}") from exc
    bits = 16 if frames[0].dtype == np.uint16 else 8
    if len(frames) > 1:
        notes.append(f"{len(frames)} pages, each a frame")
    return Picture(frames, photometric, bits, warnings=notes)


def _palette_picture(image: Image.Image) -> Picture:
    """A single-frame palette image as indices and its palette (PALETTE COLOR)."""
    indices = np.ascontiguousarray(np.asarray(image), dtype=np.uint8)
    entries = np.array(image.getpalette("RGB") or [], dtype=np.uint8).reshape(-1, 3)
    needed = int(indices.max()) + 1
    if len(entries) < needed:  # indices past the palette's end show black, as in pillow
        entries = np.vstack([entries, np.zeros((needed - len(entries), 3), np.uint8)])
    notes = ["palette transparency dropped"] if "transparency" in image.info else []
    return Picture([indices], "PALETTE COLOR", 8, warnings=notes, palette=entries)


def _refuse_wide_tiff(image: Image.Image) -> None:
    bits: Any = image.tag_v2.get(258) if hasattr(image, "tag_v2") else None
    samples = tuple(bits) if isinstance(bits, tuple | list) else ((bits,) if bits else ())
    if len(samples) >= 3 and max(samples) > 8:
        raise ConversionFailed(f"{max(samples)}-bit colour TIFF is not supported (pillow "
                               "reads it as 8 bits); save it as 16-bit PNG")


def decode_jpeg(data: bytes, lossy: bool) -> Picture:
    """A JPEG decoded to RGB or greyscale samples (to re-encode it in another syntax)."""
    try:
        array = np.asarray(imagecodecs.jpeg8_decode(data))
    except Exception as exc:  # imagecodecs raises its own error types
        raise ConversionFailed(f"the JPEG cannot be decoded: {exc}") from exc
    bits = 8 if array.dtype == np.uint8 else 16
    photometric = "RGB" if array.ndim == 3 else "MONOCHROME2"
    return Picture([np.ascontiguousarray(array)], photometric, bits,
                   lossy_source_bytes=len(data) if lossy else 0)


def decode_raw(data: bytes, columns: int, rows: int, bits_allocated: int, samples: int,
               signed: bool, big_endian: bool, offset: int) -> Picture:
    """Samples from ``offset`` on, interleaved by pixel; as many whole frames as the file
    holds, which must be all of it."""
    if bits_allocated not in (8, 16) or samples not in (1, 3):
        raise ConversionFailed("raw input needs 8 or 16 bits allocated and 1 or 3 samples "
                               "per pixel")
    if columns < 1 or rows < 1 or offset < 0:
        raise ConversionFailed("raw input needs columns and rows ≥ 1 and an offset ≥ 0")
    frame_bytes = columns * rows * samples * bits_allocated // 8
    body = len(data) - offset
    if body < frame_bytes or body % frame_bytes:
        raise ConversionFailed(
            f"the raw file holds {body} bytes after the {offset}-byte header; {columns}×{rows}"
            f" × {samples} sample(s) × {bits_allocated // 8} byte(s) is {frame_bytes} bytes "
            "a frame, which does not divide it")
    kind = "i" if signed else "u"
    dtype = np.dtype(f"{'>' if big_endian else '<'}{kind}{bits_allocated // 8}")
    values = np.frombuffer(data, dtype=dtype, offset=offset).astype(dtype.newbyteorder("="))
    shape = (rows, columns, samples) if samples == 3 else (rows, columns)
    frames = [np.ascontiguousarray(frame.reshape(shape))
              for frame in values.reshape(body // frame_bytes, -1)]
    return Picture(frames, "RGB" if samples == 3 else "MONOCHROME2", bits_allocated,
                   signed=signed)
