"""Every option of PS3.15 Annex E that has a column in Table E.1-1 changes what happens to
the attributes whose row has a code in that column, and only as the codes say.

The oracles: the table itself decides WHICH attributes (every row with a code for the option,
whose tag pydicom's dictionary gives a simple VR); the definitions of the action codes in
PS3.15 E.1.1 decide WHAT must be seen in the output — X absent, Z present and empty, D
present with a value that is not the original, U a different valid UID, K unchanged (a
sequence's items cleaned), C a similar value without the identifying words planted in it,
dates moved back by one whole number of days for the patient (so times stay). DCMTK's
dcmdump reads the written files for the same answers."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.datadict import dictionary_VM, dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID

from archive.deid.config import DeidConfig
from archive.deid.dates import MAX_SHIFT_DAYS, offset_days
from archive.deid.engine import deidentify_dataset, deidentify_file
from archive.deid.profile import ActionCode, ProfileOption, ProfileRule, all_rules
from tests.peers import require_tool

BASE = Path("/work/shared/dicom-corpus/SC_rgb.dcm")
KEY = b"profile-options-test-key-32bytes"
FAMILY, GIVEN, PATIENT_ID = "QUIMBY", "HORATIO", "PQ4711X"
PLANTED = (FAMILY, GIVEN, PATIENT_ID)
BENIGN = "knee"
BIRTH_DATE = "19610203"
FIRST_DATE = dt.date(2019, 3, 14)
TIME, DT_SUFFIX = "101112", "101112.123456+0130"
SIMPLE_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "SH", "ST", "TM",
                        "UC", "UI", "UL", "US", "UT", "SQ"})
TEXT_VRS = frozenset({"AE", "LO", "LT", "SH", "ST", "UC", "UT"})
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"


def concrete_tag(rule: ProfileRule) -> int | None:
    """The tag a row stands for: its own, or the first group of a repeating one
    ("(60xx,4000)" -> 0x60004000); None for patterns that are no single attribute."""
    text = rule.tag.replace("xx", "00")
    try:
        tag = int(text[1:5] + text[6:10], 16)
    except ValueError:
        return None
    return None if tag & 0xFFFF == 0 else tag


def rows_for(option: ProfileOption) -> list[tuple[int, str, ProfileRule]]:
    """(tag, VR, row) of every row with a code for ``option`` that can be given a value here:
    a standard tag pydicom knows with a simple VR, outside command and file meta groups."""
    rows = []
    for rule in all_rules():
        if option not in rule.options:
            continue
        tag = concrete_tag(rule)
        if tag is None or tag >> 16 in (0x0000, 0x0002):
            continue
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        if vr in SIMPLE_VRS:
            rows.append((tag, vr, rule))
    return rows


COLUMN_OPTIONS = [option for option in ProfileOption if rows_for(option)]


def minimum_vm(tag: int) -> int:
    match = re.match(r"\d+", dictionary_VM(tag))
    return int(match[0]) if match else 1


def value_for(tag: int, vr: str, index: int) -> Any:
    """A simple, valid value of the VR, with identifying words planted in free text."""
    day = (FIRST_DATE + dt.timedelta(days=index)).strftime("%Y%m%d")
    one: Any = {
        "DA": day, "DT": day + DT_SUFFIX, "TM": TIME, "AS": "045Y", "DS": "72.5", "IS": "7",
        "US": 4, "UL": 4, "CS": "OTHER", "AE": f"{BENIGN.upper()}_{FAMILY}",
        "SH": f"{BENIGN} {FAMILY}", "UI": f"1.2.826.0.1.3680043.9.7781.{index + 1}",
    }.get(vr, f"{BENIGN} of {FAMILY}^{GIVEN} {PATIENT_ID}")
    count = minimum_vm(tag)
    return one if count == 1 else [one] * count


def item_for(rule: ProfileRule, index: int) -> Dataset:
    item = Dataset()
    if ProfileOption.RETAIN_UIDS in rule.options:  # a reference, as those sequences hold
        item.ReferencedSOPClassUID = SC_CLASS
        item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.9.7782.{index + 1}"
    else:
        item.CodeValue = f"T{index}"
        item.CodingSchemeDesignator = "99TEST"
        item.CodeMeaning = f"{BENIGN} {FAMILY}"
    return item


def planted_dataset(option: ProfileOption) -> Dataset:
    ds = dcmread(BASE)
    ds.PatientName = f"{FAMILY}^{GIVEN}"
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = BIRTH_DATE
    for index, (tag, vr, rule) in enumerate(rows_for(option)):
        if vr == "SQ":
            ds.add_new(tag, vr, Sequence([item_for(rule, index)]))
        else:
            ds.add_new(tag, vr, value_for(tag, vr, index))
    return ds


def config(*options: ProfileOption) -> DeidConfig:
    return DeidConfig(options=frozenset(options), project_key=KEY)


# what the output shows ------------------------------------------------------------------------
def values(element: DataElement) -> list[str]:
    value = element.value
    if value is None or value == "":
        return []
    items = list(value) if isinstance(value, MultiValue | list) else [value]
    return [str(v) for v in items]


def is_empty(element: DataElement) -> bool:
    return not element.value if element.VR == "SQ" else values(element) == []


def texts(element: DataElement) -> list[str]:
    """Every value in the element, the items of a sequence included."""
    if element.VR != "SQ":
        return values(element)
    return [text for item in element.value for inner in item for text in texts(inner)]


def identifies(element: DataElement) -> list[str]:
    found = " ".join(texts(element)).upper()
    return [word for word in PLANTED if word in found]


def uids_in(element: DataElement) -> list[str]:
    """The instance UIDs in the element (SOP Class UIDs name a class, not an instance)."""
    if element.VR == "UI" and not element.keyword.endswith("SOPClassUID"):
        return values(element)
    if element.VR == "SQ":
        return [uid for item in element.value for inner in item for uid in uids_in(inner)]
    return []


def basic_outcomes(code: ActionCode) -> set[str]:
    """The outcomes PS3.15 E.1.1 allows for a basic action code (X/Z/D: one of X, Z or D)."""
    if code == ActionCode.X_Z_U:
        return {"X", "Z", "U"}
    return set(str(code).split("/"))


def outcome_errors(code: ActionCode, before: DataElement, after: DataElement | None) -> list[str]:
    """Why the output does not show any outcome the basic code allows ([] if it does)."""
    allowed = basic_outcomes(code)
    if after is None:
        return [] if "X" in allowed else ["removed"]
    if is_empty(after):
        return [] if "Z" in allowed else ["emptied"]
    problems = []
    if identifies(after):
        problems.append(f"still identifies: {identifies(after)}")
    if after.VR == "SQ":
        if "U" in allowed:
            kept = set(uids_in(before)) & set(uids_in(after))
            if kept:
                problems.append(f"references kept: {sorted(kept)}")
        elif "D" not in allowed:
            problems.append("a sequence with items")
        return problems
    if "D" not in allowed and "U" not in allowed:
        return [*problems, f"has a value {values(after)}"]
    if values(after) == values(before):
        problems.append("the original value")
    if after.VR == "UI" and not all(UID(uid).is_valid for uid in values(after)):
        problems.append("not a valid UID")
    return problems


def date_of(text: str) -> dt.date:
    return dt.datetime.strptime(text[:8], "%Y%m%d").date()


def shift_of(before: Dataset, after: Dataset) -> dt.timedelta:
    """How far the output moved the patient's dates, measured on the Study Date."""
    return date_of(str(after.StudyDate)) - date_of(str(before.StudyDate))


def cleaned_errors(before: DataElement, after: DataElement | None, shift: dt.timedelta
                   ) -> list[str]:
    """Why ``after`` is not a clean form of ``before`` (PS3.15 C: a similar value that
    identifies no one; under Modified Dates a date moved by the patient's shift)."""
    if after is None or is_empty(after):
        return ["removed or emptied instead of cleaned"]
    if identifies(after):
        return [f"still identifies: {identifies(after)}"]
    vr = before.VR
    if vr == "SQ":
        ok = len(after.value) == len(before.value) and BENIGN in " ".join(texts(after)).lower()
        return [] if ok else [f"items not kept: {after.value}"]
    if vr == "DA":
        expected = [(date_of(v) + shift).strftime("%Y%m%d") for v in values(before)]
        return [] if values(after) == expected else [f"{values(after)} != shifted {expected}"]
    if vr == "DT":
        expected = [(date_of(v) + shift).strftime("%Y%m%d") + v[8:] for v in values(before)]
        return [] if values(after) == expected else [f"{values(after)} != shifted {expected}"]
    if vr in TEXT_VRS:
        return [] if all(BENIGN in v.lower() for v in values(after)) else [
            f"the non-identifying words went too: {values(after)}"]
    return [] if values(after) == values(before) else [f"{values(after)} != {values(before)}"]


def kept_errors(before: DataElement, after: DataElement | None) -> list[str]:
    if after is None:
        return ["removed"]
    if before.VR != "SQ":
        return [] if values(after) == values(before) else [f"{values(after)} != {values(before)}"]
    if len(after.value) != len(before.value):
        return [f"{len(after.value)} items instead of {len(before.value)}"]
    problems = [f"item attribute {inner.keyword} changed" for b, a in zip(before.value, after.value,
                strict=True) for inner in b if inner.keyword in ("CodeValue",
                "CodingSchemeDesignator", "ReferencedSOPInstanceUID", "ReferencedSOPClassUID")
                and (inner.tag not in a or values(a[inner.tag]) != values(inner))]
    if identifies(after):  # K cleans a sequence's items (PS3.15 E.1.1)
        problems.append(f"items still identify: {identifies(after)}")
    return problems


# the tests ------------------------------------------------------------------------------------
def test_the_table_gives_every_attribute_option_rows_to_test() -> None:
    names = {option.name for option in COLUMN_OPTIONS}
    assert names >= {o.name for o in ProfileOption} - {"CLEAN_PIXEL_DATA", "RETAIN_SAFE_PRIVATE"}
    assert all(len(rows_for(option)) >= 1 for option in COLUMN_OPTIONS)


@pytest.mark.parametrize("option", COLUMN_OPTIONS, ids=lambda o: o.value)
def test_without_the_option_the_basic_action_applies(option: ProfileOption) -> None:
    ds = planted_dataset(option)
    out = deidentify_dataset(ds, config()).dataset
    problems = {}
    for tag, _vr, rule in rows_for(option):
        errors = outcome_errors(rule.basic, ds[tag], out.get(tag))
        if errors:
            problems[f"{rule.tag} {rule.keyword} basic {rule.basic}"] = errors
    assert problems == {}


@pytest.mark.parametrize("option", COLUMN_OPTIONS, ids=lambda o: o.value)
def test_with_the_option_its_code_applies(option: ProfileOption) -> None:
    ds = planted_dataset(option)
    out = deidentify_dataset(ds, config(option)).dataset
    shift = shift_of(ds, out) if option == ProfileOption.RETAIN_MODIFIED_DATES else dt.timedelta()
    problems = {}
    for tag, _vr, rule in rows_for(option):
        code = rule.options[option]
        after = out.get(tag)
        errors = (kept_errors(ds[tag], after) if code == ActionCode.K
                  else cleaned_errors(ds[tag], after, shift))
        if errors:
            problems[f"{rule.tag} {rule.keyword} {option.value} {code}"] = errors
    assert problems == {}


def test_modified_dates_move_back_by_the_patients_offset() -> None:
    ds = planted_dataset(ProfileOption.RETAIN_MODIFIED_DATES)
    out = deidentify_dataset(ds, config(ProfileOption.RETAIN_MODIFIED_DATES)).dataset
    shift = shift_of(ds, out)
    assert -MAX_SHIFT_DAYS <= shift.days <= -1
    assert shift.days == offset_days(KEY, PATIENT_ID)


def test_options_leave_the_rows_of_other_options_alone() -> None:
    """Retain Device Identity keeps device rows, not the institution's: their basic codes
    still apply."""
    ds = planted_dataset(ProfileOption.RETAIN_INSTITUTION_IDENTITY)
    out = deidentify_dataset(ds, config(ProfileOption.RETAIN_DEVICE_IDENTITY)).dataset
    for tag, _vr, rule in rows_for(ProfileOption.RETAIN_INSTITUTION_IDENTITY):
        if ProfileOption.RETAIN_DEVICE_IDENTITY not in rule.options:
            assert outcome_errors(rule.basic, ds[tag], out.get(tag)) == [], rule.keyword


# DCMTK reads the same ---------------------------------------------------------------------------
def dcmdump_values(path: Path, tags: list[int]) -> dict[int, list[str]]:
    """Top-level values as DCMTK's dcmdump prints them (UIDs as numbers), by tag; a
    sequence as ["<n> items"]."""
    argv = [require_tool("dcmdump"), "-q", "-Un", "+L", "+p"]
    for tag in tags:
        argv += ["+P", f"{tag >> 16:04x},{tag & 0xFFFF:04x}"]
    run = subprocess.run([*argv, str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 0, run.stderr
    found: dict[int, list[str]] = {}
    for line in run.stdout.splitlines():
        match = re.match(r"^\(([0-9a-f]{4}),([0-9a-f]{4})\) (\w\w) (.*?)\s+#", line)
        if match is None:  # not a top-level line: nested ones start "(gggg,eeee)."
            continue
        text = match[4]
        if match[3] == "SQ":
            count = re.search(r"#=(\d+)", line)
            found[int(match[1] + match[2], 16)] = [f"{count[1] if count else 0} items"]
            continue
        value = (text[1:-1] if text.startswith("[") else
                 "" if text.startswith("(no value") else text.strip())
        found[int(match[1] + match[2], 16)] = value.split("\\") if value else []
    return found


def shown(element: DataElement) -> list[str]:
    return [f"{len(element.value)} items"] if element.VR == "SQ" else values(element)


@pytest.mark.dcmtk
@pytest.mark.parametrize("option", COLUMN_OPTIONS, ids=lambda o: o.value)
def test_dcmdump_reads_the_kept_and_removed_attributes(option: ProfileOption, tmp_path: Path
                                                       ) -> None:
    source = tmp_path / "in.dcm"
    planted_dataset(option).save_as(source)
    rows = [(tag, rule) for tag, _vr, rule in rows_for(option)]
    with_dir, without_dir = tmp_path / "with", tmp_path / "without"
    with_dir.mkdir()
    without_dir.mkdir()
    kept_path, kept = deidentify_file(source, with_dir, config(option))
    gone_path, _ = deidentify_file(source, without_dir, config())
    original = dcmread(source)
    kept_dump = dcmdump_values(kept_path, [tag for tag, _ in rows])
    gone_dump = dcmdump_values(gone_path, [tag for tag, _ in rows])
    for tag, rule in rows:
        if rule.options[option] == ActionCode.K or original[tag].VR == "SQ":
            assert kept_dump.get(tag) == shown(original[tag]), rule.keyword
        else:
            assert kept_dump.get(tag) == shown(kept.dataset[tag]), rule.keyword
        if rule.basic == ActionCode.X:
            assert tag not in gone_dump, rule.keyword
