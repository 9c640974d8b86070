"""Directory record keys for one instance: PATIENT, STUDY, SERIES and its leaf record.

The keys are those DCMTK dcmmkdir -Pgp writes (see keys.py); Referenced File/SOP attributes
and offsets are left to the caller. SpecificCharacterSet is copied into a record when the
instance has one and the record holds text whose encoding it governs (as dcmmkdir does).
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from archive.media.dicomdir import headers
from archive.media.dicomdir.elements import Element, keyword_tag, text, valued
from archive.media.dicomdir.headers import as_explicit_little
from archive.media.dicomdir.keys import (
    LEAF_KEYS,
    PATIENT_KEYS,
    SERIES_KEYS,
    STUDY_KEYS,
    KeyType,
    RecordKey,
    record_tags,
)
from archive.media.dicomdir.sopclasses import is_single_level, record_type_for

if TYPE_CHECKING:
    from archive.media.dicomdir.invent import Inventor

_CHARSET_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UC", "UT"})
_SPECIFIC_CHARACTER_SET = BaseTag(0x00080005)
_VERIFICATION_DATE_TIME = BaseTag(0x0040A030)
_PATIENT_ID, _STUDY_UID, _SERIES_UID = (keyword_tag(kw) for kw in (
    "PatientID", "StudyInstanceUID", "SeriesInstanceUID"))


class MissingRecordKeys(ValueError):
    """Type 1 record keys the instance lacks (absent or empty), every one of them."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("missing Type 1 directory record keys: " + ", ".join(missing))


_UPPER_LEVELS = (("PATIENT", PATIENT_KEYS), ("STUDY", STUDY_KEYS), ("SERIES", SERIES_KEYS))


@dataclass(frozen=True)
class InstanceRecords:
    """The record keys of one instance; upper levels are empty for single-level types.

    Without invented values the PATIENT, STUDY and SERIES keys are made from ``source`` when
    first asked for: a build asks once per patient, study and series, not once per file.
    """

    leaf_type: str
    leaf: Dataset
    fixes: tuple[str, ...] = ()
    levels: tuple[Dataset, Dataset, Dataset] | None = None  # made already (invented values)
    source: Dataset | None = field(default=None, repr=False)  # the header, when not made

    @property
    def single_level(self) -> bool:
        """True when the leaf record goes at the root (HANGING PROTOCOL, PALETTE, IMPLANT...)."""
        return is_single_level(self.leaf_type)

    @cached_property
    def _made(self) -> tuple[Dataset, Dataset, Dataset]:
        if self.levels is not None:
            return self.levels
        if self.source is None or self.single_level:
            return Dataset(), Dataset(), Dataset()
        source, unused = self.source, list[str]()
        patient, study, series = (_with_charset(_fill(level, keys, source, None, unused,
                                                      unused), source)
                                  for level, keys in _UPPER_LEVELS)
        return patient, study, series

    @property
    def patient(self) -> Dataset:
        return self._made[0]

    @property
    def study(self) -> Dataset:
        return self._made[1]

    @property
    def series(self) -> Dataset:
        return self._made[2]

    def identity(self) -> tuple[str, str, str]:
        """PatientID, StudyInstanceUID and SeriesInstanceUID of the records."""
        if self.levels is None and self.source is not None:
            ds = self.source  # the records copy these values as they are
            return (text(ds, _PATIENT_ID), text(ds, _STUDY_UID), text(ds, _SERIES_UID))
        return (text(self.patient, _PATIENT_ID), text(self.study, _STUDY_UID),
                text(self.series, _SERIES_UID))


def _copy(elem: Element) -> Element:
    """The element for a record: a raw one as it is (immutable), a decoded one anew."""
    if isinstance(elem, RawDataElement):
        return elem
    value = deepcopy(elem.value) if elem.VR == "SQ" else elem.value
    return DataElement(elem.tag, elem.VR, value)


def _empty(key: RecordKey) -> DataElement:
    return DataElement(key.tag, key.vr, Sequence() if key.vr == "SQ" else None)


def _latest_verification(ds: Dataset) -> DataElement | None:
    """VerificationDateTime of an SR record: the latest in VerifyingObserverSequence."""
    found = [
        str(item.VerificationDateTime)
        for item in ds.get("VerifyingObserverSequence", None) or []
        if valued(item, _VERIFICATION_DATE_TIME) is not None
    ]
    if not found:
        return None
    return DataElement(_VERIFICATION_DATE_TIME, "DT", max(found))


def _fill(
    level: str, keys: tuple[RecordKey, ...], ds: Dataset, inventor: Inventor | None,
    missing: list[str], fixes: list[str],
) -> Dataset:
    record: dict[BaseTag, Element] = {}
    for key in keys:
        kw = key.keyword
        if kw == "VerificationDateTime" and level == "SR DOCUMENT":
            verification = _latest_verification(ds)
            if verification is not None:
                record[key.tag] = verification
            continue
        if (elem := valued(ds, key.tag)) is not None:
            record[key.tag] = _copy(elem)
        elif key.key_type is KeyType.EMPTY_OK:
            record[key.tag] = _empty(key)
        elif key.key_type is KeyType.REQUIRED:
            invented = inventor.value(level, ds, kw) if inventor is not None else None
            if invented is None:
                missing.append(kw)
                continue
            record[key.tag] = DataElement(key.tag, key.vr, invented)
            fixes.append(f"{kw} missing: {invented} invented ({level} record)")
    return Dataset(record)


def _affected_by_charset(record: Dataset) -> bool:
    for elem in record.elements():
        if elem.VR in _CHARSET_VRS:
            return True
        if elem.VR == "SQ" and any(_affected_by_charset(item)
                                   for item in record[elem.tag].value):
            return True
    return False


def _with_charset(record: Dataset, ds: Dataset) -> Dataset:
    """The record, with the instance's SpecificCharacterSet where its text needs it; marked
    as holding Explicit VR Little Endian raw values when the header's are (so that they are
    written as they are)."""
    charset = valued(ds, _SPECIFIC_CHARACTER_SET)
    if charset is not None and _affected_by_charset(record):
        record[_SPECIFIC_CHARACTER_SET] = _copy(charset)
    if ds.original_encoding == (False, True):
        as_explicit_little(record)
    return record


def instance_records(ds: Dataset, inventor: Inventor | None) -> InstanceRecords:
    """Record keys for `ds`; strict (inventor None) raises MissingRecordKeys for Type 1 gaps.

    With an inventor, missing values are invented like dcmmkdir +I and each is listed in
    `fixes`; keys it never invents (Modality, Study/Series Instance UID...) still raise.
    Raises UnknownSopClass (a ValueError) for an instance of no known storage SOP class.
    """
    leaf_type = record_type_for(ds)
    missing: list[str] = []
    fixes: list[str] = []
    single = is_single_level(leaf_type)
    levels: tuple[Dataset, Dataset, Dataset] | None = None
    if inventor is not None:
        inventor.note(ds)
        if not single:
            patient, study, series = (_with_charset(_fill(level, keys, ds, inventor, missing,
                                                          fixes), ds)
                                      for level, keys in _UPPER_LEVELS)
            levels = (patient, study, series)
    elif not single:  # checked now, made when asked for
        missing.extend(key.keyword for _, keys in _UPPER_LEVELS for key in keys
                       if key.key_type is KeyType.REQUIRED and valued(ds, key.tag) is None)
    leaf = _fill(leaf_type, LEAF_KEYS.get(leaf_type, ()), ds, inventor, missing, fixes)
    if missing:
        raise MissingRecordKeys(missing)
    return InstanceRecords(leaf_type=leaf_type, leaf=_with_charset(leaf, ds),
                           fixes=tuple(fixes), levels=levels,
                           source=ds if levels is None and not single else None)



def _header_tags() -> dict[BaseTag, str]:
    keywords = {
        "SOPClassUID", "SOPInstanceUID", "SpecificCharacterSet", "VerifyingObserverSequence",
        "SeriesDate", "AcquisitionDate", "SeriesTime", "AcquisitionTime",
        "InstanceCreationDate", "InstanceCreationTime",
    }
    wanted = record_tags() | {keyword_tag(kw): dictionary_VR(kw) for kw in keywords}
    return dict(sorted(wanted.items()))


HEADER_TAGS = headers.HeaderTags.of(_header_tags())


def read_header(path: Path) -> Dataset:
    """Read what records need (and the file meta) without the pixel data.

    The returned dataset's file_meta holds TransferSyntaxUID and the Media Storage SOP
    Class/Instance UIDs; only the attributes in HEADER_TAGS are kept from the data set,
    mostly undecoded (see headers.py).
    """
    return headers.read_header(path, HEADER_TAGS)
