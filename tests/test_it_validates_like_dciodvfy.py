"""Oracle: on files broken on purpose, the validation finds the same new missing / empty
Type 1 and Type 2 attributes as dicom3tools' dciodvfy; VR, value and VM checks find what
was broken."""

import re
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataelem import DataElement

from archive.inspect.validate import validate
from tests.archive_helpers import corpus
from tests.peers import require_tool

LINE = re.compile(r"^Error - (Missing attribute|Empty attribute \(no value\)) Type ([12]) "
                  r"Required Element=<(\w+)>")
KINDS = {"missing_type1", "missing_type2", "empty_type1"}


def dciodvfy_required(path: Path) -> set[tuple[str, str]]:
    done = subprocess.run([require_tool("dciodvfy"), str(path)], capture_output=True,
                          text=True, errors="replace")
    found = set()
    for line in (done.stdout + done.stderr).splitlines():
        match = LINE.match(line)
        if match:
            kind = "empty_type1" if match[1].startswith("Empty") else f"missing_type{match[2]}"
            found.add((match[3], kind))
    return found


def ours(path: Path) -> set[tuple[str, str]]:
    return {(f.keyword, f.kind) for f in validate(dcmread(path)) if f.kind in KINDS
            and f.severity == "error"}


BREAKS = {
    "MR2_UNCI.dcm": [("del", "SeriesInstanceUID"), ("del", "PatientID"),
                     ("empty", "StudyInstanceUID"), ("del", "StudyID")],
    "693_UNCI.dcm": [("del", "SOPInstanceUID"), ("del", "PatientBirthDate"),
                     ("empty", "SeriesInstanceUID")],
    "emri_small.dcm": [("del", "ImageType"), ("del", "PatientSex"), ("empty", "ContentDate")],
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_new_findings_agree_with_dciodvfy(name: str, tmp_path: Path) -> None:
    base = tmp_path / "base.dcm"
    broken = tmp_path / "broken.dcm"
    ds = dcmread(corpus(name))
    ds.save_as(base)
    for action, keyword in BREAKS[name]:
        if action == "del":
            delattr(ds, keyword)
        else:
            ds[keyword].value = ""
    ds.save_as(broken)
    theirs = dciodvfy_required(broken) - dciodvfy_required(base)
    mine = ours(broken) - ours(base)
    assert theirs, "the breakage must be visible to dciodvfy"
    assert mine == theirs


def test_value_vr_and_vm_problems_are_found(tmp_path: Path) -> None:
    ds = dcmread(corpus("MR2_UNCI.dcm"))
    ds.StudyDate = "20241332"  # no 32nd of the 13th month
    ds.Modality = "mr with spaces and far too long"  # CS: upper case, at most 16
    ds.add(DataElement(0x00280030, "DS", ["1", "2", "3"]))  # PixelSpacing has VM 2
    ds.add(DataElement(0x00200013, "LO", "12"))  # InstanceNumber is IS
    path = tmp_path / "bad.dcm"
    ds.save_as(path)
    found = {(f.keyword, f.kind) for f in validate(dcmread(path))}
    assert ("StudyDate", "bad_value") in found
    assert ("Modality", "bad_value") in found
    assert ("PixelSpacing", "bad_vm") in found
    assert ("InstanceNumber", "wrong_vr") in found


def test_a_conforming_file_has_no_required_attribute_errors() -> None:
    assert ours(corpus("MR2_UNCI.dcm")) == dciodvfy_required(corpus("MR2_UNCI.dcm")) == set()
