"""A DICOMDIR file read into a Directory, up to where it breaks and with the reason.

The file's elements are walked by hand (headers and lengths only), so that a cut-off file,
an item that runs past the end or a sequence that never closes stops the reading at a known
byte with what was read so far; each record item is then decoded on its own by pydicom. The
record tree is linked by following the offsets (0004,1200), (0004,1400) and (0004,1420)
with every visited offset remembered: an offset that points at no record, a loop, or a
record no offset reaches is a problem named with its byte position, never a hang.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.uid import UID

from archive.media.dicomdir.fileids import parse_file_id
from archive.media.dicomdir.headers import ITEM, ITEM_END, LONG_VRS, SEQUENCE_END, UNDEFINED
from archive.media.dicomdir.model import Directory, Record
from archive.media.dicomdir.writer import MEDIA_STORAGE_DIRECTORY_STORAGE, RECORD_TAGS

MAX_BYTES = 512 * 1024 * 1024
MAX_NESTING = 64  # sequences inside a record, before the reading calls it broken
RECORD_SEQUENCE = 0x00041220
_SYNTAXES = {"1.2.840.10008.1.2.1": (False, True), "1.2.840.10008.1.2": (True, True),
             "1.2.840.10008.1.2.2": (False, False)}
EXPLICIT_LE = "1.2.840.10008.1.2.1"


class NotADicomdir(ValueError):
    """The file is no DICOMDIR at all (the reason in the message)."""


@dataclass(frozen=True)
class RecordProblem:
    offset: int | None  # byte position of the record item (or of the break)
    message: str


@dataclass
class DirectoryReading:
    directory: Directory
    problems: list[RecordProblem] = field(default_factory=list)
    stopped: str = ""  # why the reading ended before the end of the records ("" if it did not)
    file_size: int = 0
    items: int = 0  # record items found in the file

    @property
    def complete(self) -> bool:
        return not self.stopped and not self.problems


class _Broken(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class _Header:
    tag: int
    vr: str
    length: int
    value: int  # position of the value's first byte


class _Elements:
    """Element headers of an encoded data set in ``data``."""

    def __init__(self, data: bytes, implicit: bool, little: bool) -> None:
        self.data, self.implicit, self.little = data, implicit, little
        self.endian = "<" if little else ">"

    def header(self, pos: int) -> _Header:
        data = self.data
        if pos + 8 > len(data):
            raise _Broken(pos, f"the file ends at byte {len(data)}, inside an element header")
        group, element = struct.unpack_from(self.endian + "HH", data, pos)
        tag = group << 16 | element
        if group == 0xFFFE or self.implicit:
            (length,) = struct.unpack_from(self.endian + "I", data, pos + 4)
            vr = "" if group == 0xFFFE else _dictionary_vr(tag)
            return _Header(tag, vr, length, pos + 8)
        vr_bytes = data[pos + 4:pos + 6]
        if vr_bytes in LONG_VRS:
            if pos + 12 > len(data):
                raise _Broken(pos, f"the file ends at byte {len(data)}, inside an element header")
            (length,) = struct.unpack_from(self.endian + "I", data, pos + 8)
            return _Header(tag, vr_bytes.decode("ascii"), length, pos + 12)
        (length,) = struct.unpack_from(self.endian + "H", data, pos + 6)
        return _Header(tag, vr_bytes.decode("latin-1"), length, pos + 8)

    def after(self, header: _Header) -> int:
        """The position after an element (its whole value, nested items included)."""
        if header.length != UNDEFINED:
            end = header.value + header.length
            if end > len(self.data):
                raise _Broken(header.value, f"an element of {header.length} bytes at byte "
                              f"{header.value} runs past the end of the file")
            return end
        return self.skip_undefined(header.value, in_item=header.tag == ITEM)

    def skip_undefined(self, pos: int, *, in_item: bool) -> int:
        """The position after the delimiter closing an undefined-length sequence or item whose
        value starts at ``pos``; each step moves on at least 8 bytes, so this ends."""
        stack = [in_item]
        while stack:
            if len(stack) > MAX_NESTING:
                raise _Broken(pos, f"sequences nested more than {MAX_NESTING} deep")
            header = self.header(pos)
            if stack[-1]:
                if header.tag == ITEM_END:
                    stack.pop()
                    pos = header.value
                    continue
            elif header.tag == SEQUENCE_END:
                stack.pop()
                pos = header.value
                continue
            elif header.tag != ITEM:
                raise _Broken(pos, f"an item was expected at byte {pos}, found {_tag(header.tag)}")
            if header.length == UNDEFINED:
                stack.append(header.tag == ITEM)
                pos = header.value
            else:
                pos = self.after(header)
        return pos


def _dictionary_vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").strip(" \x00")


# the file meta ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Meta:
    end: int
    sop_class: str
    sop_instance: str
    syntax: str


def _meta(data: bytes) -> _Meta:
    if len(data) < 132 or data[128:132] != b"DICM":
        raise NotADicomdir("no DICM prefix after the 128-byte preamble: not a DICOM Part 10 "
                           "file")
    elements = _Elements(data, implicit=False, little=True)
    pos, values = 132, {}
    while pos + 4 <= len(data) and struct.unpack_from("<H", data, pos)[0] == 0x0002:
        try:
            header = elements.header(pos)
            pos = elements.after(header)
        except _Broken as exc:
            raise NotADicomdir(f"the file meta information is broken: {exc}") from None
        values[header.tag] = data[header.value:pos]
    sop_class = _text(values.get(0x00020002, b""))
    if sop_class != MEDIA_STORAGE_DIRECTORY_STORAGE:
        name = UID(sop_class).name if sop_class else "no SOP class"
        raise NotADicomdir(f"a file of {name} ({sop_class or '-'}), not a DICOMDIR (Media "
                           f"Storage Directory Storage, {MEDIA_STORAGE_DIRECTORY_STORAGE})")
    return _Meta(pos, sop_class, _text(values.get(0x00020003, b"")),
                 _text(values.get(0x00020010, b"")))


# records ----------------------------------------------------------------------------------
def _record(item: Dataset) -> Record:
    flag = item.get(0x00041410)
    file_id = item.get(0x00041500)
    keys = Dataset()
    for elem in item:
        if elem.tag not in RECORD_TAGS:
            keys.add(elem)

    def uid(tag: int) -> str:
        elem = item.get(tag)
        return "" if elem is None or elem.value is None else str(elem.value).strip(" \x00")

    return Record(
        record_type=str(item.get("DirectoryRecordType", "") or "").strip(),
        keys=keys,
        file_id=parse_file_id(file_id.value) if file_id is not None else None,
        sop_class_uid=uid(0x00041510), sop_instance_uid=uid(0x00041511),
        transfer_syntax_uid=uid(0x00041512),
        in_use=flag is None or flag.value != 0,
    )


def _offset(item: Dataset, tag: int) -> int:
    elem = item.get(tag)
    value = elem.value if elem is not None else 0
    return int(value) if isinstance(value, int) else 0


@dataclass
class _Items:
    """The record items found, by the byte position of their item tag."""

    datasets: dict[int, Dataset] = field(default_factory=dict)
    records: dict[int, Record] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes, meta: _Meta) -> None:
        self.data, self.meta = data, meta
        implicit, little = _SYNTAXES.get(meta.syntax, (False, True))
        self.implicit, self.little = implicit, little
        self.elements = _Elements(data, implicit, little)
        self.problems: list[RecordProblem] = []
        self.stopped = ""
        self.top: dict[int, bytes] = {}
        self.items = _Items()

    def problem(self, offset: int | None, message: str) -> None:
        self.problems.append(RecordProblem(offset, message))

    def read(self) -> Directory:
        if self.meta.syntax != EXPLICIT_LE:
            known = self.meta.syntax in _SYNTAXES
            self.problem(None, f"the DICOMDIR is encoded in {UID(self.meta.syntax).name or '?'}"
                         f" ({self.meta.syntax or '-'}); PS3.10 requires Explicit VR Little "
                         "Endian" + ("" if known else ": read as Explicit VR Little Endian"))
        try:
            self._top_level()
        except _Broken as exc:
            self.stopped = f"at byte {exc.offset}: {exc}"
        return self._directory()

    def _top_level(self) -> None:
        pos, data = self.meta.end, self.data
        while pos < len(data):
            header = self.elements.header(pos)
            if header.tag == RECORD_SEQUENCE:
                self._records(header)
                pos = self.elements.after(header) if header.length != UNDEFINED else len(data)
                continue
            pos = self.elements.after(header)
            if header.tag >> 16 == 0x0004:
                self.top[header.tag] = data[header.value:pos]
        if RECORD_SEQUENCE not in self.top and not self.items.datasets and not self.stopped:
            self.problem(None, "no Directory Record Sequence (0004,1220): the File-set has no "
                         "records")

    def _records(self, sequence: _Header) -> None:
        self.top[RECORD_SEQUENCE] = b""
        data, pos = self.data, sequence.value
        end = len(data) if sequence.length == UNDEFINED else sequence.value + sequence.length
        if end > len(data):
            self.problem(sequence.value, f"the Directory Record Sequence is {sequence.length} "
                         f"bytes long but the file ends {end - len(data)} bytes earlier")
            end = len(data)
        while pos < end:
            header = self.elements.header(pos)
            if header.tag == SEQUENCE_END:
                return
            if header.tag != ITEM:
                raise _Broken(pos, f"a record item (FFFE,E000) was expected, found "
                              f"{_tag(header.tag)}")
            after = self.elements.after(header)
            body_end = after - 8 if header.length == UNDEFINED else after
            self._decode(pos, data[header.value:body_end])
            pos = after
        if sequence.length == UNDEFINED:
            raise _Broken(pos, "the Directory Record Sequence is never closed (no sequence "
                          "delimiter before the end of the file)")

    def _decode(self, offset: int, body: bytes) -> None:
        try:
            item = read_dataset(BytesIO(body), self.implicit, self.little)
            record = _record(item)
        except Exception as exc:  # any bytes may come: the record is named and skipped
            self.problem(offset, f"the record item cannot be decoded: {type(exc).__name__}: "
                         f"{exc}"[:300])
            return
        if not record.record_type:
            self.problem(offset, "the record has no Directory Record Type (0004,1430)")
        record.offset = offset
        self.items.datasets[offset] = item
        self.items.records[offset] = record

    def _ul(self, tag: int) -> int:
        raw = self.top.get(tag, b"")
        return struct.unpack(("<" if self.little else ">") + "I", raw)[0] if len(raw) == 4 else 0

    def _directory(self) -> Directory:
        text = {tag: _text(raw) for tag, raw in self.top.items() if tag != RECORD_SEQUENCE}
        flag = self.top.get(0x00041212, b"")
        descriptor = text.get(0x00041141, "")
        directory = Directory(
            fileset_id=text.get(0x00041130, ""),
            descriptor_file_id=tuple(descriptor.split("\\")) if descriptor else None,
            descriptor_charset=text.get(0x00041142, ""),
            consistency_flag=struct.unpack(("<" if self.little else ">") + "H", flag)[0]
            if len(flag) == 2 else 0,
            media_storage_sop_instance_uid=self.meta.sop_instance,
        )
        directory.roots = self._link()
        return directory

    def _link(self) -> list[Record]:
        """The tree from the offsets; every offset visited once."""
        items, records = self.items.datasets, self.items.records
        roots: list[Record] = []
        first = self._ul(0x00041200)
        if not first and records:
            self.problem(None, "the offset of the first root record (0004,1200) is 0 but the "
                         "file holds records")
        visited: set[int] = set()
        chains: list[tuple[int, list[Record], str]] = [(first, roots, "the root")]
        last_root = 0
        while chains:
            offset, siblings, source = chains.pop()
            while offset:
                if offset in visited:
                    self.problem(offset, f"a loop: {source} leads back to the record at byte "
                                 f"{offset}, read already")
                    break
                if offset not in records:
                    self.problem(offset, f"{source} points at byte {offset}, where no record "
                                 "starts")
                    break
                visited.add(offset)
                record = records[offset]
                siblings.append(record)
                if siblings is roots:
                    last_root = offset
                lower = _offset(items[offset], 0x00041420)
                if lower:
                    chains.append((lower, record.children,
                                   f"the lower-level offset of the record at byte {offset}"))
                source = f"the next-record offset of the record at byte {offset}"
                offset = _offset(items[offset], 0x00041400)
        self._check_ends(visited, last_root)
        return roots

    def _check_ends(self, visited: set[int], last_root: int) -> None:
        stated = self._ul(0x00041202)
        if last_root and stated != last_root:
            self.problem(stated or None, f"the offset of the last root record (0004,1202) is "
                         f"{stated}, but the root chain ends at byte {last_root}")
        for offset, record in self.items.records.items():
            if offset not in visited:
                self.problem(offset, f"the {record.record_type or '?'} record at byte {offset} "
                             "is reached by no offset (left out of the tree)")


def read_dicomdir_bytes(data: bytes) -> DirectoryReading:
    meta = _meta(data)
    reader = _Reader(data, meta)
    directory = reader.read()
    return DirectoryReading(directory, reader.problems, reader.stopped, len(data),
                            len(reader.items.records))


def read_dicomdir(path: Path) -> DirectoryReading:
    """Read the DICOMDIR at ``path``; NotADicomdir when it is none (or far too large)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotADicomdir(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if size > MAX_BYTES:
        raise NotADicomdir(f"{size} bytes: larger than any DICOMDIR this console reads "
                           f"({MAX_BYTES} bytes)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotADicomdir(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return read_dicomdir_bytes(data)
