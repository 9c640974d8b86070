"""Checking an instance against its IOD, like dcmvalidate / dciodvfy: missing Type 1 and 2
attributes, empty Type 1, wrong VRs, values that break their VR, VM violations.

The IOD → module and module → attribute tables are the DICOM standard's as highdicom ships
them. Conditions of 1C/2C attributes and of conditional modules are not evaluated: a
conditional module is checked when some attribute of it is present.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydicom import config
from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    kind: str
    where: str  # tag path, e.g. (0008,1140)[1] (0008,1150)
    keyword: str
    module: str
    message: str


@cache
def _table(name: str) -> Any:
    with (resources.files("highdicom") / "_standard" / name).open() as handle:
        return json.load(handle)


def iod_for(sop_class_uid: str) -> str | None:
    return _table("sop_class_iod_map.json").get(sop_class_uid)


def _label(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _empty(element: DataElement) -> bool:
    value = element.value
    return value is None or value == "" or value == b"" or (
        isinstance(value, list | tuple) and len(value) == 0) or (
        element.VR == "SQ" and len(value) == 0)


def validate(ds: Dataset) -> list[Finding]:
    findings: list[Finding] = []
    sop = str(ds.get("SOPClassUID", "") or "")
    iod = iod_for(sop)
    if not sop:
        findings.append(Finding(Severity.ERROR, "missing_type1", _label(0x00080016),
                                "SOPClassUID", "sop-common", "SOP Class UID is missing"))
    elif iod is None:
        findings.append(Finding(Severity.WARNING, "unknown_iod", _label(0x00080016),
                                "SOPClassUID", "", f"No IOD is known for SOP Class {sop}: "
                                                   "only VRs, values and VMs are checked"))
    else:
        modules = _table("iod_module_map.json").get(iod, [])
        for module in modules:
            key, usage = module["key"], module["usage"]
            attributes = _table("module_attribute_map.json").get(key, [])
            if usage != "M" and not _module_present(ds, attributes):
                continue
            findings += _check_module(ds, key, attributes)
        conditional = [m["key"] for m in modules if m["usage"] == "C"]
        if conditional:
            findings.append(Finding(Severity.INFO, "conditions_not_evaluated", "", "", "",
                                    "Conditions of 1C/2C attributes and of the conditional "
                                    f"modules ({', '.join(conditional)}) are not evaluated"))
    findings += _check_elements(ds, "")
    return findings


def _module_present(ds: Dataset, attributes: list[dict[str, Any]]) -> bool:
    return any(not a["path"] and tag_for_keyword(a["keyword"]) is not None
               and a["keyword"] in ds for a in attributes)


def _items_at(ds: Dataset, path: list[str], where: str) -> list[tuple[Dataset, str]]:
    if not path:
        return [(ds, where)]
    element = ds[path[0]] if path[0] in ds else None  # noqa: SIM401 - get() gives the value
    if element is None or element.VR != "SQ":
        return []
    found = []
    for index, item in enumerate(element.value or [], start=1):
        found += _items_at(item, path[1:], f"{where}{_label(element.tag)}[{index}] ")
    return found


FUNCTIONAL_GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")


def _roots(ds: Dataset, module: str) -> list[tuple[Dataset, str]]:
    """Where a module's attributes live: the data set, and for the functional group macros
    of a multi-frame module also the Shared and every Per-frame functional groups item."""
    roots = [(ds, "")]
    if module.endswith("functional-groups"):
        for keyword in FUNCTIONAL_GROUPS:
            if keyword in ds:
                element = ds[keyword]
                roots += [(item, f"{_label(element.tag)}[{index}] ")
                          for index, item in enumerate(element.value or [], start=1)]
    return roots


def _check_module(ds: Dataset, module: str, attributes: list[dict[str, Any]]) -> list[Finding]:
    findings = []
    roots = _roots(ds, module)
    for attribute in attributes:
        kind = attribute["type"]
        keyword = attribute["keyword"]
        if kind not in {"1", "2"} or tag_for_keyword(keyword) is None:
            continue  # conditional, or a repeating group (60xx overlays) named generically
        if len(roots) > 1 and not attribute["path"]:
            # A functional group macro: present at the top level or in the groups is enough.
            present = [root[keyword] for root, _ in roots if keyword in root]
            if not present:
                findings.append(Finding(Severity.ERROR, f"missing_type{kind}", "", keyword,
                                        module, f"Missing attribute, Type {kind} required"))
            elif kind == "1" and all(_empty(element) for element in present):
                findings.append(Finding(Severity.ERROR, "empty_type1", "", keyword, module,
                                        "Empty attribute (no value), Type 1 required"))
            continue
        path = attribute["path"]
        if path and path[0] in FUNCTIONAL_GROUPS:
            # A macro of the functional groups: in the Shared item or in the Per-frame ones.
            groups = [_items_at(ds, [group, *path[1:]], "") for group in FUNCTIONAL_GROUPS]
            holders = [places for places in groups if places]
            if not holders:
                continue  # the groups themselves are missing: reported on their own
            if not any(keyword in item for places in holders for item, _ in places):
                # The standard gives each macro its own usage, which the table flattens:
                # a warning, not an error.
                findings.append(Finding(Severity.WARNING, f"missing_type{kind}",
                                        "functional groups", keyword, module,
                                        f"Missing attribute, Type {kind} in its macro (in "
                                        "neither the shared nor the per-frame functional "
                                        "groups); the macro itself may be conditional"))
            continue
        places = [place for root, prefix in roots for place in _items_at(root, path, prefix)] \
            if path else [(ds, "")]
        for item, where in places:
            element = item[keyword] if keyword in item else None  # noqa: SIM401
            if element is None:
                findings.append(Finding(Severity.ERROR, f"missing_type{kind}", where.strip(),
                                        keyword, module,
                                        f"Missing attribute, Type {kind} required"))
            elif kind == "1" and _empty(element):
                findings.append(Finding(Severity.ERROR, "empty_type1", where.strip(), keyword,
                                        module, "Empty attribute (no value), Type 1 required"))
    return findings


_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")


def _date_time_problem(vr: str, value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    if vr == "DA":
        try:
            dt.datetime.strptime(value, "%Y%m%d")
        except ValueError:
            return f"{value!r} is not a valid date (YYYYMMDD)"
    if vr == "TM":
        match = _TM.match(value)
        if not match or int(match[1]) > 23 or int(match[2] or 0) > 59 or int(match[3] or 0) > 60:
            return f"{value!r} is not a valid time (HHMMSS.FFFFFF)"
    return ""


def _check_elements(ds: Dataset, where: str) -> list[Finding]:
    findings = []
    for element in ds:
        tag = int(element.tag)
        label = f"{where}{_label(tag)}"
        keyword = keyword_for_tag(tag) or ""
        if element.VR == "SQ":
            for index, item in enumerate(element.value or [], start=1):
                findings += _check_elements(item, f"{label}[{index}] ")
            continue
        if element.tag.is_private or element.tag.element == 0 or not keyword:
            continue
        expected = str(dictionary_VR(tag))
        if element.VR != "UN" and element.VR not in expected.split(" or "):
            findings.append(Finding(Severity.ERROR, "wrong_vr", label, keyword, "",
                                    f"VR is {element.VR}; the dictionary says {expected}"))
            continue
        values = element.value if isinstance(element.value, list) or type(
            element.value).__name__ == "MultiValue" else [element.value]
        if element.VR in {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}:
            continue
        for value in values:
            if value is None or value == "":
                continue
            checked = str(value) if element.VR in {"DS", "IS"} else value
            try:
                validate_value(element.VR, checked, config.RAISE)
            except (ValueError, TypeError) as exc:
                findings.append(Finding(Severity.ERROR, "bad_value", label, keyword, "",
                                        str(exc).split(" Please see")[0]))
                continue
            if element.VR in {"DA", "TM"}:
                problem = _date_time_problem(element.VR, str(value))
                if problem:
                    findings.append(Finding(Severity.ERROR, "bad_value", label, keyword, "",
                                            problem))
        problem = _vm_problem(str(dictionary_VM(tag)), 0 if _empty(element) else len(values))
        if problem:
            findings.append(Finding(Severity.ERROR, "bad_vm", label, keyword, "", problem))
    return findings


def _vm_problem(vm: str, count: int) -> str:
    if count == 0:
        return ""
    if vm.isdigit():
        return "" if count == int(vm) else f"VM is {count}; the dictionary says {vm}"
    low_text, _, high_text = vm.partition("-")
    low = int(low_text) if low_text.isdigit() else 1
    if count < low:
        return f"VM is {count}; the dictionary says {vm}"
    if high_text.endswith("n"):
        step = int(high_text[:-1] or 1)
        if step > 1 and count % step:
            return f"VM is {count}; the dictionary says {vm} (a multiple of {step})"
        return ""
    if high_text.isdigit() and count > int(high_text):
        return f"VM is {count}; the dictionary says {vm}"
    return ""
