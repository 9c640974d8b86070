"""gdcmanon --dumb rules (archive/deid/dumb.py), with gdcmanon itself and dcm2json as oracles.

What gdcmanon changes on its own (seen on the corpus): in the File Meta Information it adds
Implementation Version Name (0002,0013) and Source Application Entity Title (0002,0016)
"gdcmanon" when the file has none, and recomputes the group length (0002,0000); values it
finds are kept. The data set itself differs in nothing but the rules. Where ours is
stricter or does more (a replacement the VR can't hold is refused; numeric VRs and present
private attributes can be replaced) the tests below check the refusal, not gdcmanon.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pydicom
import pytest

from archive.deid.dumb import (
    ABSENT,
    DumbAction,
    DumbRuleRefused,
    apply_dumb,
    parse_rules,
    parse_tag,
)
from tests.peers import require_tool

CORPUS = Path("/work/shared/dicom-corpus")
UNCOMPRESSED = [
    "MR2_UNCI.dcm",
    "eCT_Supplemental.dcm",
    "emri_small_big_endian.dcm",
    "US1_UNCI.dcm",
    "SC_rgb.dcm",
    "liver.dcm",
]
COMPRESSED = ["JPEG-LL.dcm", "MR2_J2KR.dcm"]
GDCMANON_OWN = {0x00020000, 0x00020013, 0x00020016}

RULE_SETS = {
    "manual": (["10,10"], ["10,40"], ["10,1030,10"]),
    "absent tags": (["10,1000"], ["10,2180"], ["10,2160,ABC", "10,1010,045Y"]),
    "odd lengths": (["8,1030"], ["8,0080", "20,4000"], ["10,10,A^B", "10,1030,105"]),
    # alone: once an operation reports failure gdcmanon skips the ones after it (it chains
    # them with &&), and emptying a sequence reports failure although it succeeds
    "a sequence": (["8,2112"], [], []),
}


def gdcmanon_args(empty: list[str], remove: list[str], replace: list[str]) -> list[str]:
    args = ["--dumb"]
    for option, values in (("--empty", empty), ("--remove", remove), ("--replace", replace)):
        for value in values:
            args += [option, value]
    return args


def dcm2json(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [require_tool("dcm2json"), "-fc", str(path)], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def run_both(source: Path, tmp_path: Path, rules: str) -> tuple[Path, Path]:
    empty, remove, replace = RULE_SETS[rules]
    theirs, ours = tmp_path / "gdcmanon.dcm", tmp_path / "ours.dcm"
    # gdcmanon exits 1 after emptying a sequence although it did (Anonymizer::Replace
    # leaves its result false on that path), so its output file is the oracle, not its status.
    subprocess.run(
        [
            require_tool("gdcmanon"),
            *gdcmanon_args(empty, remove, replace),
            str(source),
            str(theirs),
        ],
        check=False,
        capture_output=True,
    )
    assert theirs.exists()
    ds = pydicom.dcmread(source)
    apply_dumb(ds, parse_rules(empty, remove, replace))
    ds.save_as(ours)
    return theirs, ours


@pytest.mark.parametrize("rules", list(RULE_SETS))
@pytest.mark.parametrize("name", UNCOMPRESSED)
def test_the_data_set_is_what_gdcmanon_writes(tmp_path: Path, name: str, rules: str) -> None:
    theirs, ours = run_both(CORPUS / name, tmp_path, rules)
    assert dcm2json(ours) == dcm2json(theirs)


@pytest.mark.parametrize("name", UNCOMPRESSED + COMPRESSED)
def test_gdcmanon_only_adds_its_own_file_meta(tmp_path: Path, name: str) -> None:
    theirs_path, ours_path = run_both(CORPUS / name, tmp_path, "manual")
    theirs, ours = pydicom.dcmread(theirs_path), pydicom.dcmread(ours_path)
    source = pydicom.dcmread(CORPUS / name)
    for tag in {e.tag for e in theirs} | {e.tag for e in ours}:
        assert tag in theirs and tag in ours, hex(tag)
        assert theirs[tag].value == ours[tag].value, theirs[tag].keyword
    meta_tags = {e.tag for e in theirs.file_meta} | {e.tag for e in ours.file_meta}
    for tag in meta_tags - GDCMANON_OWN:
        assert theirs.file_meta[tag].value == ours.file_meta[tag].value, hex(tag)
    for own in GDCMANON_OWN - {0x00020000}:
        if own in source.file_meta:
            assert theirs.file_meta[own].value == source.file_meta[own].value


def test_changes_are_reported() -> None:
    ds = pydicom.dcmread(CORPUS / "MR2_UNCI.dcm")
    changes = apply_dumb(
        ds, parse_rules(["10,10", "10,1000"], ["10,40", "10,2180"], ["10,1030,10"])
    )
    summary = [(c.keyword, c.action, c.before, c.after) for c in changes]
    assert summary == [
        ("PatientWeight", DumbAction.REPLACE, "70", "10"),
        ("PatientName", DumbAction.EMPTY, "CompressedSamples^MR2", ""),
        ("OtherPatientIDs", DumbAction.EMPTY, ABSENT, ""),
        ("PatientSex", DumbAction.REMOVE, "M", ABSENT),
    ]


@pytest.mark.parametrize(
    "text", ["10,10", "0010,0010", "(0010,0010)", "00100010", "PatientName", " ( 10 , 10 ) "]
)
def test_tags_are_read_in_every_usual_spelling(text: str) -> None:
    assert parse_tag(text) == 0x00100010


@pytest.mark.parametrize("text", ["garbage", "10,", "12345,1", "0010 0010", ""])
def test_garbage_tags_are_refused_with_the_text(text: str) -> None:
    with pytest.raises(DumbRuleRefused) as refused:
        parse_tag(text)
    assert repr(text) in str(refused.value)


def test_replace_accepts_both_separators() -> None:
    rules = parse_rules(replace=["10,1030,10", "PatientAge=045Y", "(0010,2160),A,B"])
    assert rules.replace == ((0x00101030, "10"), (0x00101010, "045Y"), (0x00102160, "A,B"))


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("10,30,notadate", ["(0010,0030)", "DA", "'notadate'"]),
        ("28,10,70000", ["(0028,0010)", "US", "'70000'"]),
        ("8,2112,x", ["(0008,2112)", "SQ", "'x'"]),
        ("10,40,male", ["(0010,0040)", "CS", "'male'"]),
        ("9999,0010,foo", ["(9999,0010)", "not in the data dictionary"]),
        ("0029,1010,foo", ["(0029,1010)", "not in the data dictionary"]),
    ],
)
def test_values_the_vr_cannot_hold_are_refused(rule: str, words: list[str]) -> None:
    ds = pydicom.dcmread(CORPUS / "MR2_UNCI.dcm")
    before = copy.deepcopy(ds)
    with pytest.raises(DumbRuleRefused) as refused:
        apply_dumb(ds, parse_rules(empty=["10,10"], replace=[rule]))
    for word in words:
        assert word in str(refused.value)
    assert ds == before


def test_a_private_tag_present_in_the_file_takes_its_vr_from_it() -> None:
    ds = pydicom.dcmread(CORPUS / "MR2_UNCI.dcm")
    ds.add_new(0x00290010, "LO", "SITE")
    ds.add_new(0x00291010, "LO", "secret")
    apply_dumb(ds, parse_rules(replace=["0029,1010,clean"]))
    assert ds[0x00291010].VR == "LO" and ds[0x00291010].value == "clean"


def test_file_meta_tags_are_refused() -> None:
    with pytest.raises(DumbRuleRefused, match="File Meta Information"):
        parse_rules(remove=["0002,0013"])
