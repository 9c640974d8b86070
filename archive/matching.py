"""Matching over the archive index (PS3.4 C.2.2.2): plain functions from matching keys to
Q filters and from a C-FIND identifier to matching identifiers; the C-FIND SCP handler and
the QIDO-RS views are thin adapters over them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from pydicom.dataset import Dataset

from archive.models import Instance, Patient, Series, Study


class QueryError(ValueError):
    """The identifier cannot be answered (unknown level, missing unique key…)."""


@dataclass(frozen=True)
class Key:
    level: str  # the level whose model holds it
    field: str  # the field on that model
    kind: str  # text, pn, uid, date, time, int, modalities, count


KEYS: dict[str, Key] = {
    "PatientName": Key("PATIENT", "patient_name", "pn"),
    "PatientID": Key("PATIENT", "patient_id", "text"),
    "IssuerOfPatientID": Key("PATIENT", "issuer_of_patient_id", "text"),
    "PatientBirthDate": Key("PATIENT", "birth_date", "date"),
    "PatientSex": Key("PATIENT", "sex", "text"),
    "StudyInstanceUID": Key("STUDY", "study_instance_uid", "uid"),
    "StudyDate": Key("STUDY", "study_date", "date"),
    "StudyTime": Key("STUDY", "study_time", "time"),
    "AccessionNumber": Key("STUDY", "accession_number", "text"),
    "StudyID": Key("STUDY", "study_id", "text"),
    "StudyDescription": Key("STUDY", "study_description", "text"),
    "ReferringPhysicianName": Key("STUDY", "referring_physician_name", "pn"),
    "ModalitiesInStudy": Key("STUDY", "modalities_in_study", "modalities"),
    "NumberOfStudyRelatedSeries": Key("STUDY", "number_of_series", "count"),
    "NumberOfStudyRelatedInstances": Key("STUDY", "number_of_instances", "count"),
    "SeriesInstanceUID": Key("SERIES", "series_instance_uid", "uid"),
    "Modality": Key("SERIES", "modality", "text"),
    "SeriesNumber": Key("SERIES", "series_number", "int"),
    "SeriesDescription": Key("SERIES", "series_description", "text"),
    "BodyPartExamined": Key("SERIES", "body_part_examined", "text"),
    "NumberOfSeriesRelatedInstances": Key("SERIES", "number_of_instances", "count"),
    "SOPInstanceUID": Key("IMAGE", "sop_instance_uid", "uid"),
    "SOPClassUID": Key("IMAGE", "sop_class_uid", "uid"),
    "InstanceNumber": Key("IMAGE", "instance_number", "int"),
    "Rows": Key("IMAGE", "rows", "int"),
    "Columns": Key("IMAGE", "columns", "int"),
    "NumberOfFrames": Key("IMAGE", "number_of_frames", "int"),
}
ORDER = ["PATIENT", "STUDY", "SERIES", "IMAGE"]
MODELS: dict[str, Any] = {"PATIENT": Patient, "STUDY": Study, "SERIES": Series,
                          "IMAGE": Instance}
# From the model of a query level up to the model of a (higher or equal) level.
UP = {"PATIENT": "patient__", "STUDY": "study__", "SERIES": "series__"}


def relative_field(key: Key, level: str) -> str:
    """The field path of ``key`` seen from the model of ``level``."""
    path = ""
    for current in reversed(ORDER[ORDER.index(key.level) + 1: ORDER.index(level) + 1]):
        path += UP[ORDER[ORDER.index(current) - 1]]
    return path + key.field


MAX_WILDCARDS = 16


def _wildcard_regex(value: str) -> str:
    """``*``/``?`` to an anchored regex; runs of ``*`` collapse (no catastrophic
    backtracking) and the number of wildcards is bounded."""
    value = re.sub(r"\*+", "*", value)
    if sum(value.count(c) for c in "*?") > MAX_WILDCARDS:
        raise QueryError(f"at most {MAX_WILDCARDS} wildcards in a matching key")
    return "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                         for c in value) + "$"


def _parse_da(text: str) -> dt.date:
    return dt.datetime.strptime(text.strip(), "%Y%m%d").date()


def _parse_tm(text: str) -> dt.time:
    digits = text.strip().split(".")[0].replace(":", "")
    return dt.time(int(digits[:2] or 0), int(digits[2:4] or 0), int(digits[4:6] or 0))


def _range(field: str, value: str, parse: Any) -> Q:
    low, dash, high = value.partition("-")
    if not dash:
        return Q(**{field: parse(low)})
    condition = Q()
    if low.strip():
        condition &= Q(**{f"{field}__gte": parse(low)})
    if high.strip():
        condition &= Q(**{f"{field}__lte": parse(high)})
    return condition


def condition(keyword: str, value: str, level: str) -> Q:
    """The filter one matching key adds (empty value: universal matching, no filter)."""
    key = KEYS[keyword]
    field = relative_field(key, level)
    value = value.strip()
    if not value or value == "*":
        return Q()
    try:
        if key.kind == "uid":
            return Q(**{f"{field}__in": [v.strip() for v in value.split("\\") if v.strip()]})
        if key.kind == "date":
            return _range(field, value, _parse_da)
        if key.kind == "time":
            return _range(field, value, _parse_tm)
        if key.kind in {"int", "count"}:
            return Q(**{field: int(value)})
    except ValueError as exc:
        raise QueryError(f"{keyword}: {value!r} cannot be matched ({exc})") from exc
    if key.kind == "modalities":
        codes = [v for v in value.split("\\") if v]
        found = Q()
        for code in codes:
            found |= (Q(**{field: code}) | Q(**{f"{field}__startswith": code + "\\"})
                      | Q(**{f"{field}__endswith": "\\" + code})
                      | Q(**{f"{field}__contains": "\\" + code + "\\"}))
        return found
    if key.kind == "pn":  # person names: case-insensitive
        if "*" in value or "?" in value:
            return Q(**{f"{field}__iregex": _wildcard_regex(value)})
        return Q(**{f"{field}__iexact": value})
    if "*" in value or "?" in value:
        return Q(**{f"{field}__regex": _wildcard_regex(value)})
    return Q(**{field: value})


def format_value(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "date":
        return value.strftime("%Y%m%d")
    if kind == "time":
        return value.strftime("%H%M%S")
    return value


def find(identifier: Dataset, root: str = "STUDY") -> Iterator[Dataset]:
    """Matches for a C-FIND identifier, ``root`` being PATIENT or STUDY. Queries are
    answered relationally: the unique keys of higher levels narrow the search when given,
    and are not required."""
    level = str(identifier.get("QueryRetrieveLevel", "")).strip().upper()
    if level not in MODELS or (root == "STUDY" and level == "PATIENT"):
        raise QueryError(f"Query/Retrieve Level {level!r} is not valid for the {root} root")
    reachable = ORDER[: ORDER.index(level) + 1]
    queryset: QuerySet[Any] = MODELS[level].objects.all()
    asked = [element.keyword for element in identifier
             if element.keyword in KEYS and KEYS[element.keyword].level in reachable]
    for keyword in asked:
        value = identifier[keyword].value
        if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
            text = "\\".join(str(v) for v in value)  # a list of UIDs (or codes)
        else:
            text = "" if value is None else str(value)
        queryset = queryset.filter(condition(keyword, text, level))
    fields = {keyword: relative_field(KEYS[keyword], level) for keyword in asked}
    for row in queryset.distinct().values(*fields.values()).iterator():
        answer = Dataset()
        answer.SpecificCharacterSet = "ISO_IR 192"
        answer.QueryRetrieveLevel = level
        for keyword, field in fields.items():
            setattr(answer, keyword, format_value(row[field], KEYS[keyword].kind))
        yield answer
