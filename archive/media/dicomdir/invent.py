"""Invented values for missing Type 1 record keys, the way DCMTK dcmmkdir +I makes them.

What dcmmkdir 3.6.7 does, and so this Inventor:
- PatientID: DCMTKPAT + 6 digits (a counter from 0); an instance without PatientID joins the
  patient with the same non-empty PatientName seen before (dcmmkdir files it under that
  patient record); each instance with neither gets a new ID.
- StudyDate / StudyTime: the first of SeriesDate, AcquisitionDate, ContentDate (Time likewise);
  the current date/time when none has a value.
- StudyID: DCMTKSTUDY + 6 digits (a counter from 0).
- SeriesNumber: a counter from 0 over the whole run; IMAGE InstanceNumber: a counter from 1.
- Modality, StudyInstanceUID, SeriesInstanceUID are never invented (dcmmkdir refuses the file).
Where we go further than dcmmkdir (it refuses these files even with +I): InstanceNumber of
non-IMAGE leaf records (same counter as IMAGE), and ContentDate/ContentTime of leaf records
(InstanceCreationDate/Time, else the study's date and time).
All instances of one study share the invented study values, one series its number, one
instance its number; with an existing Directory the counters continue after its values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pydicom.dataset import Dataset

if TYPE_CHECKING:
    from archive.media.dicomdir.model import Directory

PATIENT_PREFIX = "DCMTKPAT"
STUDY_PREFIX = "DCMTKSTUDY"
_NUMBERED = re.compile(r"^(DCMTKPAT|DCMTKSTUDY)(\d{6})$")
NEVER_INVENTED = frozenset({"Modality", "StudyInstanceUID", "SeriesInstanceUID"})
_STUDY_DATE_SOURCES = ("SeriesDate", "AcquisitionDate", "ContentDate")
_STUDY_TIME_SOURCES = ("SeriesTime", "AcquisitionTime", "ContentTime")


class _RecordLike(Protocol):
    record_type: str
    keys: Dataset


def _text(ds: Dataset, keyword: str) -> str:
    elem = ds.data_element(keyword) if keyword in ds else None
    if elem is None or elem.VM == 0 or elem.value is None:
        return ""
    return str(elem.value).strip()


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


@dataclass
class Inventor:
    """Keeps invented values consistent within one build (and after an existing Directory)."""

    existing: Directory | None = None
    now: datetime = field(default_factory=datetime.now)
    _patients: int = field(default=0, init=False)
    _studies: int = field(default=0, init=False)
    _series: int = field(default=0, init=False)
    _instances: int = field(default=1, init=False)
    _id_by_name: dict[str, str] = field(default_factory=dict, init=False)
    _study_values: dict[str, dict[str, str]] = field(default_factory=dict, init=False)
    _series_numbers: dict[str, str] = field(default_factory=dict, init=False)
    _instance_numbers: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.existing is not None:
            self._learn([record for _, record in self.existing.walk()])

    def _learn(self, records: Iterable[_RecordLike]) -> None:
        """Continue counters after the existing records and reuse their study/series values."""
        for record in records:
            keys = record.keys
            if record.record_type == "PATIENT":
                pid = _text(keys, "PatientID")
                self._patients = max(self._patients, self._counter(pid, PATIENT_PREFIX) + 1)
                if pid:
                    self._id_by_name.setdefault(_text(keys, "PatientName"), pid)
            elif record.record_type == "STUDY":
                sid = _text(keys, "StudyID")
                self._studies = max(self._studies, self._counter(sid, STUDY_PREFIX) + 1)
                uid = _text(keys, "StudyInstanceUID")
                if uid:
                    self._study_values[uid] = {
                        kw: _text(keys, kw) for kw in ("StudyDate", "StudyTime", "StudyID")
                    }
            elif record.record_type == "SERIES":
                number = _int(_text(keys, "SeriesNumber") or "x")
                if number is not None:
                    self._series = max(self._series, number + 1)
                uid = _text(keys, "SeriesInstanceUID")
                if uid and _text(keys, "SeriesNumber"):
                    self._series_numbers[uid] = _text(keys, "SeriesNumber")
            else:
                number = _int(_text(keys, "InstanceNumber") or "x")
                if number is not None:
                    self._instances = max(self._instances, number + 1)

    @staticmethod
    def _counter(value: str, prefix: str) -> int:
        match = _NUMBERED.match(value)
        if match and match.group(1) == prefix:
            return int(match.group(2))
        return -1

    def note(self, ds: Dataset) -> None:
        """Remember an instance's real patient, study and series values for later instances."""
        pid = _text(ds, "PatientID")
        if pid:
            self._id_by_name.setdefault(_text(ds, "PatientName"), pid)
        study = _text(ds, "StudyInstanceUID")
        if study:
            values = self._study_values.setdefault(study, {})
            for keyword in ("StudyDate", "StudyTime", "StudyID"):
                if not values.get(keyword) and (found := _text(ds, keyword)):
                    values[keyword] = found
        series, number = _text(ds, "SeriesInstanceUID"), _text(ds, "SeriesNumber")
        if series and number:
            self._series_numbers.setdefault(series, number)

    def patient_id(self, ds: Dataset) -> str:
        """PatientID for an instance without one: its name's ID, else DCMTKPAT + counter."""
        name = _text(ds, "PatientName")
        if not name:  # dcmmkdir gives each unnamed patient its own ID
            self._patients += 1
            return f"{PATIENT_PREFIX}{self._patients - 1:06d}"
        if name not in self._id_by_name:
            self._id_by_name[name] = f"{PATIENT_PREFIX}{self._patients:06d}"
            self._patients += 1
        return self._id_by_name[name]

    def study_value(self, ds: Dataset, keyword: str) -> str:
        """StudyDate, StudyTime or StudyID for an instance's study, the same for all its files."""
        values = self._study_values.setdefault(_text(ds, "StudyInstanceUID"), {})
        if not values.get(keyword):
            values[keyword] = self._new_study_value(ds, keyword)
        return values[keyword]

    def _new_study_value(self, ds: Dataset, keyword: str) -> str:
        if keyword == "StudyID":
            value = f"{STUDY_PREFIX}{self._studies:06d}"
            self._studies += 1
            return value
        date = keyword == "StudyDate"
        for source in _STUDY_DATE_SOURCES if date else _STUDY_TIME_SOURCES:
            if found := _text(ds, source):
                return found
        return self.now.strftime("%Y%m%d" if date else "%H%M%S")

    def series_number(self, ds: Dataset) -> str:
        """SeriesNumber shared by all instances of the series."""
        uid = _text(ds, "SeriesInstanceUID")
        if uid not in self._series_numbers:
            self._series_numbers[uid] = str(self._series)
            self._series += 1
        return self._series_numbers[uid]

    def instance_number(self, ds: Dataset) -> str:
        """InstanceNumber for one instance (a counter over the whole build)."""
        uid = _text(ds, "SOPInstanceUID")
        if uid not in self._instance_numbers:
            self._instance_numbers[uid] = str(self._instances)
            self._instances += 1
        return self._instance_numbers[uid]

    def leaf_value(self, ds: Dataset, keyword: str) -> str | None:
        """A value for a missing leaf key, or None when it is not invented."""
        if keyword == "InstanceNumber":
            return self.instance_number(ds)
        if keyword in ("ContentDate", "ContentTime"):
            date = keyword == "ContentDate"
            created = _text(ds, "InstanceCreationDate" if date else "InstanceCreationTime")
            return created or self.study_value(ds, "StudyDate" if date else "StudyTime")
        return None

    def value(self, level: str, ds: Dataset, keyword: str) -> str | None:
        """An invented value for `keyword` of a record at `level`, or None if not invented."""
        if keyword in NEVER_INVENTED:
            return None
        if keyword == "PatientID":
            return self.patient_id(ds)
        if keyword in ("StudyDate", "StudyTime", "StudyID"):
            return self.study_value(ds, keyword)
        if keyword == "SeriesNumber":
            return self.series_number(ds)
        if level in ("PATIENT", "STUDY", "SERIES"):
            return None
        return self.leaf_value(ds, keyword)
