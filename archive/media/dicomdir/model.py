"""A DICOMDIR in memory: the File-set's identification and its tree of directory records.

Records are plain dataclasses; the DICOMDIR's byte offsets are what the reader found (or the
writer assigned), never what links the tree: ``children`` does. Walks are iterative, so a
deep tree read from a hostile file cannot overflow the stack.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

from pydicom.dataset import Dataset

from archive.media.dicomdir.elements import keyword_tag, text

RecordPath = tuple[int, ...]


class RecordType(StrEnum):
    """Directory Record Type (0004,1430): the defined terms of PS3.3 F.5 this code writes."""

    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"
    RT_DOSE = "RT DOSE"
    RT_STRUCTURE_SET = "RT STRUCTURE SET"
    RT_PLAN = "RT PLAN"
    RT_TREAT_RECORD = "RT TREAT RECORD"
    PRESENTATION = "PRESENTATION"
    WAVEFORM = "WAVEFORM"
    SR_DOCUMENT = "SR DOCUMENT"
    KEY_OBJECT_DOC = "KEY OBJECT DOC"
    SPECTROSCOPY = "SPECTROSCOPY"
    RAW_DATA = "RAW DATA"
    REGISTRATION = "REGISTRATION"
    FIDUCIAL = "FIDUCIAL"
    HANGING_PROTOCOL = "HANGING PROTOCOL"
    ENCAP_DOC = "ENCAP DOC"
    VALUE_MAP = "VALUE MAP"
    STEREOMETRIC = "STEREOMETRIC"
    PALETTE = "PALETTE"
    IMPLANT = "IMPLANT"
    IMPLANT_ASSY = "IMPLANT ASSY"
    IMPLANT_GROUP = "IMPLANT GROUP"
    MEASUREMENT = "MEASUREMENT"
    SURFACE = "SURFACE"
    SURFACE_SCAN = "SURFACE SCAN"
    TRACT = "TRACT"
    ASSESSMENT = "ASSESSMENT"
    RADIOTHERAPY = "RADIOTHERAPY"
    ANNOTATION = "ANNOTATION"
    PLAN = "PLAN"
    INVENTORY = "INVENTORY"
    PRIVATE = "PRIVATE"


UPPER_LEVELS = (RecordType.PATIENT, RecordType.STUDY, RecordType.SERIES)


@dataclass
class Record:
    """One directory record: its type, its keys (the record's other attributes) and the
    instance it references, if any."""

    record_type: str
    keys: Dataset = field(default_factory=Dataset)
    children: list[Record] = field(default_factory=list)
    file_id: tuple[str, ...] | None = None  # Referenced File ID (0004,1500)
    sop_class_uid: str = ""  # Referenced SOP Class UID in File (0004,1510)
    sop_instance_uid: str = ""  # Referenced SOP Instance UID in File (0004,1511)
    transfer_syntax_uid: str = ""  # Referenced Transfer Syntax UID in File (0004,1512)
    in_use: bool = True  # Record In-use Flag (0004,1410): 0xFFFF, or 0 when deleted
    offset: int | None = None  # of the record's item in the DICOMDIR, when read or written

    def walk(self) -> Iterator[tuple[RecordPath, Record]]:
        """This record (path ``()``) and every record below it, depth-first, parents first."""
        stack: list[tuple[RecordPath, Record]] = [((), self)]
        while stack:
            path, record = stack.pop()
            yield path, record
            for index in range(len(record.children), 0, -1):
                stack.append(((*path, index), record.children[index - 1]))

    def key(self, keyword: str) -> str:
        """A key's value as text ("" when absent or empty; values joined by a backslash)."""
        return text(self.keys, keyword_tag(keyword))


@dataclass
class Directory:
    """A File-set's DICOMDIR: identification, consistency flag and the root records."""

    fileset_id: str = ""  # (0004,1130)
    descriptor_file_id: tuple[str, ...] | None = None  # (0004,1141)
    descriptor_charset: str = ""  # (0004,1142)
    consistency_flag: int = 0  # (0004,1212): 0 = no known inconsistencies
    roots: list[Record] = field(default_factory=list)
    media_storage_sop_instance_uid: str = ""  # the DICOMDIR's own instance UID

    def walk(self) -> Iterator[tuple[RecordPath, Record]]:
        """Every record with its path numbered like ``dcmdir -l`` ((1,), (1, 1), (1, 1, 2)),
        depth-first, each before the records below it."""
        for index, root in enumerate(self.roots, 1):
            for path, record in root.walk():
                yield (index, *path), record

    def active(self) -> Directory:
        """A copy without inactive records (nor anything below one): what compacting keeps.
        Records are new objects; their keys are shared with this directory."""
        def kept(records: list[Record]) -> list[Record]:
            return [replace(r, children=[], offset=None) for r in records if r.in_use]

        copy = replace(self, roots=kept(self.roots))
        pending = list(zip(copy.roots, [r for r in self.roots if r.in_use], strict=True))
        while pending:
            new, old = pending.pop()
            new.children = kept(old.children)
            pending.extend(zip(new.children, [r for r in old.children if r.in_use],
                               strict=True))
        return copy

    def count(self, *, in_use_only: bool = True) -> dict[str, int]:
        """How many records of each type (in use, under in-use records, by default)."""
        found: Counter[str] = Counter()
        stack = [r for r in self.roots if r.in_use or not in_use_only]
        while stack:
            record = stack.pop()
            found[str(record.record_type)] += 1
            stack.extend(r for r in record.children if r.in_use or not in_use_only)
        return dict(found)

    def referenced_files(self) -> Iterator[tuple[RecordPath, Record]]:
        """The records that reference a file, in use or not."""
        return ((path, record) for path, record in self.walk() if record.file_id)
