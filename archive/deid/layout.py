"""Where things are in a DICOM file's bytes, for the PHI scan: the data set as searched (a
deflated one inflated), the ranges not searched (the top-level pixel data values, the
ciphertext of an Encrypted Attributes Sequence) and where each top-level element's value
starts, so a finding can name its element."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from pydicom.dataelem import RawDataElement
from pydicom.filereader import read_dataset
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
ENCRYPTED_ATTRIBUTES = 0x04000500  # its Encrypted Content is ciphertext: not searched
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT",
                      "UV"})


@dataclass
class FileLayout:
    """A file's bytes as searched (the data set inflated for a deflated file), the ranges of
    the top-level pixel data values, and where each top-level element's value starts."""

    data: bytes
    pixels: list[tuple[int, int]]
    starts: list[tuple[int, int]]  # (offset, tag), sorted
    inflated: bool = False

    @classmethod
    def of(cls, data: bytes) -> FileLayout:
        """The layout of a Part 10 file; a file that does not parse is searched whole."""
        meta, syntax, meta_end = _file_meta(data)
        inflated = syntax == DeflatedExplicitVRLittleEndian
        if inflated:
            try:
                body = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data[meta_end:])
            except zlib.error:
                return cls(data, [], meta)
            data = data[:meta_end] + body
        implicit, little = _encoding(syntax, meta_end)
        try:
            ds = read_dataset(io.BytesIO(data[meta_end:]), implicit, little, defer_size=256)
        except Exception:  # anything pydicom raises on a broken file: search it all
            return cls(data, [], meta, inflated)
        starts = list(meta)
        pixels: list[tuple[int, int]] = []
        end, parsed = meta_end, None  # a sequence read whole has no offset: it starts at
        for tag in list(ds.keys()):  # the previous end (iterating ds would decode it all)
            raw = ds.get_item(tag, keep_deferred=True)
            if not isinstance(raw, RawDataElement) or raw.value_tell is None:
                parsed = parsed if parsed is not None else int(tag)
                continue
            if parsed is not None:
                starts.append((end, parsed))
                parsed = None
            at = meta_end + raw.value_tell
            starts.append((at, int(tag)))
            end = _value_end(data, at, raw.length, little)
            if int(tag) in PIXEL_TAGS:
                pixels.append((at, end))
        if parsed is not None:
            starts.append((end, parsed))
        starts.sort()
        for index, (at, start_tag) in enumerate(starts):  # ciphertext: random, no text
            if start_tag == ENCRYPTED_ATTRIBUTES:
                following = starts[index + 1][0] if index + 1 < len(starts) else len(data)
                pixels.append((at, following))
        return cls(data, pixels, starts, inflated)

    def describe(self, at: int) -> str:
        """``"byte N in (gggg,eeee)"``: the offset and the top-level element it falls in."""
        tag = next((t for start, t in reversed(self.starts) if start <= at), None)
        where = f"byte {at}" + (" of the inflated file" if self.inflated else "")
        return where if tag is None else f"{where} in ({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _encoding(syntax: str, meta_end: int) -> tuple[bool, bool]:
    """(implicit VR, little endian) of the data set; without file meta, implicit little
    endian; for a syntax pydicom does not know, explicit little endian (as PS3.5 requires of
    every syntax but the three native ones)."""
    if not meta_end:
        return True, True
    try:
        uid = UID(syntax)
        return bool(uid.is_implicit_VR), bool(uid.is_little_endian)
    except ValueError:
        return False, True


def _file_meta(data: bytes) -> tuple[list[tuple[int, int]], str, int]:
    """The File Meta elements' value offsets, the Transfer Syntax UID and where the data set
    begins (0 if there is no ``DICM`` preamble)."""
    if data[128:132] != b"DICM":
        return [], "", 0
    pos, starts, syntax = 132, [], ""
    while pos + 8 <= len(data):
        group, element = struct.unpack_from("<HH", data, pos)
        if group != 0x0002:
            break
        vr = data[pos + 4 : pos + 6].decode("latin-1")
        if vr in LONG_VRS:
            (length,) = struct.unpack_from("<I", data, pos + 8)
            head = 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            head = 8
        starts.append((pos + head, group << 16 | element))
        if element == 0x0010:
            syntax = data[pos + head : pos + head + length].decode("latin-1").strip("\0 ")
        pos += head + length
    return starts, syntax, pos


def _value_end(data: bytes, at: int, length: int, little: bool) -> int:
    """The end of a value starting at ``at``: ``length`` bytes on, or for an undefined
    length (encapsulated frames) after the Sequence Delimitation Item."""
    if length != 0xFFFFFFFF:
        return at + length
    fmt = "<HHI" if little else ">HHI"
    pos = at
    while pos + 8 <= len(data):
        group, element, size = struct.unpack_from(fmt, data, pos)
        if (group, element) == (0xFFFE, 0xE0DD):
            return pos + 8
        if (group, element) != (0xFFFE, 0xE000) or size == 0xFFFFFFFF:
            return pos
        pos += 8 + size
    return len(data)
