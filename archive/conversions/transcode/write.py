"""Spool encoded frames to a temporary file, then write the Part 10 file: the dataset
without pixel data through pydicom, the Pixel Data element by hand (encapsulated: Basic or
Extended Offset Table, one item per fragment, sequence delimiter; native: defined length)."""

from __future__ import annotations

import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from archive.conversions.transcode.source import PIXEL_DATA

ITEM = b"\xfe\xff\x00\xe0"
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
MAX_32 = 0xFFFFFFFF
OFFSET_LIMIT = MAX_32  # the last frame offset a Basic Offset Table can hold
COPY_CHUNK = 1024 * 1024


@dataclass
class Spool:
    """Encoded frames (as items) or native bytes, in a temporary file under out_dir."""

    handle: BinaryIO
    encapsulated: bool
    fragment_bytes: int | None = None
    offsets: list[int] = field(default_factory=list)  # each frame's first item, from item 1
    lengths: list[int] = field(default_factory=list)  # each frame's encoded bytes (padded)
    written: int = 0

    @classmethod
    def open(cls, out_dir: Path, encapsulated: bool, fragment_bytes: int | None) -> Spool:
        handle = tempfile.TemporaryFile(dir=out_dir, prefix=".spool-")  # noqa: SIM115
        return cls(handle, encapsulated, fragment_bytes)

    def add_frame(self, data: bytes) -> None:
        if not self.encapsulated:
            self.handle.write(data)
            self.written += len(data)
            return
        if len(data) % 2:
            data += b"\x00"
        self.offsets.append(self.written)
        self.lengths.append(len(data))
        size = self.fragment_bytes or len(data)
        for start in range(0, len(data), size):
            fragment = data[start:start + size]
            self.handle.write(ITEM + struct.pack("<I", len(fragment)))
            self.handle.write(fragment)
            self.written += 8 + len(fragment)

    @property
    def pixel_bytes(self) -> int:
        return sum(self.lengths) if self.encapsulated else self.written

    @property
    def needs_extended_offsets(self) -> bool:
        return bool(self.offsets) and self.offsets[-1] > OFFSET_LIMIT

    def close(self) -> None:
        self.handle.close()


class Sink:
    """Where the dataset's bytes go: straight to the file, or through zlib (Deflated)."""

    def __init__(self, handle: BinaryIO, deflate: bool) -> None:
        self.handle = handle
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS) if deflate else None

    def write(self, data: bytes) -> None:
        if self.compressor is not None:
            data = self.compressor.compress(data)
        if data:
            self.handle.write(data)

    def finish(self) -> None:
        if self.compressor is not None:
            tail = self.compressor.flush()
            self.handle.write(tail)
            if self.handle.tell() % 2:  # PS3.5 A.5: an odd deflated stream gets a NUL
                self.handle.write(b"\x00")


WORD_SIZES = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def swap_words(ds: Dataset) -> None:
    """OW/OF/OL/OD/OV values keep the byte order they were read in: swap them for a file
    of the other byte order (LUT data, overlays, curves; sequences included)."""
    for tag in list(ds._dict):
        elem = ds[tag]
        if elem.VR == "SQ":
            for item in elem.value:
                swap_words(item)
            continue
        size = WORD_SIZES.get(str(elem.VR))
        if size and isinstance(elem.value, bytes | bytearray) and len(elem.value) % size == 0:
            elem.value = np.frombuffer(elem.value, f"u{size}").byteswap().tobytes()


def _encoded(ds: Dataset, syntax: UID) -> bytes:
    if ds.original_encoding[1] is not None and ds.original_encoding[1] != \
            syntax.is_little_endian:
        swap_words(ds)
    buffer = DicomBytesIO()
    buffer.is_little_endian = syntax.is_little_endian
    buffer.is_implicit_VR = syntax.is_implicit_VR
    write_dataset(buffer, ds)
    return buffer.getvalue()


def _pixel_header(syntax: UID, encapsulated: bool, length: int, vr: str) -> bytes:
    if encapsulated:
        return struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, MAX_32)
    order = "<" if syntax.is_little_endian else ">"
    if syntax.is_implicit_VR:
        return struct.pack(f"{order}HHI", 0x7FE0, 0x0010, length)
    return struct.pack(f"{order}HH2sHI", 0x7FE0, 0x0010, vr.encode(), 0, length)


def basic_offset_table(spool: Spool) -> bytes:
    if spool.needs_extended_offsets or not spool.offsets:
        return ITEM + b"\x00\x00\x00\x00"
    return ITEM + struct.pack(f"<I{len(spool.offsets)}I", 4 * len(spool.offsets), *spool.offsets)


def split_at_pixel_data(ds: Dataset) -> tuple[Dataset, Dataset]:
    """The elements before and after Pixel Data (trailing padding, rare private tags), each
    read now (values deferred in the source file are loaded one element at a time)."""
    before, after = Dataset(), Dataset()
    for tag in sorted(ds._dict):
        if tag == PIXEL_DATA:
            continue
        (before if tag < PIXEL_DATA else after)._dict[tag] = ds[tag]
    for part in (before, after):
        part.set_original_encoding(*ds.original_encoding)
    return before, after


def write_part10(path: Path, meta: FileMetaDataset, ds: Dataset, spool: Spool,
                 vr: str) -> None:
    syntax = UID(str(meta.TransferSyntaxUID))
    before, after = split_at_pixel_data(ds)
    spool.handle.flush()
    spool.handle.seek(0)
    with path.open("wb") as handle:
        handle.write(b"\x00" * 128 + b"DICM")
        meta_buffer = DicomBytesIO()
        meta_buffer.is_little_endian, meta_buffer.is_implicit_VR = True, False
        write_file_meta_info(meta_buffer, meta, enforce_standard=True)
        handle.write(meta_buffer.getvalue())
        sink = Sink(handle, syntax == DeflatedExplicitVRLittleEndian)
        sink.write(_encoded(before, syntax))
        native_length = spool.written + spool.written % 2
        sink.write(_pixel_header(syntax, spool.encapsulated, native_length, vr))
        if spool.encapsulated:
            sink.write(basic_offset_table(spool))
        _copy(spool.handle, sink)
        if spool.encapsulated:
            sink.write(SEQUENCE_DELIMITER)
        elif spool.written % 2:
            sink.write(b"\x00")
        if len(after):
            sink.write(_encoded(after, syntax))
        sink.finish()


def _copy(source: BinaryIO, sink: Sink) -> None:
    if sink.compressor is None:
        shutil.copyfileobj(source, sink.handle, COPY_CHUNK)
        return
    while chunk := source.read(COPY_CHUNK):
        sink.write(chunk)
