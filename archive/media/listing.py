"""A DICOMDIR's records as the read page, the text listing and the API show them: numbered
like ``dcmdir -l`` (1., 1.1., 1.1.1.), with offsets, referenced files and what is wrong."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from archive.media.check import RecordFinding
from archive.media.dicomdir.model import Directory, Record
from archive.media.dicomdir.reader import DirectoryReading

VALUE_CHARS = 64  # a key's value shown in the tree, before "…"


@dataclass
class RecordRow:
    path: tuple[int, ...]
    record: Record
    next_offset: int  # of the next record at the same level (0: none)
    lower_offset: int  # of the first record below it (0: none)
    findings: list[RecordFinding] = field(default_factory=list)

    @property
    def number(self) -> str:
        return ".".join(str(n) for n in self.path) + "."

    @property
    def depth(self) -> int:
        return len(self.path) - 1

    @property
    def file_id(self) -> str:
        return "\\".join(self.record.file_id) if self.record.file_id else ""

    @property
    def keys_text(self) -> list[tuple[str, str]]:
        return key_values(self.record.keys)

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        return {"number": self.number, "record_type": record.record_type,
                "offset": record.offset, "next_offset": self.next_offset,
                "lower_offset": self.lower_offset, "in_use": record.in_use,
                "file_id": list(record.file_id) if record.file_id else None,
                "sop_class_uid": record.sop_class_uid,
                "sop_instance_uid": record.sop_instance_uid,
                "transfer_syntax_uid": record.transfer_syntax_uid,
                "keys": record.keys.to_json_dict(bulk_data_threshold=256,
                                                 bulk_data_element_handler=lambda e: ""),
                "findings": [{"finding": f.finding.value, "message": f.message}
                             for f in self.findings]}


def key_values(keys: Dataset) -> list[tuple[str, str]]:
    """(keyword, value) of a record's keys, values shortened; sequences by item count."""
    shown: list[tuple[str, str]] = []
    for element in keys:
        name = element.keyword or str(element.tag)
        if element.VR == "SQ":
            text = f"[{len(element.value)} item{'s' if len(element.value) != 1 else ''}]"
        elif element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
            text = f"<{len(element.value or b'')} bytes>"
        elif isinstance(element.value, MultiValue):
            text = "\\".join(str(v) for v in element.value)
        else:
            text = "" if element.value is None else str(element.value)
        shown.append((name, text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS] + "…"))
    return shown


def _offset(record: Record | None) -> int:
    return record.offset or 0 if record is not None else 0


def _rows(records: list[Record]) -> Iterator[RecordRow]:
    """Depth-first, each record before the records below it, without recursion (a deep
    chain of lower-level offsets does not overflow the stack)."""
    stack: list[tuple[list[Record], tuple[int, ...], int]] = [(records, (), 0)]
    while stack:
        siblings, prefix, index = stack.pop()
        if index >= len(siblings):
            continue
        record = siblings[index]
        number = (*prefix, index + 1)
        following = siblings[index + 1] if index + 1 < len(siblings) else None
        first = record.children[0] if record.children else None
        yield RecordRow(number, record, _offset(following), _offset(first))
        stack.append((siblings, prefix, index + 1))
        if record.children:
            stack.append((record.children, number, 0))


def record_rows(directory: Directory,
                findings: Sequence[RecordFinding] = ()) -> list[RecordRow]:
    by_path: dict[tuple[int, ...], list[RecordFinding]] = defaultdict(list)
    for finding in findings:
        by_path[finding.path].append(finding)
    rows = list(_rows(directory.roots))
    for row in rows:
        row.findings = by_path.get(row.path, [])
    return rows


def text_listing(reading: DirectoryReading, rows: list[RecordRow]) -> str:
    """The whole reading as text, like ``dcmdir -l``."""
    directory = reading.directory
    lines = [f"File-set ID: {directory.fileset_id or '(none)'}",
             f"File-set descriptor: {chr(92).join(directory.descriptor_file_id or ()) or '-'}",
             f"Consistency flag: {directory.consistency_flag}",
             f"Size: {reading.file_size} bytes", ""]
    if reading.stopped:
        lines += [f"READING STOPPED: {reading.stopped}", ""]
    for problem in reading.problems:
        lines.append(f"PROBLEM at offset {problem.offset}: {problem.message}")
    for row in rows:
        record = row.record
        lines += ["", f"{row.number} {record.record_type}"
                  f"{'' if record.in_use else ' (inactive)'} @ {record.offset}",
                  f"  next {row.next_offset}, lower {row.lower_offset}"]
        if record.file_id:
            lines.append(f"  file {row.file_id}  {record.sop_class_uid}  "
                         f"{record.sop_instance_uid}  {record.transfer_syntax_uid}")
        lines += [f"  {name}: {value}" for name, value in row.keys_text]
        lines += [f"  ! {f.finding.value}: {f.message}" for f in row.findings]
    return "\n".join(lines) + "\n"
