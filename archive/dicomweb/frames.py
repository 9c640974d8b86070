"""Frames of an instance's pixel data for WADO-RS (PS3.18 10.4.1.1.5, media types 8.7.3.5):
which representation the Accept header lets the frames go in, and their bytes.

A frame goes as it is stored when that is acceptable: a native frame as
``application/octet-stream`` (little endian), an encapsulated one in its compressed media
type (``image/jls``, ``image/jp2``…), read from the file without decoding. Otherwise it is
decoded (octet-stream asked of a compressed frame) or transcoded, lossless only, with the
transcode kind's code.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels import pack_bits, pixel_array

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode.convert import transcode_file
from archive.conversions.transcode.options import TranscodeOptions
from archive.dicomweb.accept import media_ranges
from archive.dicomweb.wado import NotAcceptable
from archive.inspect.dicomjson import swap_words
from archive.inspect.loading import load

OCTET_STREAM = "application/octet-stream"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
IMPLICIT_LE = "1.2.840.10008.1.2"
_SEEKABLE_NATIVE = {EXPLICIT_LE, IMPLICIT_LE}
_NATIVE = {IMPLICIT_LE, EXPLICIT_LE, "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}
# PS3.18 Table 8.7.3-5: the media type of each compressed syntax, its default syntax first.
SYNTAXES_OF_MEDIA: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
                   "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"),
    "image/jls": ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"),
    "image/jp2": ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"),
    "image/jpx": ("1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93"),
    "image/jphc": ("1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                   "1.2.840.10008.1.2.4.203"),
    "image/jxl": ("1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111",
                  "1.2.840.10008.1.2.4.112"),
    "image/dicom-rle": ("1.2.840.10008.1.2.5",),
}
_ALIASES = {"image/x-dicom-rle": "image/dicom-rle", "image/x-jls": "image/jls"}
MEDIA_OF_SYNTAX = {syntax: media for media, syntaxes in SYNTAXES_OF_MEDIA.items()
                   for syntax in syntaxes}
_VIDEO = {"1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.102",
          "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105",
          "1.2.840.10008.1.2.4.106", "1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108"}
_LOSSLESS_TARGETS = {str(t.uid): t for t in TargetSyntax if not t.is_lossy}


class BadFrameList(ValueError):
    """The frame list of the URL is not one: 400 with this reason."""


class How(StrEnum):
    AS_STORED = "as stored"
    DECODED = "decoded"
    TRANSCODED = "transcoded"


@dataclass(frozen=True)
class FrameRepresentation:
    media_type: str
    syntax: str
    how: How

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; transfer-syntax={self.syntax}"


def parse_frame_list(text: str, frame_count: int) -> list[int]:
    """'1,3,5' → [0, 2, 4] (PS3.18 frame numbers count from 1)."""
    numbers = []
    for piece in text.split(","):
        if not piece.strip().isdigit():
            raise BadFrameList(f"{text!r} is not a list of frame numbers like 1,2,3")
        number = int(piece)
        if not 1 <= number <= frame_count:
            raise BadFrameList(f"frame {number} does not exist: the instance has "
                               f"{frame_count} frame{'s' if frame_count != 1 else ''}")
        numbers.append(number - 1)
    return numbers


def _as_stored(stored: str) -> FrameRepresentation:
    if stored in _NATIVE:
        return FrameRepresentation(OCTET_STREAM, EXPLICIT_LE, How.AS_STORED)
    return FrameRepresentation(MEDIA_OF_SYNTAX.get(stored, OCTET_STREAM), stored, How.AS_STORED)


def _for_media(stored: str, content: str, syntax: str | None) -> FrameRepresentation | str:
    """The representation ``content`` (with ``syntax``) gives, or why it cannot."""
    if content == OCTET_STREAM:
        if syntax == "*":
            return _as_stored(stored)
        if syntax in (None, EXPLICIT_LE):
            how = How.AS_STORED if stored in _NATIVE else How.DECODED
            return FrameRepresentation(OCTET_STREAM, EXPLICIT_LE, how)
        return f"{OCTET_STREAM} with transfer-syntax={syntax}: frames as octet-stream are " \
               "uncompressed (Explicit VR Little Endian) or as stored (*)"
    syntaxes = SYNTAXES_OF_MEDIA.get(_ALIASES.get(content, content))
    if syntaxes is None:
        return f"{content}: not a frame media type"
    media = _ALIASES.get(content, content)
    if stored in syntaxes and syntax in (None, "*", stored):
        return FrameRepresentation(media, stored, How.AS_STORED)
    wanted = syntaxes[0] if syntax in (None, "*") else syntax
    if wanted not in syntaxes:
        return f"{content} with transfer-syntax={wanted}: that syntax is not a {content} one"
    if wanted not in _LOSSLESS_TARGETS:
        return f"{content} with transfer-syntax={wanted}: not a lossless syntax this server " \
               "writes"
    return FrameRepresentation(media, wanted, How.TRANSCODED)


def representation(stored: str, accept: str) -> FrameRepresentation:
    """The best representation the Accept header allows for frames stored in ``stored``;
    NotAcceptable with the reasons when there is none."""
    if stored in _VIDEO:
        raise NotAcceptable("the pixel data is a video stream, which has no separate frames; "
                            "retrieve the instance or its pixel data bulk data instead")
    ranked = sorted(enumerate(media_ranges(accept)), key=lambda pair: (-pair[1].quality,
                                                                        pair[0]))
    reasons = []
    for _, media in ranked:
        if media.quality <= 0:
            continue
        content = media.parameters.get("type", "*/*").lower() \
            if media.kind == "multipart/related" else media.kind
        if content in ("*/*", "multipart/*", "image/*", "application/*"):
            found: FrameRepresentation | str = _as_stored(stored)
        else:
            found = _for_media(stored, content, media.parameters.get("transfer-syntax"))
        if isinstance(found, FrameRepresentation):
            return found
        reasons.append(found)
    raise NotAcceptable("the frames are stored in " + stored + " and cannot be sent as "
                        "asked: " + "; ".join(reasons or [accept]))


@dataclass
class PixelSource:
    """An instance read for its frames, the pixel data left unread."""

    path: Path
    dataset: Dataset
    syntax: str

    @classmethod
    def open(cls, path: Path) -> PixelSource:
        loaded = load(path, defer_size=64 * 1024)
        ds = loaded.dataset
        if "PixelData" not in ds:
            raise NotAcceptable("the instance has no pixel data, so no frames")
        syntax = str(ds.file_meta.get("TransferSyntaxUID", IMPLICIT_LE))
        return cls(path, ds, syntax)

    @property
    def frame_count(self) -> int:
        try:
            return max(1, int(self.dataset.get("NumberOfFrames") or 1))
        except (TypeError, ValueError):
            return 1

    def _raw_pixel_element(self) -> RawDataElement | None:
        raw = self.dataset.get_item(0x7FE00010, keep_deferred=True)
        if isinstance(raw, RawDataElement) and raw.value is None:
            return raw  # deferred: read from the file, frame by frame
        return None

    def stored_frame(self, index: int) -> bytes:
        """Frame ``index`` (from 0) as stored: encapsulated bytes, or native little endian."""
        if self.syntax in _NATIVE:
            return self._native_frame(index)
        raw = self._raw_pixel_element()
        extended = None
        if "ExtendedOffsetTable" in self.dataset:
            extended = (self.dataset.ExtendedOffsetTable,
                        self.dataset.ExtendedOffsetTableLengths)
        if raw is None:
            return get_frame(self.dataset.PixelData, index, extended_offsets=extended,
                             number_of_frames=self.frame_count)
        with self.path.open("rb") as fp:
            fp.seek(raw.value_tell)
            return get_frame(fp, index, extended_offsets=extended,
                             number_of_frames=self.frame_count)

    def _native_frame(self, index: int) -> bytes:
        ds = self.dataset
        bits = int(ds.BitsAllocated)
        frame_bytes = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) \
            * bits // 8
        raw = self._raw_pixel_element()
        if self.syntax in _SEEKABLE_NATIVE and bits % 8 == 0 and raw is not None:
            with self.path.open("rb") as fp:
                fp.seek(raw.value_tell + index * frame_bytes)
                data = fp.read(frame_bytes)
            if len(data) != frame_bytes:
                raise ValueError(f"the pixel data ends inside frame {index + 1}")
            return data
        if bits % 8 == 0:  # big endian or deflated: the stored values, made little endian
            data = bytes(ds.PixelData)
            if self.syntax == EXPLICIT_BE:
                size = bits // 8 if bits > 8 else 2 if ds["PixelData"].VR == "OW" else 1
                data = swap_words(data, size) if size > 1 else data
            frame = data[index * frame_bytes:(index + 1) * frame_bytes]
            if len(frame) != frame_bytes:
                raise ValueError(f"the pixel data ends inside frame {index + 1}")
            return frame
        return self.decoded_frame(index, keep_colour=True)

    def decoded_frame(self, index: int, keep_colour: bool = False) -> bytes:
        """Frame ``index`` decoded, as uncompressed little-endian values (a compressed YBR
        frame converted to RGB, as DCMTK's decompressors do; 1-bit values packed)."""
        if self.syntax == "1.2.840.10008.1.2.1.99":  # deflated: pydicom reads the dataset
            arr: Any = self.dataset.pixel_array
            arr = arr[index] if self.frame_count > 1 else arr
        else:
            arr = pixel_array(self.path, index=index, raw=keep_colour)
        if int(self.dataset.BitsAllocated) == 1:
            return bytes(pack_bits(arr))
        return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()


def frame_bytes(path: Path, indexes: list[int], wanted: FrameRepresentation) -> Iterator[bytes]:
    """The frames, one bytes object each, in ``wanted``'s representation."""
    if wanted.how == How.TRANSCODED:
        work = Path(tempfile.mkdtemp(prefix="wado-frames-"))
        try:
            target = _LOSSLESS_TARGETS[wanted.syntax]
            done = transcode_file(path, work, TranscodeOptions(target=target))
            source = PixelSource.open(done.outputs[0].path)
            for index in indexes:
                yield source.stored_frame(index)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    source = PixelSource.open(path)
    for index in indexes:
        yield (source.stored_frame(index) if wanted.how == How.AS_STORED
               else source.decoded_frame(index))
