"""The stated regularities of PS3.15 Table E.1-1 that make_confidentiality_profile.py may use
to fill the option columns of attributes its option source lacks: each rule is applied only
if every row of that source it covers obeys it (and it covers at least MIN_RULE_SUPPORT)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# innolitics column name -> ProfileOption value (archive/deid/profile.py)
OPTION_COLUMNS = {
    "rtnSafePrivOpt": "retain_safe_private",
    "rtnUIDsOpt": "retain_uids",
    "rtnDevIdOpt": "retain_device_identity",
    "rtnInstIdOpt": "retain_institution_identity",
    "rtnPatCharsOpt": "retain_patient_characteristics",
    "rtnLongFullDatesOpt": "retain_full_dates",
    "rtnLongModifDatesOpt": "retain_modified_dates",
    "cleanDescOpt": "clean_descriptors",
    "cleanStructContOpt": "clean_structured_content",
    "cleanGraphOpt": "clean_graphics",
}
MIN_RULE_SUPPORT = 10
PRIVATE_ID = "ggggeeee-where-gggg-is-odd"
PRIVATE_TAG_TEXT = "(gggg,eeee) where gggg is odd"


@dataclass(frozen=True)
class Attribute:
    """What the generator knows of one attribute before merging: id is 8 hex digits or a pattern."""

    id: str
    name: str
    vr: str | None


@dataclass(frozen=True)
class Rule:
    """A stated regularity of Table E.1-1, used only if every covered row of --options obeys it."""

    id: str
    statement: str
    covers: Callable[[Attribute, str], bool]  # (attribute, basic code) -> rule applies
    codes: dict[str, str]  # ProfileOption value -> code


def _temporal_vr(attr: Attribute, basic: str) -> bool:
    return attr.vr in ("DA", "DT", "TM")


def _uid_vr_u(attr: Attribute, basic: str) -> bool:
    return attr.vr == "UI" and basic == "U"


RULES = (
    Rule(
        "temporal-vr",
        "every DA, DT or TM attribute has Retain Longitudinal Full Dates K and Modified Dates C",
        _temporal_vr,
        {"retain_full_dates": "K", "retain_modified_dates": "C"},
    ),
    Rule(
        "datetime-name",
        "every attribute whose name ends in 'DateTime' has Retain Longitudinal Full Dates K"
        " and Modified Dates C",
        lambda a, b: a.name.endswith("DateTime"),
        {"retain_full_dates": "K", "retain_modified_dates": "C"},
    ),
    Rule(
        "uid-vr-u",
        "every UI attribute with basic code U has Retain UIDs K",
        _uid_vr_u,
        {"retain_uids": "K"},
    ),
    Rule(
        "uid-name-u",
        "every attribute whose name ends in 'UID' with basic code U has Retain UIDs K",
        lambda a, b: a.name.endswith("UID") and b == "U",
        {"retain_uids": "K"},
    ),
    Rule(
        "description-name",
        "every attribute whose name ends in 'Description' has Clean Descriptors C",
        lambda a, b: a.name.endswith("Description"),
        {"clean_descriptors": "C"},
    ),
    Rule(
        "comment-name",
        "every attribute whose name ends in 'Comment' or 'Comments' has Clean Descriptors C",
        lambda a, b: a.name.endswith(("Comment", "Comments")),
        {"clean_descriptors": "C"},
    ),
)


def tag_text(ident: str) -> str:
    """'00100010' -> '(0010,0010)', '50XXXXXX' -> '(50xx,xxxx)' as Table E.1-1 writes them."""
    if ident == PRIVATE_ID:
        return PRIVATE_TAG_TEXT
    text = f"({ident[:4]},{ident[4:]})"
    return text.replace("X", "x")


def options_of(row: dict[str, Any]) -> dict[str, str]:
    return {value: row[column] for column, value in OPTION_COLUMNS.items() if column in row}


def check_rule(
    rule: Rule, attributes: dict[str, Attribute], options: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """How the rule fares on --options' exact-tag rows: support, exceptions, holds."""
    covered = [
        ident
        for ident, row in options.items()
        if ident in attributes and rule.covers(attributes[ident], row["basicProfile"])
    ]
    exceptions = [
        tag_text(ident)
        for ident in covered
        if any(options_of(options[ident]).get(k) != v for k, v in rule.codes.items())
    ]
    holds = not exceptions and len(covered) >= MIN_RULE_SUPPORT
    return {
        "id": rule.id,
        "statement": rule.statement,
        "rows_covered": len(covered),
        "exceptions": exceptions,
        "holds": holds,
    }


def rule_options(attr: Attribute, basic: str, holding: Iterable[Rule]) -> dict[str, Any]:
    """Options of an attribute --options lacks, from the holding rules that cover it."""
    codes: dict[str, str] = {}
    used: list[str] = []
    for rule in holding:
        if not rule.covers(attr, basic):
            continue
        for option, code in rule.codes.items():
            if codes.setdefault(option, code) != code:
                raise SystemExit(f"rules disagree on {option} of {tag_text(attr.id)}")
        used.append(rule.id)
    if not used:
        return {"options": {}, "options_from": None}
    return {"options": codes, "options_from": "rules", "option_rules": used}
