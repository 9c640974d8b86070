"""Directory record keys for one instance: PATIENT, STUDY, SERIES and its leaf record.

The keys are those DCMTK dcmmkdir -Pgp writes (see keys.py); Referenced File/SOP attributes
and offsets are left to the caller. SpecificCharacterSet is copied into a record when the
instance has one and the record holds text whose encoding it governs (as dcmmkdir does).
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import dcmread
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from archive.media.dicomdir.keys import (
    LEAF_KEYS,
    PATIENT_KEYS,
    SERIES_KEYS,
    STUDY_KEYS,
    KeyType,
    RecordKey,
    record_keywords,
)
from archive.media.dicomdir.sopclasses import is_single_level, record_type_for

if TYPE_CHECKING:
    from archive.media.dicomdir.invent import Inventor

_CHARSET_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UC", "UT"})


class MissingRecordKeys(ValueError):
    """Type 1 record keys the instance lacks (absent or empty), every one of them."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("missing Type 1 directory record keys: " + ", ".join(missing))


@dataclass(frozen=True)
class InstanceRecords:
    """The record keys of one instance; upper levels are empty for single-level types."""

    patient: Dataset
    study: Dataset
    series: Dataset
    leaf_type: str
    leaf: Dataset
    fixes: tuple[str, ...] = ()

    @property
    def single_level(self) -> bool:
        """True when the leaf record goes at the root (HANGING PROTOCOL, PALETTE, IMPLANT...)."""
        return is_single_level(self.leaf_type)


def _has_value(ds: Dataset, keyword: str) -> bool:
    elem = ds.data_element(keyword) if keyword in ds else None
    return elem is not None and elem.VM > 0 and elem.value is not None


def _copy(elem: DataElement) -> DataElement:
    value = deepcopy(elem.value) if elem.VR == "SQ" else elem.value
    return DataElement(elem.tag, elem.VR, value)


def _empty(keyword: str) -> DataElement:
    tag = Tag(tag_for_keyword(keyword) or 0)
    vr = dictionary_VR(tag)
    return DataElement(tag, vr, Sequence() if vr == "SQ" else None)


def _latest_verification(ds: Dataset) -> DataElement | None:
    """VerificationDateTime of an SR record: the latest in VerifyingObserverSequence."""
    found = [
        str(item.VerificationDateTime)
        for item in ds.get("VerifyingObserverSequence", None) or []
        if _has_value(item, "VerificationDateTime")
    ]
    if not found:
        return None
    return DataElement(Tag(0x0040A030), "DT", max(found))


def _fill(
    level: str, keys: tuple[RecordKey, ...], ds: Dataset, inventor: Inventor | None,
    missing: list[str], fixes: list[str],
) -> Dataset:
    record = Dataset()
    for key in keys:
        kw = key.keyword
        if kw == "VerificationDateTime" and level == "SR DOCUMENT":
            elem = _latest_verification(ds)
            if elem is not None:
                record.add(elem)
            continue
        if _has_value(ds, kw):
            record.add(_copy(ds[kw]))
        elif key.key_type is KeyType.EMPTY_OK:
            record.add(_empty(kw))
        elif key.key_type is KeyType.REQUIRED:
            invented = inventor.value(level, ds, kw) if inventor is not None else None
            if invented is None:
                missing.append(kw)
                continue
            record.add(DataElement(Tag(tag_for_keyword(kw) or 0), dictionary_VR(kw), invented))
            fixes.append(f"{kw} missing: {invented} invented ({level} record)")
    return record


def _affected_by_charset(record: Dataset) -> bool:
    for elem in record:
        if elem.VR in _CHARSET_VRS:
            return True
        if elem.VR == "SQ" and any(_affected_by_charset(item) for item in elem.value):
            return True
    return False


def _with_charset(record: Dataset, ds: Dataset) -> Dataset:
    if _has_value(ds, "SpecificCharacterSet") and _affected_by_charset(record):
        record.add(_copy(ds["SpecificCharacterSet"]))
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
    if inventor is not None:
        inventor.note(ds)
    levels: list[Dataset] = []
    if not is_single_level(leaf_type):
        for level, keys in (("PATIENT", PATIENT_KEYS), ("STUDY", STUDY_KEYS),
                            ("SERIES", SERIES_KEYS)):
            levels.append(_with_charset(_fill(level, keys, ds, inventor, missing, fixes), ds))
    else:
        levels = [Dataset(), Dataset(), Dataset()]
    leaf = _fill(leaf_type, LEAF_KEYS.get(leaf_type, ()), ds, inventor, missing, fixes)
    if missing:
        raise MissingRecordKeys(missing)
    return InstanceRecords(
        patient=levels[0], study=levels[1], series=levels[2], leaf_type=leaf_type,
        leaf=_with_charset(leaf, ds), fixes=tuple(fixes),
    )


def _header_tags() -> list[BaseTag]:
    keywords = record_keywords() | {
        "SOPClassUID", "SOPInstanceUID", "SpecificCharacterSet", "VerifyingObserverSequence",
        "SeriesDate", "AcquisitionDate", "SeriesTime", "AcquisitionTime",
        "InstanceCreationDate", "InstanceCreationTime",
    }
    return sorted(Tag(tag_for_keyword(kw) or 0) for kw in keywords)


HEADER_TAGS: list[BaseTag] = _header_tags()


def read_header(path: Path) -> Dataset:
    """Read what records need (and the file meta) without the pixel data.

    The returned dataset's file_meta holds TransferSyntaxUID and the Media Storage SOP
    Class/Instance UIDs; only the attributes in HEADER_TAGS are kept from the data set.
    """
    return dcmread(path, stop_before_pixels=True, specific_tags=HEADER_TAGS)
