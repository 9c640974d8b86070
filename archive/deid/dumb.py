"""Explicit per-site rules, like ``gdcmanon --dumb --empty/--remove/--replace``.

This is not the PS3.15 profile: a site names top-level attributes to empty (keep the
element, zero-length value), remove, or replace with a fixed value. As with gdcmanon,
replacements run first, then emptying, then removal; an attribute to empty that is absent
is inserted empty (gdcmanon does the same), one to remove that is absent is left alone.

Unlike gdcmanon, a replacement value must be one the attribute's VR can hold (PS3.5
6.2): ``--replace 10,30,notadate`` is refused here, accepted by gdcmanon. Numeric binary
VRs (US, SS, UL, SL, UV, SV, FL, FD) take decimal numbers (gdcmanon refuses them), and
sequences and bulk VRs (OB, OW, UN, ...) can't be replaced. The VR comes from the element
in the data set, or from the data dictionary when the element is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydicom.config import RAISE
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.valuerep import validate_value

ABSENT = "(absent)"
"""``before`` of an attribute that was inserted, ``after`` of one that was removed."""

_INTEGER_RANGES = {
    "US": (0, 2**16 - 1),
    "SS": (-(2**15), 2**15 - 1),
    "UL": (0, 2**32 - 1),
    "SL": (-(2**31), 2**31 - 1),
    "UV": (0, 2**64 - 1),
    "SV": (-(2**63), 2**63 - 1),
}
_FLOATS = {"FL", "FD"}
_SINGLE_VALUED_TEXT = {"LT", "ST", "UT", "UR"}
_NOT_REPLACEABLE = {"SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN", "AT"}
_PAIR = re.compile(r"^\(?\s*([0-9A-Fa-f]{1,4})\s*,\s*([0-9A-Fa-f]{1,4})\s*\)?$")
_PACKED = re.compile(r"^\(?(?:0x)?([0-9A-Fa-f]{8})\)?$")


class DumbRuleRefused(ValueError):
    """A rule that can't be understood or applied; the message names what and why."""


class DumbAction(StrEnum):
    """What a rule does to an attribute (gdcmanon --empty / --remove / --replace)."""

    EMPTY = "empty"
    REMOVE = "remove"
    REPLACE = "replace"


@dataclass(frozen=True)
class DumbRules:
    """Tags to empty, to remove, and (tag, value) pairs to replace, in the order given."""

    empty: tuple[int, ...] = ()
    remove: tuple[int, ...] = ()
    replace: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class DumbChange:
    """One change made to a top-level attribute; ``before``/``after`` as displayed text."""

    tag: int
    keyword: str
    action: DumbAction
    before: str
    after: str


def format_tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def parse_tag(text: str) -> int:
    """A tag from "10,10", "0010,0010", "(0010,0010)", "00100010" (hex) or a keyword."""
    stripped = text.strip()
    pair = _PAIR.match(stripped)
    if pair:
        return (int(pair.group(1), 16) << 16) | int(pair.group(2), 16)
    packed = _PACKED.match(stripped)
    if packed:
        return int(packed.group(1), 16)
    if stripped.isidentifier():
        tag = tag_for_keyword(stripped)
        if tag is not None:
            return tag
        raise DumbRuleRefused(f"{text!r} is not a DICOM keyword the data dictionary knows.")
    raise DumbRuleRefused(
        f"{text!r} is not a tag: write it as 10,10 or (0010,0010) or 00100010 or PatientName."
    )


def _checked(tag: int, text: str) -> int:
    group = tag >> 16
    if group == 0x0002:
        raise DumbRuleRefused(
            f"{text!r} {format_tag(tag)} is File Meta Information, not part of the data set."
        )
    if group == 0xFFFE:
        raise DumbRuleRefused(f"{text!r} {format_tag(tag)} is an item delimiter, not an attribute.")
    return tag


def _split_replace(text: str) -> tuple[int, str]:
    if "=" in text:
        tag_text, value = text.split("=", 1)
        return _checked(parse_tag(tag_text), tag_text), value
    parts = text.split(",")
    if len(parts) >= 3 and _PAIR.match(f"{parts[0]},{parts[1]}"):
        return _checked(parse_tag(f"{parts[0]},{parts[1]}"), text), ",".join(parts[2:])
    if len(parts) >= 2:
        return _checked(parse_tag(parts[0]), parts[0]), ",".join(parts[1:])
    raise DumbRuleRefused(
        f"{text!r} is not a replacement: write tag,value or tag=value, e.g. 10,1030,70."
    )


def parse_rules(
    empty: Iterable[str] = (), remove: Iterable[str] = (), replace: Iterable[str] = ()
) -> DumbRules:
    """Rules from the texts an operator types (one tag, or one "tag,value", each)."""
    return DumbRules(
        empty=tuple(_checked(parse_tag(t), t) for t in empty),
        remove=tuple(_checked(parse_tag(t), t) for t in remove),
        replace=tuple(_split_replace(t) for t in replace),
    )


def _vr_for(ds: Dataset, tag: int) -> str:
    if tag in ds:
        return str(ds[tag].VR)
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        raise DumbRuleRefused(
            f"{format_tag(tag)} is not in the data dictionary and not in the data set, "
            "so its VR is unknown."
        ) from None
    if " or " in vr:
        raise DumbRuleRefused(
            f"{format_tag(tag)} has a VR that depends on the data set ({vr}) and is not "
            "present in it."
        )
    return vr


def _display(elem: DataElement | None) -> str:
    if elem is None:
        return ABSENT
    if elem.VR == "SQ":
        return f"({len(elem.value)} items)"
    if isinstance(elem.value, bytes | bytearray):
        return f"({len(elem.value)} bytes)"
    if elem.VM > 1:
        return "\\".join(str(v) for v in elem.value)
    return "" if elem.value is None else str(elem.value)


def _number(tag: int, vr: str, text: str) -> int | float:
    try:
        if vr in _FLOATS:
            return float(text)
        number = int(text)
    except ValueError:
        raise DumbRuleRefused(
            f"{format_tag(tag)} has VR {vr}, which can't hold {text!r}: a number is needed."
        ) from None
    low, high = _INTEGER_RANGES[vr]
    if not low <= number <= high:
        raise DumbRuleRefused(
            f"{format_tag(tag)} has VR {vr}, which can't hold {text!r}: {low}..{high}."
        )
    return number


def replacement_value(tag: int, vr: str, text: str) -> object:
    """``text`` as a value of that VR (several values separated by backslashes)."""
    if vr in _NOT_REPLACEABLE:
        raise DumbRuleRefused(
            f"{format_tag(tag)} has VR {vr}, which can't hold the text {text!r}; "
            "only text and numeric VRs can be replaced."
        )
    values = [text] if vr in _SINGLE_VALUED_TEXT else text.split("\\")
    if vr in _INTEGER_RANGES or vr in _FLOATS:
        numbers = [_number(tag, vr, v) for v in values]
        return numbers[0] if len(numbers) == 1 else numbers
    for value in values:
        try:
            validate_value(vr, value, RAISE)
        except ValueError as exc:
            raise DumbRuleRefused(
                f"{format_tag(tag)} has VR {vr}, which can't hold {value!r}: {exc}"
            ) from None
    return values[0] if len(values) == 1 else values


def _empty_value(vr: str) -> object:
    if vr == "SQ":
        return Sequence()
    if vr in _INTEGER_RANGES or vr in _FLOATS or vr in _NOT_REPLACEABLE:
        return None
    return ""


def apply_dumb(ds: Dataset, rules: DumbRules) -> list[DumbChange]:
    """Apply the rules to the top level of ``ds`` (in place), like gdcmanon --dumb.

    Every rule is checked before anything changes, so a refused rule leaves ``ds`` as it was.
    """
    replacements = [(tag, _vr_for(ds, tag), text) for tag, text in rules.replace]
    values = [(tag, vr, replacement_value(tag, vr, text)) for tag, vr, text in replacements]
    empties = [(tag, _vr_for(ds, tag)) for tag in rules.empty]
    changes: list[DumbChange] = []

    def change(tag: int, action: DumbAction, before: str, after: str) -> None:
        changes.append(DumbChange(tag, keyword_for_tag(tag), action, before, after))

    for tag, vr, value in values:
        before = _display(ds.get(tag))
        ds[tag] = DataElement(tag, vr, value)
        change(tag, DumbAction.REPLACE, before, _display(ds[tag]))
    for tag, vr in empties:
        if tag in ds and ds[tag].is_empty:
            continue
        before = _display(ds.get(tag))
        ds[tag] = DataElement(tag, vr, _empty_value(vr))
        change(tag, DumbAction.EMPTY, before, _display(ds[tag]))
    for tag in rules.remove:
        if tag in ds:
            before = _display(ds[tag])
            del ds[tag]
            change(tag, DumbAction.REMOVE, before, ABSENT)
    return changes
