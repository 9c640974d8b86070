"""Values of an edit: text as typed → a value for its VR, checked against PS3.5 first,
and any element's value → the text dcmdump would show (for the before/after record).

The checks are pydicom's ``validate_value`` (lengths, character repertoires, number
ranges) plus what it lacks: real calendar dates for DA, IS within 32 bits, the PN
structure (at most 3 component groups of at most 5 components), no control characters
in the short texts, and the value multiplicity the dictionary allows.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from pydicom import config
from pydicom.datadict import dictionary_VM
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName, validate_value

from archive.objects.edit.changes import EditRefused

TEXT_VRS = {"LT", "ST", "UT"}  # one value, backslash allowed
CHARSET_VRS = {"LO", "LT", "PN", "SH", "ST", "UC", "UT"}  # Specific Character Set applies
STRING_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM",
              "UC", "UI", "UR", "UT"}
INT_RANGES = {"US": (0, 0xFFFF), "SS": (-0x8000, 0x7FFF), "UL": (0, 0xFFFFFFFF),
              "SL": (-0x80000000, 0x7FFFFFFF), "UV": (0, 2**64 - 1),
              "SV": (-(2**63), 2**63 - 1)}
FLOAT_VRS = {"FL", "FD"}
HEX_BYTES_VRS = {"OB", "UN"}
KNOWN_VRS = STRING_VRS | set(INT_RANGES) | FLOAT_VRS | {"AT", "OB", "OD", "OF", "OL", "OV",
                                                        "OW", "SQ", "UN"}
MAX_SHOWN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")  # LF, FF, CR, ESC allowed
_AT = re.compile(r"^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$")
_HEX_BYTE = re.compile(r"^[0-9A-Fa-f]{1,2}$")
_HEX_WORD = re.compile(r"^[0-9A-Fa-f]{1,4}$")


def split_values(vr: str, text: str) -> list[str]:
    return [text] if vr in TEXT_VRS | {"UR"} else text.split("\\")


def check_text(vr: str, text: str, name: str, tag: int | None = None) -> None:
    """Raise EditRefused when ``text`` is not a valid value of ``vr`` for ``name``."""
    if vr not in KNOWN_VRS:
        raise EditRefused(f"{name}: {vr!r} is not a DICOM VR")
    if text == "":
        return
    if vr == "SQ":
        raise EditRefused(f"{name} is a sequence: it takes items, not a value")
    values = split_values(vr, text)
    if vr in STRING_VRS:
        for value in values:
            _check_string(vr, value, name)
    elif vr in INT_RANGES or vr in FLOAT_VRS or vr == "AT":
        for value in values:
            _to_number(vr, value, name)
    if tag is not None and vr not in {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}:
        _check_multiplicity(tag, len(values), name)


def _check_string(vr: str, value: str, name: str) -> None:
    if vr in TEXT_VRS:
        if _TEXT_CONTROL.search(value):
            raise EditRefused(f"{name}: {value!r} holds a control character")
    elif _CONTROL.search(value):
        raise EditRefused(f"{name}: {value!r} holds a control character (not allowed in {vr})")
    checked = value.strip(" ") if vr in {"DA", "TM", "DT", "IS", "DS", "AS", "UI"} else value
    try:
        if vr == "PN":
            _check_person_name(value, name)
        else:
            validate_value(vr, checked, config.RAISE)
    except ValueError as exc:
        raise EditRefused(f"{name}: {value!r} is not a valid {vr} value ({_short(exc)})") from exc
    if vr == "DA" and checked:
        for part in (p for p in checked.split("-") if p):
            try:
                datetime.date(int(part[:4]), int(part[4:6]), int(part[6:8]))
            except ValueError as exc:
                raise EditRefused(f"{name}: {value!r} is not a calendar date") from exc
    if vr == "IS" and checked and not -(2**31) <= int(checked) <= 2**31 - 1:
        raise EditRefused(f"{name}: {value!r} is out of the IS range (a signed 32-bit number)")


def _check_person_name(value: str, name: str) -> None:
    groups = value.split("=")
    if len(groups) > 3:
        raise ValueError(f"{len(groups)} component groups, at most 3")
    for group in groups:
        components = group.split("^")
        if len(components) > 5:
            raise ValueError(f"{len(components)} components in a group, at most 5")
        if len(group) > 64:
            raise ValueError(f"a component group of {len(group)} characters, at most 64")


def _short(exc: Exception) -> str:
    text = str(exc).split(" Please see")[0].strip()
    return text[:200]


def _to_number(vr: str, value: str, name: str) -> Any:
    text = value.strip()
    try:
        if vr == "AT":
            match = _AT.match(text)
            if not match:
                raise ValueError(text)
            return int(match.group(1) + match.group(2), 16)
        if vr in FLOAT_VRS:
            return float(text)
        number = int(text)
    except ValueError as exc:
        kind = "a tag (gggg,eeee)" if vr == "AT" else (
            "a number" if vr in FLOAT_VRS else "a whole number")
        raise EditRefused(f"{name}: {value!r} is not {kind} ({vr})") from exc
    low, high = INT_RANGES[vr]
    if not low <= number <= high:
        raise EditRefused(f"{name}: {value} is out of range for {vr} ({low} to {high})")
    return number


def _check_multiplicity(tag: int, count: int, name: str) -> None:
    try:
        vm = dictionary_VM(tag)
    except KeyError:
        return
    low, high = _vm_range(vm)
    if count < low or (high is not None and count > high):
        raise EditRefused(f"{name} takes {vm} value(s) (VM {vm}), the edit gives {count}")


def _vm_range(vm: str) -> tuple[int, int | None]:
    if "-" not in vm:
        return (int(vm), int(vm)) if vm.isdigit() else (1, None)
    low, high = vm.split("-", 1)
    if not low.isdigit():
        return 1, None
    return int(low), (int(high) if high.isdigit() else None)


def to_value(vr: str, text: str | None, name: str) -> Any:
    """The pydicom value of ``text`` (already checked) for an element of ``vr``."""
    if text is None or text == "":
        return [] if vr == "SQ" else None
    if vr in STRING_VRS:
        values = split_values(vr, text)
        if vr == "PN":
            return PersonName(values[0]) if len(values) == 1 else [PersonName(v) for v in values]
        return values[0] if len(values) == 1 else values
    if vr in INT_RANGES or vr in FLOAT_VRS or vr == "AT":
        numbers = [_to_number(vr, value, name) for value in text.split("\\")]
        return numbers[0] if len(numbers) == 1 else numbers
    return _binary(vr, text, name)


def _binary(vr: str, text: str, name: str) -> bytes:
    parts = [part.strip() for part in text.split("\\")]
    if vr in HEX_BYTES_VRS and all(_HEX_BYTE.match(part) for part in parts):
        data = bytes(int(part, 16) for part in parts)
    elif vr == "OW" and all(_HEX_WORD.match(part) for part in parts):
        data = b"".join(int(part, 16).to_bytes(2, "little") for part in parts)
    else:
        raise EditRefused(f"{name}: {vr} values are given as hex bytes separated by "
                          "backslashes (01\\ff; 16-bit words for OW)")
    return data + b"\x00" if len(data) % 2 else data


def shown(element: DataElement | None) -> str | None:
    """The value as dcmdump shows it: strings in brackets, numbers bare, binary as hex
    bytes; ``(no value available)`` when empty; None when there is no element."""
    if element is None:
        return None
    if element.VR == "SQ":
        return f"(Sequence with {len(element.value or [])} items)"
    value = element.value
    if value is None or value == "" or value == b"" or (
            isinstance(value, MultiValue | list) and not value):
        return "(no value available)"
    if element.VR in STRING_VRS:
        items = value if isinstance(value, MultiValue | list) else [value]
        text = "[" + "\\".join(str(item) for item in items) + "]"
    elif isinstance(value, bytes | bytearray):
        text = "\\".join(f"{b:02x}" for b in bytes(value[:MAX_SHOWN // 3 + 1]))
    elif element.VR == "AT":
        items = value if isinstance(value, MultiValue | list) else [value]
        text = "\\".join(f"({int(v) >> 16:04x},{int(v) & 0xFFFF:04x})" for v in items)
    else:
        items = value if isinstance(value, MultiValue | list) else [value]
        text = "\\".join(str(item) for item in items)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def text_of(element: DataElement) -> str:
    """An element's value as the text an edit would give (for documents → changes)."""
    value = element.value
    if element.VR == "SQ":
        return ""
    if value is None:
        return ""
    items = list(value) if isinstance(value, MultiValue | list) else [value]
    if element.VR == "AT":
        return "\\".join(f"({int(v) >> 16:04X},{int(v) & 0xFFFF:04X})" for v in items)
    if isinstance(value, bytes | bytearray):
        if element.VR == "OW":
            data = bytes(value)
            return "\\".join(f"{int.from_bytes(data[i:i + 2], 'little'):04x}"
                             for i in range(0, len(data) - 1, 2))
        return "\\".join(f"{b:02x}" for b in bytes(value))
    return "\\".join("" if item is None else str(item) for item in items)
