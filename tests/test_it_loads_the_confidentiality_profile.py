"""The console loads PS3.15 Table E.1-1 (Application Level Confidentiality Profile Attributes).

Oracles: the two machine-readable sources the table is generated from (when this machine has
them), pydicom's CID 7050 and data dictionary, and rows of the standard's table.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydicom.datadict import get_entry, keyword_for_tag, tag_for_keyword
from pydicom.sr.codedict import codes

from archive.deid.profile import (
    BASIC_PROFILE_CODE,
    BASIC_PROFILE_REASON,
    CLEAN_RECOGNIZABLE_VISUAL_FEATURES_CODE,
    DATA_FILE,
    EDITION,
    ActionCode,
    ProfileOption,
    ProfileRule,
    action_for,
    all_rules,
    private_rule,
    rule_for,
)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "archive/deid/data/make_confidentiality_profile.py"
BASIC_SOURCE = Path("/tmp/pk/da/dicomanonymizer/dicom_anonymization_databases/dicomfields_2026c.py")
OPTIONS_SOURCE = Path("/tmp/pk/innolitics_conf.json")
Opt = ProfileOption


def document() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def rule(tag: int) -> ProfileRule:
    found = rule_for(tag)
    assert found is not None, f"no row for {tag:08X}"
    return found


@pytest.mark.skipif(
    not (BASIC_SOURCE.is_file() and OPTIONS_SOURCE.is_file()),
    reason=f"the table's sources are not on this machine ({BASIC_SOURCE}, {OPTIONS_SOURCE});"
    " see archive/deid/data/README.md to fetch them",
)
def test_the_checked_in_table_is_what_the_script_makes_of_its_sources(tmp_path: Path) -> None:
    out = tmp_path / "profile.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--basic", str(BASIC_SOURCE),
         "--options", str(OPTIONS_SOURCE), "--out", str(out)],
        check=True, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    assert out.read_bytes() == DATA_FILE.read_bytes()
    # Every basic code of the current edition's source is the table's.
    source = BASIC_SOURCE.read_text(encoding="utf-8")
    assert "(0x0010, 0x0020),  # Patient ID" in source
    z_d = source.split("Z_D_TAGS = [", 1)[1].split("]", 1)[0]
    assert "# Patient ID" in z_d and rule(0x00100020).basic == ActionCode.Z_D


def test_the_table_is_for_the_edition_the_module_claims() -> None:
    doc = document()
    assert doc["edition"] == EDITION == "2026c"
    assert doc["sources"]["basic"]["package"] == "dicom-anonymizer"
    assert doc["sources"]["options"]["repo"] == "innolitics/dicom-standard"
    tags = [row["tag"] for row in doc["rows"]]
    assert tags[-1] == "(gggg,eeee) where gggg is odd"
    numbers = [int(t[1:5].replace("x", "0") + t[6:10].replace("x", "0"), 16) for t in tags[:-1]]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert len(all_rules()) == len(tags) > 600


def test_every_action_code_occurs_in_the_table() -> None:
    used = {r.basic for r in all_rules()} | {c for r in all_rules() for c in r.options.values()}
    assert used == set(ActionCode)
    assert {c for r in all_rules() for c in r.options.values()} == {ActionCode.K, ActionCode.C}


def test_option_codes_are_cid_7050s() -> None:
    cid = {code.value: code.meaning for code in (getattr(codes.cid7050, k)
                                                 for k in codes.cid7050.dir())}  # fmt: skip
    ours = {o.code: o.code_meaning for o in ProfileOption}
    ours[BASIC_PROFILE_CODE] = "Basic Application Confidentiality Profile"
    ours[CLEAN_RECOGNIZABLE_VISUAL_FEATURES_CODE] = "Clean Recognizable Visual Features Option"
    assert ours == cid
    assert all(o.label.endswith(" Option") for o in ProfileOption)
    assert Opt.RETAIN_FULL_DATES.label == (
        "Retain Longitudinal Temporal Information with Full Dates Option"
    )


@pytest.mark.parametrize(
    ("tag", "keyword", "basic", "options"),
    [
        (0x00100010, "PatientName", ActionCode.Z, {}),
        # Z in the 2023 editions; Z/D in 2024b (both sources) and 2026c.
        (0x00100020, "PatientID", ActionCode.Z_D, {}),
        (0x0020000D, "StudyInstanceUID", ActionCode.U, {Opt.RETAIN_UIDS: ActionCode.K}),
        (0x00080050, "AccessionNumber", ActionCode.Z, {}),
        (0x00080080, "InstitutionName", ActionCode.X_Z_D,
         {Opt.RETAIN_INSTITUTION_IDENTITY: ActionCode.K}),
        (0x00080020, "StudyDate", ActionCode.Z,
         {Opt.RETAIN_FULL_DATES: ActionCode.K, Opt.RETAIN_MODIFIED_DATES: ActionCode.C}),
        (0x00100040, "PatientSex", ActionCode.Z,
         {Opt.RETAIN_PATIENT_CHARACTERISTICS: ActionCode.K}),
        (0x00181000, "DeviceSerialNumber", ActionCode.X_Z_D,
         {Opt.RETAIN_DEVICE_IDENTITY: ActionCode.K}),
        (0x00081030, "StudyDescription", ActionCode.X, {Opt.CLEAN_DESCRIPTORS: ActionCode.C}),
        (0x0040A730, "ContentSequence", ActionCode.D,
         {Opt.CLEAN_STRUCTURED_CONTENT: ActionCode.C}),
        (0x00081140, "ReferencedImageSequence", ActionCode.X_Z_U, {Opt.RETAIN_UIDS: ActionCode.K}),
        (0x00100030, "PatientBirthDate", ActionCode.Z, {}),
    ],
)  # fmt: skip
def test_known_rows_match_the_standard(
    tag: int, keyword: str, basic: ActionCode, options: dict[ProfileOption, ActionCode]
) -> None:
    found = rule(tag)
    assert (found.keyword, found.basic, dict(found.options)) == (keyword, basic, options)
    assert found.tag == f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    assert found.in_standard_iod is True


def test_repeating_groups_and_private_tags() -> None:
    overlay_comments = rule(0x60024000)
    assert (overlay_comments.tag, overlay_comments.basic) == ("(60xx,4000)", ActionCode.X)
    assert overlay_comments.options == {Opt.CLEAN_GRAPHICS: ActionCode.C}
    assert rule(0x601E3000).tag == "(60xx,3000)"
    curve = rule(0x50100000)
    assert (curve.tag, curve.name, curve.basic) == ("(50xx,xxxx)", "Curve Data", ActionCode.X)
    assert action_for(curve, frozenset({Opt.CLEAN_GRAPHICS})) == (
        ActionCode.C, "Clean Graphics Option"
    )  # fmt: skip
    assert rule(0x50003000) is curve
    assert rule_for(0x60000010) is None  # Overlay Rows: not in the table
    assert rule_for(0x00090010) is None and rule_for(0x00291010) is None  # private
    assert rule_for(0x00280010) is None  # Rows: kept, the table does not list it
    private = private_rule()
    assert (private.basic, dict(private.options)) == (
        ActionCode.X, {Opt.RETAIN_SAFE_PRIVATE: ActionCode.C}
    )  # fmt: skip
    assert all(Opt.RETAIN_SAFE_PRIVATE not in r.options for r in all_rules() if r is not private)


def test_action_for_applies_chosen_options_k_before_c() -> None:
    study_date = rule(0x00080020)
    assert action_for(study_date, frozenset()) == (ActionCode.Z, BASIC_PROFILE_REASON)
    assert action_for(study_date, frozenset({Opt.RETAIN_UIDS, Opt.CLEAN_PIXEL_DATA})) == (
        ActionCode.Z, "Basic Profile"
    )  # fmt: skip
    assert action_for(study_date, frozenset({Opt.RETAIN_MODIFIED_DATES})) == (
        ActionCode.C, Opt.RETAIN_MODIFIED_DATES.label
    )  # fmt: skip
    both = frozenset({Opt.RETAIN_FULL_DATES, Opt.RETAIN_MODIFIED_DATES})
    assert action_for(study_date, both) == (ActionCode.K, Opt.RETAIN_FULL_DATES.label)
    calibrated = rule(0x00181200)  # Date of Last Calibration: device identity K, dates K/C
    chosen = frozenset({Opt.RETAIN_DEVICE_IDENTITY, Opt.RETAIN_MODIFIED_DATES})
    assert action_for(calibrated, chosen) == (ActionCode.K, "Retain Device Identity Option")
    every = frozenset(ProfileOption)
    assert action_for(calibrated, every) == (
        ActionCode.K, "Retain Device Identity Option, " + Opt.RETAIN_FULL_DATES.label
    )  # fmt: skip
    allergies = rule(0x00102110)  # patient characteristics C, descriptors C
    assert action_for(allergies, frozenset({Opt.CLEAN_DESCRIPTORS})) == (
        ActionCode.C, "Clean Descriptors Option"
    )  # fmt: skip
    assert action_for(rule(0x00100040), every) == (
        ActionCode.K, "Retain Patient Characteristics Option"
    )  # fmt: skip


def test_rows_agree_with_pydicoms_dictionary() -> None:
    exact = [r for r in all_rules() if "x" not in r.tag and "g" not in r.tag]
    with_keyword = [r for r in exact if r.keyword]
    assert len(with_keyword) > 600
    for r in with_keyword:
        number = int(r.tag[1:5] + r.tag[6:10], 16)
        assert keyword_for_tag(number) == r.keyword and tag_for_keyword(r.keyword) == number
        vr, _vm, name, _retired, _keyword = get_entry(number)
        assert r.vr == vr
        # The names come from the standard's table; pydicom's from PS3.6.
        assert name.replace(" ", "").lower() == r.name.replace(" ", "").lower(), r.tag


def test_options_of_new_attributes_come_only_from_holding_rules() -> None:
    doc = document()
    holding = {rep["id"] for rep in doc["rules"] if rep["holds"]}
    assert all(not rep["exceptions"] for rep in doc["rules"] if rep["holds"])
    new = [row for row in doc["rows"] if row["in_standard_iod"] is None]
    assert 30 <= len(new) <= 40
    for row in new:
        assert row["basic_from"] == "dicom-anonymizer"
        if row["options_from"] is None:
            assert row["options"] == {}
        else:
            assert row["options_from"] == "rules" and set(row["option_rules"]) <= holding
    # Re-check the one rule in use on the rows taken from the options source.
    dated = [r for r in all_rules() if r.options_from == "innolitics/dicom-standard"
             and r.name.endswith("DateTime")]  # fmt: skip
    assert len(dated) >= 10 and all(
        r.options.get(Opt.RETAIN_FULL_DATES) == ActionCode.K
        and r.options.get(Opt.RETAIN_MODIFIED_DATES) == ActionCode.C
        for r in dated
    )
    effective = rule(0x0040A034)  # Effective Start DateTime, new since 2024b
    assert effective.options_from == "rules" and effective.basic == ActionCode.X
    assert rule(0x00100041).options_from is None  # Gender Identity Sequence: unknown options
    changed = doc["changed_since_options_source"]
    assert all(row["basic_from"] == "dicom-anonymizer" and "basic_in_options_source" in row
               for row in doc["rows"] if row["tag"] in changed)  # fmt: skip


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_confidentiality_profile", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_script_prefers_the_newer_basic_code_and_leaves_unknown_options_blank(
    tmp_path: Path,
) -> None:
    script = load_script()
    basic = tmp_path / "dicomfields_2099a.py"
    basic.write_text(
        "# made up\nZ_TAGS = [\n    (0x0010, 0x0010),  # Patient's Name\n]\n"
        "X_TAGS = [\n    (0x0008, 0x1030),  # Study Description\n"
        "    (\n        0x0010,\n        0x0041,\n    ),  # Gender Identity Sequence\n"
        "    (0x6000, 0x3000, 0xFF00, 0xFFFF),  # Overlay Data\n]\nALL_TAGS = []\n"
    )
    options = tmp_path / "options.json"
    row = {"stdCompIOD": "Y", "basicProfile": "X"}
    options.write_text(json.dumps([
        {**row, "name": "Patient's Name", "tag": "(0010,0010)", "id": "00100010"},
        {**row, "name": "Study Description", "tag": "(0008,1030)", "id": "00081030",
         "cleanDescOpt": "C"},
        {**row, "name": "Overlay Data", "tag": "(60XX,3000)", "id": "60xx3000",
         "cleanGraphOpt": "C"},
        {**row, "name": "Private Attributes", "tag": "(GGGG,EEEE) WHERE GGGG IS ODD",
         "id": "ggggeeee-where-gggg-is-odd", "stdCompIOD": "N", "rtnSafePrivOpt": "C"},
    ]))  # fmt: skip
    rows, reports, changed = script.merge(script.read_basic(basic), script.read_options(options))
    by_tag = {r["tag"]: r for r in rows}
    assert [r["tag"] for r in rows] == [
        "(0008,1030)", "(0010,0010)", "(0010,0041)", "(60xx,3000)",
        "(gggg,eeee) where gggg is odd",
    ]  # fmt: skip
    assert changed == ["(0010,0010)"]
    assert by_tag["(0010,0010)"]["basic"] == "Z"
    assert by_tag["(0010,0010)"]["basic_in_options_source"] == "X"
    assert by_tag["(0008,1030)"]["options"] == {"clean_descriptors": "C"}
    assert by_tag["(0010,0041)"]["options_from"] is None
    assert by_tag["(0010,0041)"]["name"] == "Gender Identity Sequence"
    assert by_tag["(60xx,3000)"]["options"] == {"clean_graphics": "C"}
    assert by_tag["(gggg,eeee) where gggg is odd"]["basic_from"] == "innolitics/dicom-standard"
    assert not any(report["holds"] for report in reports)  # too few rows to trust any rule
