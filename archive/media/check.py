"""Consistency of a DICOMDIR with the files it references, as dcmmkdir checks it.

Every in-use record with a Referenced File ID (0004,1500) is checked against its file: the
file ID is valid, the file is there (names matched without regard to case, ISO 9660 version
suffixes ";1" and a trailing "." when the medium's names were changed, e.g. by a mount), it
does not resolve (by links) outside the File-set's folder or the allowed roots, it is a
DICOM Part 10 file not cut short, its SOP Class/Instance and transfer syntax are those of
the record, and every key of the records on its path that the file also holds (PatientID in
PATIENT, StudyInstanceUID in STUDY, SeriesInstanceUID and Modality in SERIES, InstanceNumber
in IMAGE...) has the file's value. Only the header is read (up to the pixel data).
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from archive.media.dicomdir.fileids import check_file_id, file_id_path
from archive.media.dicomdir.model import Directory, Record

RecordPath = tuple[int, ...]
DEFER_BYTES = 1024  # larger values are skipped by a seek, not read (none is a record key)
MESSAGE_VALUE_CHARS = 64
_CHARSET_TAG = 0x00080005
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})
_UNDEFINED_LENGTH = 0xFFFFFFFF
_LONG_LENGTH_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN",
                              b"UR", b"UT", b"SV", b"UV"})


class Finding(StrEnum):
    """What is wrong between one directory record and the file it references."""

    MISSING_FILE = "missing_file"
    NOT_DICOM = "not_dicom"
    UID_MISMATCH = "uid_mismatch"
    CLASS_MISMATCH = "class_mismatch"
    SYNTAX_MISMATCH = "syntax_mismatch"
    KEY_MISMATCH = "key_mismatch"
    OUTSIDE = "outside"
    BAD_FILE_ID = "bad_file_id"
    DUPLICATE_REFERENCE = "duplicate_reference"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Finding.MISSING_FILE: "file missing",
    Finding.NOT_DICOM: "not a DICOM file",
    Finding.UID_MISMATCH: "other SOP Instance",
    Finding.CLASS_MISMATCH: "other SOP Class",
    Finding.SYNTAX_MISMATCH: "other transfer syntax",
    Finding.KEY_MISMATCH: "keys differ",
    Finding.OUTSIDE: "outside the File-set",
    Finding.BAD_FILE_ID: "invalid file ID",
    Finding.DUPLICATE_REFERENCE: "referenced twice",
}


@dataclass
class RecordFinding:
    """One finding about the record at ``path`` (numbered like dcmdir -l: (1, 1, 2) is 1.1.2.)."""

    path: RecordPath
    offset: int | None
    finding: Finding
    message: str

    @property
    def numbered(self) -> str:
        return numbered(self.path)


def numbered(path: RecordPath) -> str:
    """A record path as dcmdir -l prints it: "1.1.2."."""
    return "".join(f"{index}." for index in path)


# where the files are -------------------------------------------------------------------------
def _medium_name(name: str) -> str:
    """A name as the medium wrote it: upper case, without ISO 9660 ";1" or a trailing "."."""
    base, semicolon, version = name.rpartition(";")
    if semicolon and version.isdigit():
        name = base
    return name.rstrip(".").upper()


class _Folder:
    """The File-set's folder: finds the file of a file ID and tells whether a path is allowed."""

    def __init__(self, base: Path, roots: list[Path]) -> None:
        self.base = base
        self.allowed = [Path(os.path.realpath(p)) for p in (base, *roots)]
        self._listings: dict[Path, dict[str, str]] = {}

    def locate(self, parts: tuple[str, ...]) -> Path | None:
        """The path of a file ID: exact, or matched name by name ignoring case; None if absent."""
        exact = file_id_path(self.base, parts)
        if os.path.lexists(exact):
            return exact
        current = self.base
        for part in parts:
            name = self._listing(current).get(part.upper())
            if name is None:
                return None
            current = current / name
        return current

    def _listing(self, folder: Path) -> dict[str, str]:
        if folder not in self._listings:
            names: dict[str, str] = {}
            try:
                found = sorted(os.listdir(folder))
            except OSError:
                found = []
            for name in found:
                names.setdefault(_medium_name(name), name)
            self._listings[folder] = names
        return self._listings[folder]

    def inside(self, real: Path) -> bool:
        return any(real.is_relative_to(allowed) for allowed in self.allowed)


# reading a header ----------------------------------------------------------------------------
class NotDicom(Exception):
    """The referenced file is no readable DICOM Part 10 file (the reason in the message)."""


def _pixel_data_cut(fp: BinaryIO, size: int, ds: Dataset) -> str:
    """Why the file ends before its pixel data does ("" when it does not), from the position
    where the header read stopped; encapsulated and deflated pixel data are not measured."""
    position = fp.tell()
    if position > size:
        return f"the file ends at byte {size}, inside an attribute that goes on to {position}"
    syntax = UID(str(ds.file_meta.get("TransferSyntaxUID", "")))
    if syntax == DeflatedExplicitVRLittleEndian or not syntax.is_transfer_syntax:
        return ""
    head = fp.read(12)
    if len(head) < 4:
        return ""
    endian = "<" if syntax.is_little_endian else ">"
    group, element = struct.unpack(endian + "HH", head[:4])
    if (group << 16 | element) not in _PIXEL_TAGS:
        return ""
    if syntax.is_implicit_VR:
        header, length_bytes = 8, head[4:8]
    elif head[4:6] in _LONG_LENGTH_VRS:
        header, length_bytes = 12, head[8:12]
    else:
        header, length_bytes = 8, head[6:8]
    if len(head) < header:
        return "the file ends inside the Pixel Data element's header"
    length = int.from_bytes(length_bytes, "little" if syntax.is_little_endian else "big")
    if length == _UNDEFINED_LENGTH:
        return ""
    end = position + header + length
    if end > size:
        return f"cut short: Pixel Data ends at byte {end}, the file at {size}"
    return ""


def read_file_header(path: Path) -> Dataset:
    """The file meta and data set up to the pixel data; raises NotDicom for anything else."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fp:
            ds = dcmread(fp, stop_before_pixels=True, defer_size=DEFER_BYTES)
            cut = _pixel_data_cut(fp, size, ds)
    except Exception as exc:  # any content may come: every failure to parse is the finding
        raise NotDicom(_short(f"{type(exc).__name__}: {exc}", 200)) from exc
    if cut:
        raise NotDicom(cut)
    return ds


# comparing -----------------------------------------------------------------------------------
def _short(text: str, limit: int = MESSAGE_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one(value: Any, vr: str) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, bytes):
        return value.rstrip(b"\x00 ")
    text = str(value).strip(" \x00")
    return text.rstrip("^=") if vr == "PN" else text


def _normal(elem: DataElement) -> tuple[Any, ...]:
    value = elem.value
    values = value if isinstance(value, MultiValue | list | tuple) else [value]
    return tuple(_one(v, elem.VR) for v in values)


def _shown(elem: DataElement) -> str:
    return _short("\\".join(str(v) for v in _normal(elem)))


def _name(elem: DataElement) -> str:
    return elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"


def _differences(keys: Dataset, ds: Dataset, prefix: str = "") -> Iterator[str]:
    """Each non-empty key of a record that the file holds with a value, when they differ."""
    for elem in keys:
        tag = elem.tag
        if tag.group == 0x0004 or tag.is_private or tag == _CHARSET_TAG or elem.is_empty:
            continue
        other = ds.get(tag) if tag in ds else None
        if other is None or other.is_empty:
            continue
        name = prefix + _name(elem)
        if elem.VR == "SQ" or other.VR == "SQ":
            yield from _sequence_differences(elem, other, name)
        elif _normal(elem) != _normal(other):
            yield f"{name} {_shown(elem)!r} in the record, {_shown(other)!r} in the file"


def _sequence_differences(elem: DataElement, other: DataElement, name: str) -> Iterator[str]:
    if elem.VR != other.VR or len(elem.value) != len(other.value):
        yield f"{name} has {len(elem.value)} item(s) in the record, {len(other.value)} in the file"
        return
    for number, (mine, theirs) in enumerate(zip(elem.value, other.value, strict=True), 1):
        yield from _differences(mine, theirs, f"{name}[{number}].")


def _uid(text: str) -> str:
    return str(text).strip(" \x00")


def _uid_named(uid: str) -> str:
    name = UID(uid).name
    return f"{uid} ({name})" if name and name != uid else uid or "none"


# the check -----------------------------------------------------------------------------------
@dataclass
class _Seen:
    files: dict[tuple[int, int], RecordPath]
    instances: dict[str, RecordPath]


class _Checker:
    """Checks the records one by one, remembering which files and instances were referenced."""

    def __init__(self, folder: _Folder) -> None:
        self.folder = folder
        self.seen = _Seen({}, {})
        self.findings: list[RecordFinding] = []

    def note(self, path: RecordPath, record: Record, finding: Finding, message: str) -> None:
        self.findings.append(RecordFinding(path, record.offset, finding, message))

    def record(self, path: RecordPath, record: Record, above: list[Record]) -> None:
        parts = record.file_id or ()
        reason = check_file_id(parts)
        shown = "\\".join(parts)
        if reason is not None:
            self.note(path, record, Finding.BAD_FILE_ID, f"{shown!r}: {reason}")
            return
        instance = _uid(record.sop_instance_uid)
        if instance and instance in self.seen.instances:
            first = numbered(self.seen.instances[instance])
            self.note(path, record, Finding.DUPLICATE_REFERENCE,
                      f"SOP Instance {instance} is also referenced by record {first}")
            return
        located = self.folder.locate(parts)
        if located is None:
            self.note(path, record, Finding.MISSING_FILE, f"{shown}: no such file")
            return
        real = Path(os.path.realpath(located))
        if not self.folder.inside(real):
            self.note(path, record, Finding.OUTSIDE,
                      f"{shown} leads outside the File-set (a link to {real})")
            return
        try:
            status = real.stat()
        except OSError:
            self.note(path, record, Finding.MISSING_FILE, f"{shown}: a link to nothing")
            return
        if not stat.S_ISREG(status.st_mode):
            self.note(path, record, Finding.MISSING_FILE, f"{shown} is not a file")
            return
        identity = (status.st_dev, status.st_ino)
        if identity in self.seen.files:
            first = numbered(self.seen.files[identity])
            self.note(path, record, Finding.DUPLICATE_REFERENCE,
                      f"{shown} is also referenced by record {first}")
            return
        self.seen.files[identity] = path
        if instance:
            self.seen.instances[instance] = path
        try:
            ds = read_file_header(real)
        except NotDicom as exc:
            self.note(path, record, Finding.NOT_DICOM, f"{shown}: {exc}")
            return
        self.compare(path, record, above, ds, shown)

    def compare(self, path: RecordPath, record: Record, above: list[Record], ds: Dataset,
                shown: str) -> None:
        meta = ds.file_meta
        file_instance = _uid(ds.get("SOPInstanceUID", "") or meta.get(
            "MediaStorageSOPInstanceUID", ""))
        file_class = _uid(ds.get("SOPClassUID", "") or meta.get("MediaStorageSOPClassUID", ""))
        instance, sop_class = _uid(record.sop_instance_uid), _uid(record.sop_class_uid)
        if instance and file_instance != instance:
            self.note(path, record, Finding.UID_MISMATCH,
                      f"{shown} holds SOP Instance {file_instance or 'none'} of "
                      f"{_uid_named(file_class)}, the record references {instance}")
            return
        if sop_class and file_class != sop_class:
            self.note(path, record, Finding.CLASS_MISMATCH,
                      f"{shown} is {_uid_named(file_class)}, the record says "
                      f"{_uid_named(sop_class)}")
        syntax, file_syntax = _uid(record.transfer_syntax_uid), _uid(
            meta.get("TransferSyntaxUID", ""))
        if syntax and file_syntax != syntax:
            self.note(path, record, Finding.SYNTAX_MISMATCH,
                      f"{shown} is in {_uid_named(file_syntax)}, the record says "
                      f"{_uid_named(syntax)}")
        differences: list[str] = []
        for level, holder in enumerate([*above, record], 1):
            where = f"{holder.record_type} record {numbered(path[:level])}"
            differences.extend(f"{text} ({where})" for text in _differences(holder.keys, ds))
        if differences:
            self.note(path, record, Finding.KEY_MISMATCH, f"{shown}: " + "; ".join(differences))


def _active_records(directory: Directory) -> Iterator[tuple[RecordPath, Record, list[Record]]]:
    """In-use records with their in-use records above, depth-first; inactive subtrees left out."""
    by_path: dict[RecordPath, Record] = {}
    for path, record in directory.walk():
        by_path[path] = record
        above = [by_path.get(path[:level]) for level in range(1, len(path))]
        if not record.in_use or any(r is None or not r.in_use for r in above):
            continue
        yield path, record, [r for r in above if r is not None]


def check_files(directory: Directory, base: Path, roots: list[Path], *,
                progress: Callable[[int], None] | None = None) -> list[RecordFinding]:
    """Findings for every in-use record that references a file under ``base`` (the folder
    holding the DICOMDIR); links may lead into ``roots`` too. ``progress`` gets the number of
    referenced files checked so far, every 500."""
    checker = _Checker(_Folder(base, roots))
    checked = 0
    for path, record, above in _active_records(directory):
        if record.file_id is None:
            continue
        checker.record(path, record, above)
        checked += 1
        if progress is not None and checked % 500 == 0:
            progress(checked)
    return checker.findings
