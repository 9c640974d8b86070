"""A de-identified instance says how it was de-identified (PS3.3 C.7.1.1, PS3.15 E.1.1):
Patient Identity Removed (0012,0062) YES; De-identification Method Code Sequence (0012,0064)
with the Basic Application Confidentiality Profile (113100) first and one item per option
applied, each code from CID 7050; De-identification Method (0012,0063) values that fit LO
(64 characters); Longitudinal Temporal Information Modified (0028,0303) as the dates
options decide. Dumb mode (a site's rules, not the profile) must not claim the profile.

Oracles: pydicom's own copy of CID 7050 (pydicom.sr.codedict), PS3.5's LO limit, and
DCMTK's dcmdump on the written file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from archive.deid.config import DeidConfig
from archive.deid.dumb import DumbRules
from archive.deid.engine import deidentify_dataset, deidentify_file
from archive.deid.profile import ProfileOption
from tests.peers import require_tool

BASE = Path("/work/shared/dicom-corpus/SC_rgb.dcm")
KEY = b"method-test-project-key-01234567"
LO_MAX = 64
CID_7050 = codes.cid7050
BASIC = CID_7050.BasicApplicationConfidentialityProfile
CODE_OF = {  # each option's concept in CID 7050, by pydicom's keyword for it
    ProfileOption.RETAIN_SAFE_PRIVATE: CID_7050.RetainSafePrivateOption,
    ProfileOption.RETAIN_UIDS: CID_7050.RetainUidsOption,
    ProfileOption.RETAIN_DEVICE_IDENTITY: CID_7050.RetainDeviceIdentityOption,
    ProfileOption.RETAIN_INSTITUTION_IDENTITY: CID_7050.RetainInstitutionIdentityOption,
    ProfileOption.RETAIN_PATIENT_CHARACTERISTICS: CID_7050.RetainPatientCharacteristicsOption,
    ProfileOption.RETAIN_FULL_DATES:
        CID_7050.RetainLongitudinalTemporalInformationFullDatesOption,
    ProfileOption.RETAIN_MODIFIED_DATES:
        CID_7050.RetainLongitudinalTemporalInformationModifiedDatesOption,
    ProfileOption.CLEAN_DESCRIPTORS: CID_7050.CleanDescriptorsOption,
    ProfileOption.CLEAN_STRUCTURED_CONTENT: CID_7050.CleanStructuredContentOption,
    ProfileOption.CLEAN_GRAPHICS: CID_7050.CleanGraphicsOption,
    ProfileOption.CLEAN_PIXEL_DATA: CID_7050.CleanPixelDataOption,
}
ATTRIBUTE_OPTIONS = [o for o in ProfileOption if o != ProfileOption.CLEAN_PIXEL_DATA]
OPTION_SETS = [
    (),
    *((option,) for option in ProfileOption),
    (ProfileOption.RETAIN_UIDS, ProfileOption.RETAIN_MODIFIED_DATES,
     ProfileOption.CLEAN_DESCRIPTORS, ProfileOption.RETAIN_DEVICE_IDENTITY),
    tuple(ATTRIBUTE_OPTIONS),
]


def label(options: tuple[ProfileOption, ...]) -> str:
    return "+".join(o.value for o in options) or "basic"


def source() -> Dataset:
    ds = dcmread(BASE)
    ds.PatientName = "METHOD^MARY"
    ds.PatientID = "PID-METHOD"
    return ds


def code_items(ds: Dataset) -> list[tuple[str, str, str]]:
    return [(str(item.CodeValue), str(item.CodingSchemeDesignator), str(item.CodeMeaning))
            for item in ds.get("DeidentificationMethodCodeSequence", [])]


def as_item(code: Code) -> tuple[str, str, str]:
    return (code.value, code.scheme_designator, code.meaning)


def method_values(ds: Dataset) -> list[str]:
    value = ds.get("DeidentificationMethod")
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, MultiValue) else [str(value)]


def pixels_changed(before: Dataset, after: Dataset) -> bool:
    return bool(before.get("PixelData") != after.get("PixelData"))


@pytest.mark.parametrize("options", OPTION_SETS, ids=label)
def test_the_code_sequence_lists_the_profile_then_each_option(
        options: tuple[ProfileOption, ...]) -> None:
    ds = source()
    out = deidentify_dataset(ds, DeidConfig(options=frozenset(options), project_key=KEY)).dataset
    items = code_items(out)
    assert items[0] == as_item(BASIC)
    applied = {o for o in options if o != ProfileOption.CLEAN_PIXEL_DATA
               or pixels_changed(ds, out)}  # an option is claimed only where it was applied
    assert sorted(items[1:]) == sorted(as_item(CODE_OF[o]) for o in applied)
    assert len(set(items)) == len(items)
    every_concept = {as_item(getattr(CID_7050, name)) for name in CID_7050.dir()}
    assert set(items) <= every_concept
    assert out.PatientIdentityRemoved == "YES"


@pytest.mark.parametrize("options", OPTION_SETS, ids=label)
def test_the_method_fits_lo(options: tuple[ProfileOption, ...]) -> None:
    out = deidentify_dataset(source(), DeidConfig(options=frozenset(options),
                                                  project_key=KEY)).dataset
    values = method_values(out)
    assert values
    assert [v for v in values if len(v) > LO_MAX or "\\" in v] == []
    assert out["DeidentificationMethod"].VR == "LO"


@pytest.mark.parametrize(("options", "expected"), [
    ((), "REMOVED"),
    ((ProfileOption.RETAIN_MODIFIED_DATES,), "MODIFIED"),
    ((ProfileOption.RETAIN_FULL_DATES,), "UNMODIFIED"),
    ((ProfileOption.RETAIN_UIDS, ProfileOption.CLEAN_DESCRIPTORS), "REMOVED"),
])
def test_longitudinal_temporal_information_modified_follows_the_dates_options(
        options: tuple[ProfileOption, ...], expected: str) -> None:
    out = deidentify_dataset(source(), DeidConfig(options=frozenset(options),
                                                  project_key=KEY)).dataset
    assert out.LongitudinalTemporalInformationModified == expected


def test_an_earlier_patient_identity_removed_no_becomes_yes() -> None:
    """A file that said NO (or was de-identified by another tool) says what was done now."""
    ds = source()
    ds.PatientIdentityRemoved = "NO"
    ds.DeidentificationMethod = "Some other tool"
    out = deidentify_dataset(ds, DeidConfig(project_key=KEY)).dataset
    assert out.PatientIdentityRemoved == "YES"
    assert code_items(out) == [as_item(BASIC)]


def test_dumb_mode_names_site_rules_and_does_not_claim_the_profile() -> None:
    rules = DumbRules(empty=(0x00100010,), remove=(0x00100020,))
    out = deidentify_dataset(source(), DeidConfig(project_key=KEY, dumb=rules)).dataset
    values = method_values(out)
    assert values and any("site" in v.lower() for v in values)
    assert [v for v in values if len(v) > LO_MAX] == []
    assert BASIC.value not in {value for value, _, _ in code_items(out)}
    assert "Basic Application" not in " ".join(values)


# DCMTK reads the same ---------------------------------------------------------------------------
def dcmdump_paths(path: Path, *tags: str) -> list[tuple[str, str]]:
    """(path of tags, value) of each searched tag at any depth, as dcmdump prints them."""
    argv = [require_tool("dcmdump"), "-q", "+L", "+p"]
    for tag in tags:
        argv += ["+P", tag]
    run = subprocess.run([*argv, str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 0, run.stderr
    found = []
    for line in run.stdout.splitlines():
        match = re.match(r"^(\S+) \w\w (\[.*?\]|\S.*?)\s+#", line)
        if match:
            value = match[2]
            found.append((match[1], value[1:-1] if value.startswith("[") else value))
    return found


@pytest.mark.dcmtk
def test_dcmdump_reads_the_record(tmp_path: Path) -> None:
    options = (ProfileOption.RETAIN_UIDS, ProfileOption.RETAIN_MODIFIED_DATES)
    source_path = tmp_path / "in.dcm"
    source().save_as(source_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    path, _ = deidentify_file(source_path, out_dir, DeidConfig(options=frozenset(options),
                                                               project_key=KEY))
    dumped = dcmdump_paths(path, "0012,0062", "0012,0063", "0008,0100", "0008,0102",
                           "0008,0104", "0028,0303")
    assert ("(0012,0062)", "YES") in dumped
    assert ("(0028,0303)", "MODIFIED") in dumped
    in_sequence = [(p.rsplit(".", 1)[1], v) for p, v in dumped if p.startswith("(0012,0064).")]
    values = [v for p, v in in_sequence if p == "(0008,0100)"]
    meanings = [v for p, v in in_sequence if p == "(0008,0104)"]
    schemes = {v for p, v in in_sequence if p == "(0008,0102)"}
    expected = [BASIC, *(CODE_OF[o] for o in options)]
    assert values[0] == BASIC.value
    assert sorted(values) == sorted(c.value for c in expected)
    assert sorted(meanings) == sorted(c.meaning for c in expected)
    assert schemes == {"DCM"}
    method = [v for p, v in dumped if p == "(0012,0063)"]
    assert method == ["\\".join(method_values(dcmread(path)))]
