"""The few header attributes directory records need, read without decoding the rest.

``read_header`` walks the element headers of a Part 10 file itself (tags and lengths only)
and keeps the values of the wanted tags as pydicom RawDataElements, so nothing is decoded or
validated until a record asks for it; it stops at the first tag past the last wanted one,
long before the pixel data. Explicit and Implicit VR Little Endian data sets (every
compressed syntax included) are walked this way. A file it does not handle the same way
pydicom would (no preamble, Deflated or Big Endian data sets, a UN of undefined length, an
element that runs past the end, odd file meta) is read by pydicom's ``dcmread`` instead,
which also gives the usual error for a broken file.

The raw elements are given in Explicit VR Little Endian form whatever the file's encoding:
their value bytes are the same in Implicit VR Little Endian, and the VR comes from the
dictionary there. Sequences from an Implicit VR file are decoded (their items are encoded
differently). The data set says so in its original encoding, so that pydicom writes the raw
values as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.values import convert_SQ

_CHUNK = 16384
_MAX_HEADER = 64 * 1024 * 1024  # a header larger than this is left to dcmread
UNDEFINED = 0xFFFFFFFF  # an undefined length
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_CHARSET = 0x00080005
# explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2)
LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR",
                       b"UT", b"SV", b"UV"})
_SHORT_VRS = frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS",
                        b"LO", b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL",
                        b"US"})
_MAX_NESTING = 64
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"
_DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
_TRANSFER_SYNTAX = 0x00020010
_META_TAGS = (0x00020002, 0x00020003, _TRANSFER_SYNTAX)
_HEAD = struct.Struct("<HHI")
_SHORT = struct.Struct("<HH2sH")


class NotScanned(Exception):
    """This file is left to dcmread."""


class _Bytes:
    """The file read in growing chunks from its start, as far as the walk needs."""

    def __init__(self, path: Path) -> None:
        self.fp = path.open("rb")
        self.data = self.fp.read(_CHUNK)

    def need(self, end: int) -> bytes:
        """The data, holding at least ``end`` bytes (or NotScanned at the end of the file)."""
        if end > len(self.data):
            if end > _MAX_HEADER:
                raise NotScanned
            self.data += self.fp.read(max(end - len(self.data), len(self.data)))
            if end > len(self.data):
                raise NotScanned
        return self.data

    def ends_at(self, pos: int) -> bool:
        """True when the file ends exactly at ``pos``; NotScanned when it ends inside the
        8 bytes an element header needs there."""
        try:
            self.need(pos + 8)
        except NotScanned:
            if len(self.data) == pos:
                return True
            raise
        return False

    def close(self) -> None:
        self.fp.close()


def _header(source: _Bytes, pos: int, implicit: bool) -> tuple[int, bytes, int, int]:
    """Tag, VR bytes (b"" when implicit or an item), value length, value position."""
    data = source.need(pos + 8)
    group, element, length = _HEAD.unpack_from(data, pos)
    if implicit or group == 0xFFFE:
        return group << 16 | element, b"", length, pos + 8
    vr = data[pos + 4:pos + 6]
    if vr in LONG_VRS:
        data = source.need(pos + 12)
        return group << 16 | element, vr, int.from_bytes(data[pos + 8:pos + 12], "little"), \
            pos + 12
    if vr not in _SHORT_VRS:
        raise NotScanned
    return group << 16 | element, vr, length >> 16, pos + 8


def _after_undefined(source: _Bytes, pos: int, implicit: bool) -> int:
    """The position after the delimiter closing the undefined-length sequence whose value
    starts at ``pos`` (items and nested sequences walked; each step moves on)."""
    in_item = [False]
    while in_item:
        if len(in_item) > _MAX_NESTING:
            raise NotScanned
        tag, vr, length, value = _header(source, pos, implicit)
        if (in_item[-1] and tag == ITEM_END) or (not in_item[-1] and tag == SEQUENCE_END):
            in_item.pop()
            pos = value
            continue
        if not in_item[-1] and tag != ITEM:
            raise NotScanned
        if length == UNDEFINED:
            if vr == b"UN":  # an Implicit VR sequence inside an explicit one
                raise NotScanned
            in_item.append(tag == ITEM)
            pos = value
        else:
            pos = value + length
    return pos


def _meta(source: _Bytes) -> tuple[FileMetaDataset, str, int]:
    """The file meta (the SOP class and instance and the transfer syntax, raw), the transfer
    syntax as text, and where the data set starts."""
    data = source.need(132)
    if data[128:132] != b"DICM":
        raise NotScanned
    found: dict[BaseTag, RawDataElement | DataElement] = {}
    pos, syntax = 132, ""
    while True:
        data = source.need(pos + 8)
        if data[pos:pos + 2] != b"\x02\x00":
            break
        tag, vr, length, value = _header(source, pos, False)
        if length == UNDEFINED or not vr:
            raise NotScanned
        data = source.need(value + length)
        if tag in _META_TAGS:
            if vr != b"UI":
                raise NotScanned
            found[BaseTag(tag)] = RawDataElement(BaseTag(tag), "UI", length,
                                                 data[value:value + length], value, False,
                                                 True)
            if tag == _TRANSFER_SYNTAX:
                syntax = data[value:value + length].decode("ascii").strip(" \x00")
        pos = value + length
    if len(found) != len(_META_TAGS):
        raise NotScanned
    return FileMetaDataset(found), syntax, pos


def _sequence(raw: bytes, implicit: bool, charset: bytes | None) -> Sequence:
    encodings = None
    if charset is not None:
        encodings = convert_encodings([part.decode("ascii").strip() for part in
                                       charset.split(b"\\")])
    return convert_SQ(raw, implicit, True, encodings)


def _walk(source: _Bytes, pos: int, implicit: bool, wanted: Mapping[int, str],
          last: int) -> dict[BaseTag, RawDataElement | DataElement]:
    """The wanted elements of the data set that starts at ``pos``, up to the first tag past
    ``last`` (or the pixel data, or the end of the file)."""
    found: dict[BaseTag, RawDataElement | DataElement] = {}
    charset: bytes | None = None
    sequences: list[tuple[int, bytes]] = []
    # _header's parsing, inlined: this loop runs once per element of every file
    data = source.data
    size = len(data)
    short, long_vrs, short_vrs = _SHORT.unpack_from, LONG_VRS, _SHORT_VRS
    while True:
        if pos + 12 > size:
            if pos + 8 > size and source.ends_at(pos):
                break
            try:
                data = source.need(pos + 12)
            except NotScanned:
                data = source.data  # an element of 8 header bytes may end the file
            size = len(data)
        group, element, vr, length = short(data, pos)
        tag = group << 16 | element
        if group == 0xFFFE:
            raise NotScanned  # an item or delimiter where an element belongs
        if tag > last or tag == _PIXEL_DATA:
            break
        if implicit:
            vr = b""
            length = int.from_bytes(data[pos + 4:pos + 8], "little")
            value = pos + 8
        elif vr in long_vrs:
            if pos + 12 > size:
                raise NotScanned  # the file ends inside the header
            length = int.from_bytes(data[pos + 8:pos + 12], "little")
            value = pos + 12
        elif vr in short_vrs:
            value = pos + 8
        else:
            raise NotScanned  # no VR pydicom would take as explicit
        if length == UNDEFINED:
            if vr not in (b"", b"SQ"):
                raise NotScanned
            pos = _after_undefined(source, value, implicit)
            data = source.data
            size = len(data)
            if tag in wanted:
                sequences.append((tag, data[value:pos - 8]))
            continue
        pos = value + length
        if tag in wanted:
            if pos > size:
                data = source.need(pos)
                size = len(data)
            vr_text = vr.decode("ascii") if vr else wanted[tag]
            if vr_text == "SQ":
                sequences.append((tag, data[value:pos]))
            else:
                found[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr_text, length,
                                                     data[value:pos], value, False, True)
            if tag == _CHARSET:
                charset = data[value:pos]
    for tag, raw in sequences:
        found[BaseTag(tag)] = DataElement(BaseTag(tag), "SQ", _sequence(raw, implicit,
                                                                        charset))
    return found


def character_set(ds: Dataset) -> str | list[str]:
    """The Python encodings of a data set's text, the way pydicom's writer names them (it
    writes raw values as they are only when this equals the data set's original one)."""
    elem = ds.get_item(BaseTag(_CHARSET))
    if elem is None:
        return default_encoding
    value = ds[_CHARSET].value
    return convert_encodings(value) if value else default_encoding


def as_explicit_little(ds: Dataset) -> Dataset:
    """Mark ``ds`` (raw elements in Explicit VR Little Endian form) as encoded that way."""
    ds.set_original_encoding(False, True, character_set(ds))
    return ds


def _dataset(meta: FileMetaDataset,
             elements: dict[BaseTag, RawDataElement | DataElement]) -> Dataset:
    ds = Dataset(elements)  # pydicom sorts the tags whenever it walks them
    ds.file_meta = meta
    return as_explicit_little(ds)


def scan_header(path: Path, wanted: Mapping[int, str], last: int) -> Dataset:
    """The file meta and the wanted top-level tags (each with its dictionary VR; ``last`` the
    greatest) of a Part 10 file; NotScanned when the file is one to leave to dcmread."""
    source = _Bytes(path)
    try:
        meta, syntax, pos = _meta(source)
        if not syntax or syntax == _EXPLICIT_BE or syntax in _DEFLATED:
            raise NotScanned
        elements = _walk(source, pos, syntax == _IMPLICIT_LE, wanted, last)
    except (UnicodeDecodeError, ValueError, struct.error) as exc:
        raise NotScanned from exc
    finally:
        source.close()
    return _dataset(meta, elements)


@dataclass(frozen=True)
class HeaderTags:
    """The tags a header read keeps, each with the VR it has where a file is Implicit VR."""

    vrs: dict[int, str]  # plain ints: faster to look up than pydicom's BaseTag
    last: int

    @classmethod
    def of(cls, tags: Mapping[BaseTag, str] | Mapping[int, str]) -> HeaderTags:
        vrs = {int(tag): vr for tag, vr in sorted(tags.items())}
        return cls(vrs, max(vrs, default=0))


def read_header(path: Path, tags: HeaderTags) -> Dataset:
    """The file meta and the given top-level tags of a DICOM file, without the pixel data.

    Walked by ``scan_header`` where it can; otherwise (and for every error) pydicom's
    ``dcmread`` reads it, raising its own errors for a file that is not DICOM.
    """
    try:
        return scan_header(path, tags.vrs, tags.last)
    except NotScanned:
        return dcmread(path, stop_before_pixels=True, specific_tags=list(tags.vrs))
