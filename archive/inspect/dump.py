"""A dump like dcmdump's: byte offset, tag, VR, length, value, name, nested sequences with
their items, private tags with their creator, and encapsulated pixel data fragments.

It walks the raw elements (VR, length and position as stored, before pydicom's conversion),
so every row knows where its value lies in the file and the value can be served raw.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.datadict import (
    dictionary_description,
    dictionary_keyword,
    dictionary_VR,
    private_dictionary_description,
)
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag

from archive.inspect.paths import format_path, resolve

UNDEFINED = 0xFFFFFFFF
LONG_HEADER_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
MAX_VALUE_CHARS = 120
MAX_BINARY_BYTES = 24


@dataclass
class DumpRow:
    depth: int
    kind: str  # element, item, item_end, sequence_end, fragment
    offset: int | None  # of the element (or item) header
    tag: int | None
    vr: str = ""
    vr_from_dictionary: bool = False  # implicit VR file: the dictionary's VR, marked
    length: int | None = None
    undefined_length: bool = False
    vm: int = 0
    value: str = ""
    truncated: bool = False  # value shortened for display; the full one is downloadable
    name: str = ""
    keyword: str = ""
    creator: str = ""
    path: str = ""  # element path, for the raw value download
    value_offset: int | None = None
    fragment: int | None = None

    @property
    def tag_text(self) -> str:
        return "" if self.tag is None else f"({self.tag >> 16:04X},{self.tag & 0xFFFF:04X})"

    @property
    def downloadable(self) -> bool:
        return self.value_offset is not None and bool(self.length) and not self.undefined_length


@dataclass
class Dump:
    rows: list[DumpRow]
    transfer_syntax: str
    implicit_vr: bool
    warnings: list[str] = field(default_factory=list)

    def find(self, path: str, fragment: int | None = None) -> DumpRow | None:
        for row in self.rows:
            if row.path == path and row.fragment == fragment and row.kind in {"element",
                                                                               "fragment"}:
                return row
        return None


def dump(path: Path) -> Dump:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = _value_source(path)
        implicit, little = values.original_encoding if values is not None else (None, None)
        parser = _Parser(path, values, implicit=bool(implicit), little=little is not False)
        rows = parser.run()
    transfer_syntax = ""
    if values is not None and values.file_meta:
        transfer_syntax = str(values.file_meta.get("TransferSyntaxUID", ""))
    notes = parser.notes + list(dict.fromkeys(str(w.message) for w in caught))
    return Dump(rows, transfer_syntax, bool(implicit), notes)


def _value_source(path: Path) -> Dataset | None:
    """pydicom's reading of the file, for decoded values (pixel data left on disk)."""
    try:
        return dcmread(path, force=True, defer_size=8 * 1024 * 1024)
    except Exception:
        return None


class _Parser:
    """Walks the encoded elements themselves, the way dcmdump does."""

    def __init__(self, path: Path, values: Dataset | None, implicit: bool, little: bool):
        self.path = path
        self.values = values
        self.implicit = implicit
        self.little = little
        self.size = path.stat().st_size
        self.rows: list[DumpRow] = []
        self.notes: list[str] = []

    def run(self) -> list[DumpRow]:
        with open(self.path, "rb") as fp:
            self.fp = fp
            start = self._meta()
            ts = self.values.file_meta.get("TransferSyntaxUID") if (
                self.values is not None and self.values.file_meta) else None
            if ts == "1.2.840.10008.1.2.1.99":
                self.notes.append("Deflated data set: offsets are not shown.")
                return self.rows
            self._elements(start, self.size, 0, [], self.implicit, self.little)
        return self.rows

    def _meta(self) -> int:
        self.fp.seek(128)
        if self.fp.read(4) == b"DICM":
            position = 132
        else:
            self.fp.seek(0)
            if self.fp.read(2) != b"\x02\x00":
                return 0
            position = 0
        while True:
            self.fp.seek(position)
            header = self.fp.read(8)
            if len(header) < 8 or struct.unpack("<H", header[:2])[0] != 0x0002:
                return position
            position = self._element(position, 0, [], implicit=False, little=True)

    def _elements(self, position: int, end: int | None, depth: int, prefix: list[int],
                  implicit: bool, little: bool) -> int:
        """Elements from ``position`` to ``end`` (or to an item delimiter when None)."""
        while end is None or position < end:
            self.fp.seek(position)
            header = self.fp.read(8)
            if len(header) < 8:
                if end is None or position < end:
                    self.notes.append(f"The file ends at byte {position} inside the data set.")
                return self.size
            group, element = struct.unpack(("<" if little else ">") + "HH", header[:4])
            if (group, element) == (0xFFFE, 0xE00D):  # end of an undefined-length item
                return position + 8
            if group == 0x0002 and depth == 0 and position > 0:
                position = self._element(position, depth, prefix, False, True)
                continue
            position = self._element(position, depth, prefix, implicit, little)
        return position

    def _element(self, position: int, depth: int, prefix: list[int], implicit: bool,
                 little: bool) -> int:
        order = "<" if little else ">"
        self.fp.seek(position)
        header = self.fp.read(12)
        if len(header) < 8:
            self.notes.append(f"The file ends at byte {position} inside an element header.")
            return self.size
        group, element = struct.unpack(order + "HH", header[:4])
        tag = (group << 16) | element
        if implicit:
            vr, from_dictionary = _dictionary_vr(Tag(tag)), True
            if vr == "OB or OW":
                vr = "OW"  # pixel and overlay data in implicit VR little endian (PS3.5 A.1)
            (length,) = struct.unpack(order + "L", header[4:8])
            size = 8
        else:
            vr, from_dictionary = header[4:6].decode("latin-1"), False
            if vr in LONG_HEADER_VRS:
                if len(header) < 12:
                    self.notes.append(f"The file ends inside the header of ({group:04X},"
                                      f"{element:04X}).")
                    return self.size
                (length,) = struct.unpack(order + "L", header[8:12])
                size = 12
            else:
                (length,) = struct.unpack(order + "H", header[6:8])
                size = 8
        value_offset = position + size
        path = format_path([*prefix, tag])
        row = DumpRow(depth, "element", position, tag, vr, from_dictionary,
                      None if length == UNDEFINED else length, length == UNDEFINED,
                      path=path, value_offset=value_offset)
        if Tag(tag).is_private and element >= 0x1000:
            row.creator = self._creator(prefix, group, element)
        self.rows.append(row)
        if vr == "SQ" or (vr == "UN" and length == UNDEFINED):
            # An undefined-length UN is a sequence in implicit VR little endian (PS3.5 6.2.2).
            inner = (True, True) if vr == "UN" else (implicit, little)
            return self._items(row, value_offset, length, depth, [*prefix, tag], *inner)
        if length == UNDEFINED:  # encapsulated pixel data
            _describe(row, "(encapsulated pixel data)", tag)
            return self._fragments(row, value_offset, depth)
        _describe(row, self._value(row, length, little), tag)
        return value_offset + length

    def _items(self, row: DumpRow, value_offset: int, length: int, depth: int,
               prefix: list[int], implicit: bool, little: bool) -> int:
        end = None if length == UNDEFINED else value_offset + length
        position, count = value_offset, 0
        order = "<" if little else ">"
        while end is None or position < end:
            self.fp.seek(position)
            header = self.fp.read(8)
            if len(header) < 8:
                self.notes.append(f"The file ends inside the sequence {row.tag_text}.")
                position = self.size
                break
            group, element, item_length = struct.unpack(order + "HHL", header)
            if (group, element) == (0xFFFE, 0xE0DD):
                position += 8
                break
            if (group, element) != (0xFFFE, 0xE000):
                self.notes.append(f"Unexpected ({group:04X},{element:04X}) in sequence "
                                  f"{row.tag_text} at byte {position}; the dump stops there.")
                position = self.size
                break
            item_row = DumpRow(depth + 1, "item", position, 0xFFFEE000, "na",
                               length=None if item_length == UNDEFINED else item_length,
                               undefined_length=item_length == UNDEFINED, name="Item")
            self.rows.append(item_row)
            start = len(self.rows)
            inner_end = None if item_length == UNDEFINED else position + 8 + item_length
            position = self._elements(position + 8, inner_end, depth + 2, [*prefix, count],
                                      implicit, little)
            item_row.vm = sum(1 for r in self.rows[start:] if r.depth == depth + 2)
            item_row.value = f"(Item #{count + 1}, {item_row.vm} element(s))"
            self.rows.append(DumpRow(depth + 1, "item_end", None, 0xFFFEE00D, "na",
                                     name="ItemDelimitationItem"))
            count += 1
        row.vm = count
        kind = "undefined" if length == UNDEFINED else "explicit"
        _describe(row, f"(Sequence with {kind} length #={count})", row.tag or 0)
        self.rows.append(DumpRow(depth, "sequence_end", None, 0xFFFEE0DD, "na",
                                 name="SequenceDelimitationItem"))
        return position if end is None else max(position, end)

    def _fragments(self, row: DumpRow, value_offset: int, depth: int) -> int:
        position, index = value_offset, 0
        while True:
            self.fp.seek(position)
            header = self.fp.read(8)
            if len(header) < 8:
                self.notes.append("The encapsulated pixel data has no sequence delimiter.")
                return self.size
            group, element, length = struct.unpack("<HHL", header)
            if (group, element) == (0xFFFE, 0xE0DD):
                self.rows.append(DumpRow(depth, "sequence_end", position, 0xFFFEE0DD, "na",
                                         name="SequenceDelimitationItem"))
                return position + 8
            if (group, element) != (0xFFFE, 0xE000) or length == UNDEFINED:
                self.notes.append(f"Unexpected data in the pixel data at byte {position}.")
                return self.size
            what = "Basic Offset Table" if index == 0 else f"fragment {index}"
            self.rows.append(DumpRow(depth + 1, "fragment", position, 0xFFFEE000, "pi",
                                     length=length, value=f"({what}, {length} bytes)",
                                     name=what, path=row.path, value_offset=position + 8,
                                     fragment=index))
            position += 8 + length
            index += 1

    def _value(self, row: DumpRow, length: int, little: bool) -> str:
        vr = row.vr
        if length == 0:
            return "(no value available)"
        if vr in BINARY_VRS or vr in {"UL", "US", "SL", "SS", "FL", "FD", "AT", "SV", "UV"} \
                or self.values is None or row.tag == 0x7FE00010:
            assert row.value_offset is not None
            self.fp.seek(row.value_offset)
            return _display(self.fp.read(min(length, MAX_BINARY_BYTES * 8)), vr, little,
                            total=length)
        source = self.values.file_meta if row.tag and row.tag >> 16 == 0x0002 else self.values
        try:
            element = resolve(source, row.path)
            return _format(element.value, vr)
        except Exception:
            assert row.value_offset is not None
            self.fp.seek(row.value_offset)
            return _display(self.fp.read(min(length, 4096)), vr, little, total=length)

    def _creator(self, prefix: list[int], group: int, element: int) -> str:
        creator_path = format_path([*prefix, (group << 16) | (element >> 8)])
        if self.values is None:
            return ""
        try:
            value = resolve(self.values, creator_path).value
        except Exception:
            return ""
        return value.strip() if isinstance(value, str) else str(value)


def _format(value: Any, vr: str) -> str:
    if value is None or value == "":
        return "(no value available)"
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(_format_one(v, vr) for v in value)
    return _format_one(value, vr)


def _format_one(value: Any, vr: str) -> str:
    if vr == "UI":
        name = getattr(value, "name", "")
        return f"{value} ({name})" if name and name != str(value) else str(value)
    if vr == "AT":
        return Tag(value).__str__()
    if isinstance(value, bytes):
        return _display(value, vr, True)
    return str(value)


def _display(raw: bytes, vr: str, little: bool, total: int | None = None) -> str:
    if vr in BINARY_VRS or vr not in {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT",
                                      "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}:
        if vr in {"UL", "US", "SL", "SS", "FL", "FD"} and raw:
            code = {"UL": "L", "US": "H", "SL": "l", "SS": "h", "FL": "f", "FD": "d"}[vr]
            size = struct.calcsize("<" + code)
            count = len(raw) // size
            values = struct.unpack(("<" if little else ">") + code * count, raw[: count * size])
            return "\\".join(str(v) for v in values)
        text = "\\".join(f"{b:02x}" for b in raw[:MAX_BINARY_BYTES])
        shown = len(raw[:MAX_BINARY_BYTES])
        if (total is not None and total > shown) or len(raw) > MAX_BINARY_BYTES:
            text += "\\…"
        return text or "(no value available)"
    return raw.decode("latin-1").rstrip(" \x00") or "(no value available)"


def _describe(row: DumpRow, value: str, tag: BaseTag | int) -> None:
    tag = Tag(tag)
    row.value = value
    if len(value) > MAX_VALUE_CHARS:
        row.value, row.truncated = value[:MAX_VALUE_CHARS] + "…", True
    if row.vm == 0 and value and not value.startswith("(no value"):
        row.vm = value.count("\\") + 1
    if tag.is_private:
        if tag.element < 0x1000 and tag.element >= 0x0010:
            row.name = "Private Creator"
        elif row.creator:
            try:
                row.name = private_dictionary_description(tag, row.creator)
            except KeyError:
                row.name = "Private tag (unknown to the dictionary)"
        return
    try:
        row.name, row.keyword = dictionary_description(tag), dictionary_keyword(tag)
    except KeyError:
        row.name = "Unknown tag"


def _dictionary_vr(tag: BaseTag) -> str:
    if tag.element == 0:
        return "UL"  # group length
    if tag.is_private:
        return "LO" if 0x0010 <= tag.element <= 0x00FF else "UN"
    try:
        return str(dictionary_VR(tag))  # "US or SS" where the dictionary cannot tell
    except KeyError:
        return "UN"
