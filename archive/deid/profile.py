"""PS3.15 Table E.1-1, the Application Level Confidentiality Profile Attributes, as data.

Each row of the table names an attribute (or a pattern of tags), the Basic Application Level
Confidentiality Profile's action for it, and the action each option substitutes when the
option is chosen. The rows live in data/confidentiality_profile.json (see data/README.md for
its sources and how to regenerate it); this module loads them once and answers which row
governs a tag and what action results from a set of options.

Options are identified by their CID 7050 (De-identification Method) codes, scheme DCM, which
an output data set lists in De-identification Method Code Sequence (0012,0064).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

EDITION = "2026c"
"""The edition of the standard whose Table E.1-1 basic codes the data file holds."""

CODING_SCHEME = "DCM"
BASIC_PROFILE_CODE = "113100"
"""CID 7050 "Basic Application Confidentiality Profile"."""
CLEAN_RECOGNIZABLE_VISUAL_FEATURES_CODE = "113102"
"""CID 7050 "Clean Recognizable Visual Features Option" (no column in Table E.1-1)."""
BASIC_PROFILE_REASON = "Basic Profile"

DATA_FILE = Path(__file__).resolve().parent / "data" / "confidentiality_profile.json"
PRIVATE_ATTRIBUTES_TAG = "(gggg,eeee) where gggg is odd"
CURVE_DATA_TAG = "(50xx,xxxx)"
OVERLAY_DATA_TAG = "(60xx,3000)"
OVERLAY_COMMENTS_TAG = "(60xx,4000)"


class ProfileOption(StrEnum):
    """An option of the Basic Application Level Confidentiality Profile (PS3.15 E.3).

    All but Clean Pixel Data have a column in Table E.1-1; Clean Pixel Data (like Clean
    Recognizable Visual Features) concerns pixel values, not attributes. Retain Safe Private
    has a code only in the private attributes row, so it never changes a standard attribute.
    """

    RETAIN_SAFE_PRIVATE = "retain_safe_private"
    RETAIN_UIDS = "retain_uids"
    RETAIN_DEVICE_IDENTITY = "retain_device_identity"
    RETAIN_INSTITUTION_IDENTITY = "retain_institution_identity"
    RETAIN_PATIENT_CHARACTERISTICS = "retain_patient_characteristics"
    RETAIN_FULL_DATES = "retain_full_dates"
    RETAIN_MODIFIED_DATES = "retain_modified_dates"
    CLEAN_DESCRIPTORS = "clean_descriptors"
    CLEAN_STRUCTURED_CONTENT = "clean_structured_content"
    CLEAN_GRAPHICS = "clean_graphics"
    CLEAN_PIXEL_DATA = "clean_pixel_data"

    @property
    def label(self) -> str:
        """The option's name as PS3.15 Annex E titles it."""
        return _OPTION_LABELS[self]

    @property
    def code(self) -> str:
        """The option's CID 7050 code value (scheme DCM)."""
        return _OPTION_CODES[self][0]

    @property
    def code_meaning(self) -> str:
        """The option's CID 7050 code meaning, for De-identification Method Code Sequence."""
        return _OPTION_CODES[self][1]


_OPTION_LABELS = {
    ProfileOption.RETAIN_SAFE_PRIVATE: "Retain Safe Private Option",
    ProfileOption.RETAIN_UIDS: "Retain UIDs Option",
    ProfileOption.RETAIN_DEVICE_IDENTITY: "Retain Device Identity Option",
    ProfileOption.RETAIN_INSTITUTION_IDENTITY: "Retain Institution Identity Option",
    ProfileOption.RETAIN_PATIENT_CHARACTERISTICS: "Retain Patient Characteristics Option",
    ProfileOption.RETAIN_FULL_DATES: (
        "Retain Longitudinal Temporal Information with Full Dates Option"
    ),
    ProfileOption.RETAIN_MODIFIED_DATES: (
        "Retain Longitudinal Temporal Information with Modified Dates Option"
    ),
    ProfileOption.CLEAN_DESCRIPTORS: "Clean Descriptors Option",
    ProfileOption.CLEAN_STRUCTURED_CONTENT: "Clean Structured Content Option",
    ProfileOption.CLEAN_GRAPHICS: "Clean Graphics Option",
    ProfileOption.CLEAN_PIXEL_DATA: "Clean Pixel Data Option",
}
_OPTION_CODES = {
    ProfileOption.CLEAN_PIXEL_DATA: ("113101", "Clean Pixel Data Option"),
    ProfileOption.CLEAN_GRAPHICS: ("113103", "Clean Graphics Option"),
    ProfileOption.CLEAN_STRUCTURED_CONTENT: ("113104", "Clean Structured Content Option"),
    ProfileOption.CLEAN_DESCRIPTORS: ("113105", "Clean Descriptors Option"),
    ProfileOption.RETAIN_FULL_DATES: (
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    ProfileOption.RETAIN_MODIFIED_DATES: (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    ProfileOption.RETAIN_PATIENT_CHARACTERISTICS: (
        "113108",
        "Retain Patient Characteristics Option",
    ),
    ProfileOption.RETAIN_DEVICE_IDENTITY: ("113109", "Retain Device Identity Option"),
    ProfileOption.RETAIN_UIDS: ("113110", "Retain UIDs Option"),
    ProfileOption.RETAIN_SAFE_PRIVATE: ("113111", "Retain Safe Private Option"),
    ProfileOption.RETAIN_INSTITUTION_IDENTITY: ("113112", "Retain Institution Identity Option"),
}


class ActionCode(StrEnum):
    """An action code of Table E.1-1 (the legend of Table E.1-1)."""

    D = "D"
    Z = "Z"
    X = "X"
    K = "K"
    C = "C"
    U = "U"
    Z_D = "Z/D"
    X_Z = "X/Z"
    X_D = "X/D"
    X_Z_D = "X/Z/D"
    X_Z_U = "X/Z/U*"

    @property
    def meaning(self) -> str:
        """What the code asks for, in short."""
        return _ACTION_MEANINGS[self]


_ACTION_MEANINGS = {
    ActionCode.D: "replace with a non-empty dummy value of the VR",
    ActionCode.Z: "replace with an empty value (or a dummy one)",
    ActionCode.X: "remove",
    ActionCode.K: "keep (a sequence's items are still processed)",
    ActionCode.C: "clean: replace with a similar value that identifies no one",
    ActionCode.U: "replace the UID with one mapped consistently within the set",
    ActionCode.Z_D: "Z, or D where the IOD makes it Type 1",
    ActionCode.X_Z: "X, or Z where the IOD makes it Type 2",
    ActionCode.X_D: "X, or D where the IOD makes it Type 1",
    ActionCode.X_Z_D: "X, or Z or D where the IOD makes it Type 2 or Type 1",
    ActionCode.X_Z_U: "X, or Z, or keep the sequence with its UIDs replaced (U)",
}
# When several chosen options have a code for one row, the first of these wins.
_OPTION_PRECEDENCE = (ActionCode.K, ActionCode.C)


@dataclass(frozen=True)
class ProfileRule:
    """One row of Table E.1-1.

    tag is the table's text: "(0010,0010)", "(50xx,xxxx)", "(60xx,3000)" or
    "(gggg,eeee) where gggg is odd". options holds only the non-blank option columns.
    in_standard_iod is the "In Std. Comp. IOD" column, None for attributes newer than the
    edition the option columns were taken from. keyword and vr are pydicom's, None where its
    dictionary lacks the tag. basic_from / options_from name the source of the row's codes
    (options_from None: the options of an attribute new since that source are unknown).
    """

    tag: str
    name: str
    keyword: str | None
    basic: ActionCode
    options: Mapping[ProfileOption, ActionCode] = field(hash=False)
    in_standard_iod: bool | None
    vr: str | None = None
    basic_from: str = ""
    options_from: str | None = None


def _rule_from_row(row: Mapping[str, Any]) -> ProfileRule:
    options = {ProfileOption(key): ActionCode(code) for key, code in row["options"].items()}
    if any(code not in _OPTION_PRECEDENCE for code in options.values()):
        raise ValueError(f"{row['tag']}: option codes other than K and C")
    return ProfileRule(
        tag=row["tag"],
        name=row["name"],
        keyword=row["keyword"],
        basic=ActionCode(row["basic"]),
        options=MappingProxyType(options),
        in_standard_iod=row["in_standard_iod"],
        vr=row["vr"],
        basic_from=row["basic_from"],
        options_from=row["options_from"],
    )


def _exact_tag(text: str) -> int | None:
    """The number of an exact row's tag text, "(0010,0010)" -> 0x00100010; None for patterns."""
    digits = text[1:5] + text[6:10]
    try:
        return int(digits, 16)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Table:
    rules: tuple[ProfileRule, ...]
    exact: Mapping[int, ProfileRule]
    patterns: Mapping[str, ProfileRule]


@cache
def _table() -> _Table:
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    if document["edition"] != EDITION:
        raise ValueError(f"{DATA_FILE} is for edition {document['edition']}, not {EDITION}")
    rules = tuple(_rule_from_row(row) for row in document["rows"])
    exact: dict[int, ProfileRule] = {}
    patterns: dict[str, ProfileRule] = {}
    for rule in rules:
        number = _exact_tag(rule.tag)
        if number is None:
            patterns[rule.tag] = rule
        else:
            exact[number] = rule
    missing = {CURVE_DATA_TAG, OVERLAY_DATA_TAG, OVERLAY_COMMENTS_TAG, PRIVATE_ATTRIBUTES_TAG}
    if missing - patterns.keys():
        raise ValueError(f"{DATA_FILE} lacks the rows {sorted(missing - patterns.keys())}")
    return _Table(rules, MappingProxyType(exact), MappingProxyType(patterns))


def all_rules() -> tuple[ProfileRule, ...]:
    """Every row of the table in tag order, the private attributes row last."""
    return _table().rules


def private_rule() -> ProfileRule:
    """The row for private attributes, (gggg,eeee) where gggg is odd."""
    return _table().patterns[PRIVATE_ATTRIBUTES_TAG]


def rule_for(tag: int) -> ProfileRule | None:
    """The row governing a standard tag (group << 16 | element), or None if the table has none.

    Exact rows first, then the repeating groups: Curve Data (50xx,xxxx) covers every element of
    groups 5000-50FF, Overlay Data (60xx,3000) and Overlay Comments (60xx,4000) those elements of
    groups 6000-60FF. Private tags (odd group) give None: private_rule() and the Retain Safe
    Private Option are for the engine to apply.
    """
    group, element = tag >> 16, tag & 0xFFFF
    if group % 2:
        return None
    table = _table()
    if (rule := table.exact.get(tag)) is not None:
        return rule
    if group & 0xFF00 == 0x5000:
        return table.patterns[CURVE_DATA_TAG]
    if group & 0xFF00 == 0x6000 and element == 0x3000:
        return table.patterns[OVERLAY_DATA_TAG]
    if group & 0xFF00 == 0x6000 and element == 0x4000:
        return table.patterns[OVERLAY_COMMENTS_TAG]
    return None


def action_for(rule: ProfileRule, options: frozenset[ProfileOption]) -> tuple[ActionCode, str]:
    """The row's action under the chosen options, and what decided it.

    A chosen option with a non-blank column overrides the basic code. Where several chosen
    options have codes, K (retain) beats C (clean); the reason then names every option that
    gave the winning code, in ProfileOption order. With none it is (basic, "Basic Profile").
    """
    chosen = [
        (option, rule.options[option])
        for option in ProfileOption
        if option in options and option in rule.options
    ]
    if not chosen:
        return rule.basic, BASIC_PROFILE_REASON
    winner = min((code for _, code in chosen), key=_OPTION_PRECEDENCE.index)
    return winner, ", ".join(option.label for option, code in chosen if code == winner)
