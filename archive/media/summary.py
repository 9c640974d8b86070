"""What a medium holds, from its DICOMDIR's records: counts by level and one line per study
(what the dashboard and the README show)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.media.dicomdir.model import Directory, Record, RecordType

UPPER_LEVELS = frozenset({RecordType.PATIENT, RecordType.STUDY, RecordType.SERIES})


@dataclass
class MediumContents:
    patients: int = 0
    studies: int = 0
    series: int = 0
    instances: int = 0
    study_rows: list[dict[str, Any]] = field(default_factory=list)


def _text(record: Record, keyword: str) -> str:
    value = record.keys.get(keyword)
    return "" if value is None else str(value)


def _leaves(record: Record) -> int:
    return sum(1 for _, node in record.walk()
               if node.in_use and node.file_id and node.record_type not in UPPER_LEVELS)


def summarise(directory: Directory) -> MediumContents:
    """Counts of the in-use records and a row per study (patient, date, description)."""
    found = MediumContents()
    for patient in directory.roots:
        if not patient.in_use:
            continue
        found.patients += patient.record_type == RecordType.PATIENT
        for study in patient.children:
            if not study.in_use or study.record_type != RecordType.STUDY:
                continue
            found.studies += 1
            found.series += sum(1 for s in study.children
                                if s.in_use and s.record_type == RecordType.SERIES)
            count = _leaves(study)
            found.study_rows.append({
                "patient_name": _text(patient, "PatientName"),
                "patient_id": _text(patient, "PatientID"),
                "study_date": _text(study, "StudyDate"),
                "study_description": _text(study, "StudyDescription"),
                "study_instance_uid": _text(study, "StudyInstanceUID"),
                "instances": count})
    found.instances = sum(_leaves(root) for root in directory.roots if root.in_use)
    return found
