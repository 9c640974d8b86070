"""Query keys as an operator types them, checked against the DICOM data dictionary, turned
into a C-FIND/C-MOVE/C-GET identifier; response identifiers as DICOM JSON and flat rows.

A key is a keyword (``PatientName``) or a path into a sequence item, written the dcm4che
way (``ScheduledProcedureStepSequence/Modality``); DCMTK's ``Sequence[0].Keyword`` and
``Sequence.Keyword`` are read too.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from netjobs.operations.qr.information_models import QueryLevel, QueryModel

MAX_DEPTH = 3
MAX_VALUE_LENGTH = 1024
RESERVED = {"QueryRetrieveLevel", "SpecificCharacterSet"}
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
INTEGER_VRS = {"SL", "SS", "SV", "UL", "US", "UV"}
FLOAT_VRS = {"FD", "FL"}
_SEPARATOR = re.compile(r"(?:\[\d+\])?[./]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidKey(ValueError):
    """A query key or value the data dictionary or the VR does not allow."""


@dataclass(frozen=True)
class KeyPath:
    """A data element, possibly inside sequence items: the keywords from the top down."""

    keywords: tuple[str, ...]

    @property
    def text(self) -> str:
        return "/".join(self.keywords)

    @property
    def dcmtk(self) -> str:
        """DCMTK's ``-k`` path syntax."""
        return "".join(f"{k}[0]." for k in self.keywords[:-1]) + self.keywords[-1]

    @property
    def keyword(self) -> str:
        return self.keywords[-1]

    @property
    def vr(self) -> str:
        return vr_of(self.keyword)

    def __str__(self) -> str:
        return self.text


def vr_of(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise InvalidKey(f"{keyword!r} is not a keyword of the DICOM data dictionary")
    return dictionary_VR(tag).split(" or ")[0]


def parse_key(text: str) -> KeyPath:
    """Check a key against the data dictionary; raises InvalidKey with the reason."""
    keywords = tuple(part.strip() for part in _SEPARATOR.split(text.strip()))
    if not keywords or not all(keywords):
        raise InvalidKey(f"{text!r} is not a keyword or a Sequence/Keyword path")
    if len(keywords) > MAX_DEPTH:
        raise InvalidKey(f"{text!r} nests deeper than {MAX_DEPTH} levels")
    for position, keyword in enumerate(keywords):
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise InvalidKey(f"{keyword!r} is not a keyword of the DICOM data dictionary")
        if tag >> 16 in (0x0000, 0x0002, 0xFFFE):
            raise InvalidKey(f"{keyword} is a command, file meta or item element, not a key")
        vr = vr_of(keyword)
        if position < len(keywords) - 1 and vr != "SQ":
            raise InvalidKey(f"{keyword} is not a sequence, so {text!r} cannot go inside it")
        if vr in BINARY_VRS:
            raise InvalidKey(f"{keyword} holds binary data ({vr}); it cannot be a query key")
    if keywords[0] in RESERVED:
        raise InvalidKey(f"{keywords[0]} is set by the console (from the level and the values)")
    return KeyPath(keywords)


def check_value(path: KeyPath, value: str) -> str:
    """A matching value as typed (wildcards, ranges, lists); raises InvalidKey when the VR
    cannot hold it."""
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidKey(f"{path}: a value has at most {MAX_VALUE_LENGTH} characters")
    if _CONTROL.search(value):
        raise InvalidKey(f"{path}: control characters are not allowed in a value")
    if path.vr == "SQ" and value:
        raise InvalidKey(f"{path} is a sequence: give keys inside it, like {path}/Keyword")
    if value and path.vr in INTEGER_VRS | FLOAT_VRS | {"IS", "DS"}:
        try:
            _numbers("SL" if path.vr == "IS" else "FD" if path.vr == "DS" else path.vr, value)
        except ValueError:
            raise InvalidKey(f"{path} ({path.vr}) takes numbers, not {value!r}") from None
    return value


def _numbers(vr: str, value: str) -> list[int] | list[float]:
    parts = value.split("\\")
    if vr in INTEGER_VRS:
        return [int(part) for part in parts]
    return [float(part) for part in parts]


def parse_keys(texts: Iterable[str]) -> list[KeyPath]:
    return [parse_key(text) for text in texts]


def parse_matching(keys: Mapping[str, str]) -> dict[KeyPath, str]:
    return {(path := parse_key(text)): check_value(path, value) for text, value in keys.items()}


# Return keys asked for when an operator names none (like findscu's sample query files).
DEFAULT_RETURN_KEYS: dict[QueryLevel | None, list[str]] = {
    QueryLevel.PATIENT: ["PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                         "NumberOfPatientRelatedStudies"],
    QueryLevel.STUDY: ["StudyDate", "StudyTime", "AccessionNumber", "StudyID",
                       "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                       "NumberOfStudyRelatedInstances", "StudyInstanceUID"],
    QueryLevel.SERIES: ["Modality", "SeriesNumber", "SeriesDescription",
                        "NumberOfSeriesRelatedInstances", "SeriesInstanceUID"],
    QueryLevel.IMAGE: ["InstanceNumber", "SOPClassUID", "SOPInstanceUID"],
    None: ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber",
           "StudyInstanceUID", "RequestedProcedureID", "RequestedProcedureDescription",
           "ScheduledProcedureStepSequence/Modality",
           "ScheduledProcedureStepSequence/ScheduledStationAETitle",
           "ScheduledProcedureStepSequence/ScheduledProcedureStepStartDate",
           "ScheduledProcedureStepSequence/ScheduledProcedureStepStartTime",
           "ScheduledProcedureStepSequence/ScheduledProcedureStepID",
           "ScheduledProcedureStepSequence/ScheduledProcedureStepDescription"],
}


def default_return_keys(model: QueryModel, level: QueryLevel | None) -> list[str]:
    """The keys of the level; a Study Root study also carries its patient's (which the
    Patient Root keeps at the PATIENT level)."""
    keys = list(DEFAULT_RETURN_KEYS[level if model.has_levels else None])
    if model is QueryModel.STUDY_ROOT and level is QueryLevel.STUDY:
        return ["PatientName", "PatientID", *keys]
    return keys


def build_identifier(level: QueryLevel | None, matching: Mapping[KeyPath, str],
                     returns: Iterable[KeyPath] = ()) -> Dataset:
    """The identifier: the matching keys with their values, the return keys empty."""
    identifier = Dataset()
    values = [*matching.values()]
    if any(not value.isascii() for value in values):
        identifier.SpecificCharacterSet = "ISO_IR 192"
    if level is not None:
        identifier.QueryRetrieveLevel = level.value
    for path in returns:
        if path not in matching:
            _put(identifier, path, "")
    for path, value in matching.items():
        _put(identifier, path, value)
    return identifier


def _put(identifier: Dataset, path: KeyPath, value: str) -> None:
    target = identifier
    for keyword in path.keywords[:-1]:
        if keyword not in target or not target[keyword].value:
            setattr(target, keyword, Sequence([Dataset()]))
        target = target[keyword].value[0]
    keyword = path.keyword
    if path.vr == "SQ":
        if keyword not in target:
            setattr(target, keyword, Sequence())
        return
    converted: Any = value
    if value and path.vr in INTEGER_VRS | FLOAT_VRS:
        numbers = _numbers(path.vr, value)
        converted = numbers[0] if len(numbers) == 1 else numbers
    elif not value:
        converted = None
    with warnings.catch_warnings():  # ranges and wildcards are not valid stored values
        warnings.simplefilter("ignore")
        target.add_new(keyword, path.vr, converted)


def identifier_json(identifier: Dataset) -> dict[str, Any]:
    """DICOM JSON (PS3.18 F.2) of a response identifier; an element that does not convert
    (a malformed number…) keeps its text."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return identifier.to_json_dict(bulk_data_threshold=1 << 20)
    except Exception:
        return {f"{elem.tag:08X}": _element_json(elem) for elem in identifier}


def _element_json(elem: Any) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(elem.to_json_dict(bulk_data_element_handler=None,
                                          bulk_data_threshold=1 << 20))
    except Exception:
        return {"vr": "UN" if elem.VR in BINARY_VRS else elem.VR, "Value": [str(elem.value)]}


def _json_value_text(vr: str, value: Any) -> str:
    if vr == "PN" and isinstance(value, dict):
        groups = [value.get(g, "") for g in ("Alphabetic", "Ideographic", "Phonetic")]
        return "=".join(groups).rstrip("=")
    return "" if value is None else str(value)


def flatten(json_dataset: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """keyword path → text, values of a multi-valued element joined by ``\\`` as in DICOM,
    the items of a sequence merged the same way."""
    row: dict[str, str] = {}
    for tag, element in json_dataset.items():
        keyword = keyword_for_tag(int(tag, 16)) or f"({tag[:4]},{tag[4:]})"
        name = f"{prefix}{keyword}"
        vr = element.get("vr", "")
        if keyword in RESERVED and not prefix:
            continue
        if vr == "SQ":
            nested: dict[str, list[str]] = {}
            for item in element.get("Value", []):
                for key, text in flatten(item, f"{name}/").items():
                    nested.setdefault(key, []).append(text)
            row.update({key: "\\".join(texts) for key, texts in nested.items()})
            if not nested:
                row[name] = ""
            continue
        if "InlineBinary" in element or "BulkDataURI" in element:
            row[name] = "(binary)"
            continue
        row[name] = "\\".join(_json_value_text(vr, v) for v in element.get("Value", []))
    return row


def columns_for(requested: Iterable[str], rows: Iterable[Mapping[str, str]]) -> list[str]:
    """The requested keys first, then whatever else the peer returned, in order met."""
    columns = list(dict.fromkeys(requested))
    seen = set(columns)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(key)
    return columns
