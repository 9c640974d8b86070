"""QIDO-RS search (PS3.18 10.6) over the archive index: query parameters to a Search, a
Search to DICOM JSON objects. Matching is the C-FIND SCP's (archive.matching)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from django.db.models import QuerySet
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from archive.matching import (
    KEYS,
    MODELS,
    ORDER,
    QueryError,
    condition,
    format_value,
    relative_field,
)

MAX_RESULTS = 1000  # per response; more are asked for with offset
_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")
_CONTROL = frozenset({"limit", "offset", "includefield", "fuzzymatching"})
AVAILABILITY = "ONLINE"


class Level(StrEnum):
    """The QIDO-RS resource searched, as the C-FIND Query/Retrieve Level it matches."""

    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"


# PS3.18 Tables 10.6.3-3, -4, -5: what each level returns without includefield (of what the
# index holds), in addition to RetrieveURL and InstanceAvailability
DEFAULT_FIELDS: dict[Level, tuple[str, ...]] = {
    Level.STUDY: ("StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy",
                  "ReferringPhysicianName", "PatientName", "PatientID", "PatientBirthDate",
                  "PatientSex", "StudyInstanceUID", "StudyID", "NumberOfStudyRelatedSeries",
                  "NumberOfStudyRelatedInstances"),
    Level.SERIES: ("Modality", "SeriesDescription", "SeriesNumber", "SeriesInstanceUID",
                   "NumberOfSeriesRelatedInstances"),
    Level.IMAGE: ("SOPClassUID", "SOPInstanceUID", "InstanceNumber", "Rows", "Columns",
                  "NumberOfFrames"),
}
_UID_OF = {Level.STUDY: "StudyInstanceUID", Level.SERIES: "SeriesInstanceUID",
           Level.IMAGE: "SOPInstanceUID"}


class SearchError(ValueError):
    """A query the server cannot answer: 400 with this reason."""


@dataclass
class Search:
    level: Level
    matching: dict[str, str]  # keyword → matching value (the path's UIDs included)
    fields: list[str]  # keywords returned, in the order asked
    limit: int = MAX_RESULTS
    offset: int = 0
    warnings: list[str] = field(default_factory=list)


def _keyword(name: str) -> str:
    """A keyword from a keyword or an 8-digit tag; SearchError when it is neither."""
    if "." in name:
        raise SearchError(f"{name}: matching inside sequences is not supported")
    if _TAG.match(name):
        keyword = keyword_for_tag(int(name, 16))
        if not keyword:
            raise SearchError(f"{name} is not a tag of the DICOM dictionary")
        return keyword
    if tag_for_keyword(name) is None:
        raise SearchError(f"{name!r} is neither a DICOM keyword nor an 8-digit tag")
    return name


def _reachable(level: Level) -> list[str]:
    levels = ORDER[: ORDER.index(level) + 1]
    return [keyword for keyword, key in KEYS.items() if key.level in levels]


def _number(params: Mapping[str, Sequence[str]], name: str, default: int) -> int:
    values = params.get(name) or []
    if not values:
        return default
    if len(values) > 1 or not values[0].isdigit():
        raise SearchError(f"{name} must be one whole number of 0 or more, not "
                          f"{', '.join(values)!r}")
    return int(values[0])


def _fields(level: Level, asked: list[str], in_path: set[str],
            warnings: list[str]) -> list[str]:
    """What is returned: the level's defaults, those of each level above that the path does
    not name (PS3.18 10.6.3: a search across studies returns study attributes too, one
    relative to a study its series' ones), and what ``includefield`` adds."""
    defaults = list(DEFAULT_FIELDS[level])
    for upper in (Level.SERIES, Level.STUDY):
        if ORDER.index(upper) < ORDER.index(level) and _UID_OF[upper] not in in_path:
            defaults = [*DEFAULT_FIELDS[upper], *defaults]
    for upper in (Level.STUDY, Level.SERIES):  # the UIDs that place each result
        if ORDER.index(upper) < ORDER.index(level) and _UID_OF[upper] not in defaults:
            defaults.append(_UID_OF[upper])
    fields = list(dict.fromkeys(defaults))
    reachable = _reachable(level)
    missing = []
    for value in asked:
        for name in (part.strip() for part in value.split(",")):
            if not name:
                continue
            if name == "all":
                fields.extend(k for k in reachable if k not in fields)
                continue
            keyword = _keyword(name)
            if keyword in reachable:
                if keyword not in fields:
                    fields.append(keyword)
            elif keyword not in missing:
                missing.append(keyword)
    if missing:
        warnings.append("not returned, as the archive index does not hold them at this "
                        "level: " + ", ".join(missing))
    return fields


def parse_search(level: Level, params: Mapping[str, Sequence[str]],
                 path_uids: Mapping[str, str]) -> Search:
    """The Search a QIDO-RS request asks for; SearchError (400) with the reason if it
    cannot be answered. ``params`` maps each query parameter to its values."""
    warnings: list[str] = []
    matching = dict(path_uids)
    reachable = _reachable(level)
    for name, values in params.items():
        if name in _CONTROL:
            continue
        keyword = _keyword(name)
        if keyword not in reachable:
            raise SearchError(f"matching on {keyword} is not supported at the {level.lower()} "
                              f"level; these are: {', '.join(reachable)}")
        if len(values) != 1:
            raise SearchError(f"{name} is given {len(values)} times; give it once (a list of "
                              "UIDs is separated by commas)")
        if keyword in matching:
            raise SearchError(f"{keyword} is already given by the path")
        value = values[0]
        if KEYS[keyword].kind == "uid":
            value = "\\".join(part.strip() for part in value.replace(",", "\\").split("\\"))
        matching[keyword] = value
    fuzzy = [v.lower() for v in params.get("fuzzymatching") or []]
    if any(v not in ("true", "false") for v in fuzzy):
        raise SearchError("fuzzymatching is true or false")
    if "true" in fuzzy:
        warnings.append("The fuzzymatching parameter is not supported. Only literal matching "
                        "has been performed.")
    limit = _number(params, "limit", MAX_RESULTS)
    if limit > MAX_RESULTS:
        warnings.append(f"limit {limit} is above the {MAX_RESULTS} results this server returns"
                        f" at once; ask for the rest with offset")
        limit = MAX_RESULTS
    return Search(level=level, matching=matching,
                  fields=_fields(level, list(params.get("includefield") or []),
                                 set(path_uids), warnings),
                  limit=limit, offset=_number(params, "offset", 0), warnings=warnings)


def _queryset(search: Search) -> QuerySet[Any]:
    queryset: QuerySet[Any] = MODELS[search.level].objects.all()
    try:
        for keyword, value in search.matching.items():
            queryset = queryset.filter(condition(keyword, value, search.level))
    except QueryError as exc:
        raise SearchError(str(exc)) from exc
    return queryset


def _value(keyword: str, value: Any) -> Any:
    formatted = format_value(value, KEYS[keyword].kind)
    if KEYS[keyword].kind == "modalities":
        return [part for part in str(formatted).split("\\") if part]
    return formatted


_NUMBER_VRS = frozenset({"IS", "US", "UL", "SS", "SL"})


@cache
def _attribute(keyword: str) -> tuple[str, str]:
    """The JSON key (8 hex digits) and VR of a keyword."""
    tag = tag_for_keyword(keyword) or 0
    return f"{tag:08X}", dictionary_VR(tag)


def json_attribute(vr: str, value: Any) -> dict[str, Any]:
    """One attribute in the DICOM JSON model (PS3.18 F.2): no "Value" when empty, numbers
    for IS and the binary integer VRs, PersonName objects for PN."""
    values = value if isinstance(value, list) else [value]
    values = [v for v in values if v is not None and v != ""]
    if not values:
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": str(v)} for v in values]}
    if vr in _NUMBER_VRS:
        return {"vr": vr, "Value": [int(v) for v in values]}
    return {"vr": vr, "Value": [str(v) for v in values]}


def _result(paths: dict[str, str], row: dict[str, Any], url: str) -> dict[str, Any]:
    found = {"00080005": {"vr": "CS", "Value": ["ISO_IR 192"]},
             "00080056": {"vr": "CS", "Value": [AVAILABILITY]},
             "00081190": {"vr": "UR", "Value": [url]}}
    for keyword, path in paths.items():
        key, vr = _attribute(keyword)
        found[key] = json_attribute(vr, _value(keyword, row[path]))
    return dict(sorted(found.items()))


def run_search(search: Search, retrieve_base: str) -> tuple[list[dict[str, Any]], bool]:
    """DICOM JSON objects of the matches, in index order, and whether more follow.
    ``retrieve_base`` is the absolute URL of /dicomweb (for RetrieveURL)."""
    paths = {keyword: relative_field(KEYS[keyword], search.level) for keyword in search.fields}
    uid_paths = {level: relative_field(KEYS[_UID_OF[level]], search.level)
                 for level in Level if ORDER.index(level) <= ORDER.index(search.level)}
    columns = list(dict.fromkeys([*paths.values(), *uid_paths.values()]))
    rows = list(_queryset(search).order_by("pk").values(*columns)
                [search.offset: search.offset + search.limit + 1])
    more = len(rows) > search.limit
    results = []
    for row in rows[: search.limit]:
        url = retrieve_base + "/studies/" + row[uid_paths[Level.STUDY]]
        if search.level != Level.STUDY:
            url += "/series/" + row[uid_paths[Level.SERIES]]
        if search.level == Level.IMAGE:
            url += "/instances/" + row[uid_paths[Level.IMAGE]]
        results.append(_result(paths, row, url))
    return results, more


def as_datasets(results: list[dict[str, Any]]) -> list[Dataset]:
    """The JSON objects back as data sets (for the XML form of a response)."""
    return [Dataset.from_json(result) for result in results]
