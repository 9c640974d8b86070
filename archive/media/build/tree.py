"""Merging an instance's records into a Directory's tree, the way dcmmkdir does.

A PATIENT record is found again by PatientID, a STUDY under it by StudyInstanceUID, a SERIES
under that by SeriesInstanceUID (only in-use records: a deleted one is never reused).
New records go where dcmmkdir's insertSortedUnder puts them: a SERIES before the first
sibling with a greater SeriesNumber, an IMAGE (and the other leaf types that carry an
InstanceNumber) before the first sibling with a greater InstanceNumber, every other record
(and one whose number is absent or no integer) at the end of its list. Single-level
records (HANGING PROTOCOL, PALETTE, IMPLANT...) go at the root.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.media.dicomdir.model import Directory, Record, RecordType
from archive.media.dicomdir.records import InstanceRecords

# dcmmkdir 3.6.7 (dcddirif.cc insertSortedUnder): the leaf types sorted by InstanceNumber
_BY_INSTANCE_NUMBER = frozenset({
    RecordType.IMAGE, RecordType.SR_DOCUMENT, RecordType.PRESENTATION, RecordType.WAVEFORM,
    RecordType.RT_DOSE, RecordType.RT_STRUCTURE_SET, RecordType.RT_PLAN,
    RecordType.RT_TREAT_RECORD, RecordType.KEY_OBJECT_DOC, RecordType.REGISTRATION,
    RecordType.FIDUCIAL, RecordType.RAW_DATA, RecordType.SPECTROSCOPY, RecordType.ENCAP_DOC,
    RecordType.VALUE_MAP, RecordType.SURFACE, RecordType.MEASUREMENT,
    RecordType.SURFACE_SCAN, RecordType.TRACT, RecordType.ASSESSMENT,
    RecordType.RADIOTHERAPY, "STORED PRINT",
})


def _criterion(record_type: str) -> str | None:
    if record_type == RecordType.SERIES:
        return "SeriesNumber"
    return "InstanceNumber" if record_type in _BY_INSTANCE_NUMBER else None


def _number(record: Record, keyword: str) -> int | None:
    text = record.key(keyword)
    try:
        return int(text.split("\\")[0].strip())
    except ValueError:
        return None


def insert_sorted(siblings: list[Record], record: Record,
                  numbers: dict[tuple[int, str], int | None]) -> None:
    """Put ``record`` among ``siblings`` where dcmmkdir would: before the first sibling with
    a greater number. ``numbers`` keeps each record's parsed number (by identity and
    keyword), so that a series of N images parses N numbers, not N²/2."""
    keyword = _criterion(record.record_type)
    number = _number(record, keyword) if keyword else None
    if keyword is not None and number is not None:
        numbers[(id(record), keyword)] = number
        for index, sibling in enumerate(siblings):
            key = (id(sibling), keyword)
            if key not in numbers:
                numbers[key] = _number(sibling, keyword)
            theirs = numbers[key]
            if theirs is not None and theirs > number:
                siblings.insert(index, record)
                return
    siblings.append(record)


@dataclass
class RecordTree:
    """A Directory's records, indexed to find patients, studies, series and instances."""

    directory: Directory
    _patients: dict[str, Record] = field(default_factory=dict, init=False)
    _studies: dict[tuple[int, str], Record] = field(default_factory=dict, init=False)
    _series: dict[tuple[int, str], Record] = field(default_factory=dict, init=False)
    instances: dict[str, Record] = field(default_factory=dict, init=False)
    _numbers: dict[tuple[int, str], int | None] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for root in self.directory.roots:
            if root.in_use:
                self._index(root)

    def _index(self, root: Record) -> None:
        if root.record_type == RecordType.PATIENT:
            self._patients.setdefault(root.key("PatientID"), root)
        stack = [root]
        while stack:
            record = stack.pop()
            for child in record.children:
                if not child.in_use:
                    continue
                stack.append(child)
                if child.record_type == RecordType.STUDY:
                    self._studies.setdefault((id(record), child.key("StudyInstanceUID")), child)
                elif child.record_type == RecordType.SERIES:
                    self._series.setdefault((id(record), child.key("SeriesInstanceUID")), child)
            if record.sop_instance_uid and record.file_id:
                self.instances.setdefault(record.sop_instance_uid, record)

    def has(self, sop_instance_uid: str) -> bool:
        """True when an in-use record references this instance."""
        return sop_instance_uid in self.instances

    def _child(self, index: dict[tuple[int, str], Record], parent: Record, uid: str,
               record_type: RecordType, keys: InstanceRecords) -> Record:
        found = index.get((id(parent), uid))
        if found is None:
            dataset = keys.study if record_type == RecordType.STUDY else keys.series
            found = Record(record_type=record_type, keys=dataset)
            insert_sorted(parent.children, found, self._numbers)
            index[(id(parent), uid)] = found
        return found

    def add(self, keys: InstanceRecords, leaf: Record) -> None:
        """Add an instance's leaf record, with the PATIENT/STUDY/SERIES records it needs."""
        if keys.single_level:
            self.directory.roots.append(leaf)
        else:
            patient_id, study_uid, series_uid = keys.identity()
            patient = self._patients.get(patient_id)
            if patient is None:
                patient = Record(record_type=RecordType.PATIENT, keys=keys.patient)
                self.directory.roots.append(patient)
                self._patients[patient_id] = patient
            study = self._child(self._studies, patient, study_uid, RecordType.STUDY, keys)
            series = self._child(self._series, study, series_uid, RecordType.SERIES, keys)
            insert_sorted(series.children, leaf, self._numbers)
        self.instances[leaf.sop_instance_uid] = leaf

