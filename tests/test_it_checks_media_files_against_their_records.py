"""The file check of a medium: each in-use record against the file it references — missing,
cut short, another instance, other keys, another syntax, links leading out — and names as a
mounted CD shows them (lower case, ";1") still found."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydicom
import pytest

from archive.media.check import Finding, check_files
from archive.media.dicomdir.reader import read_dicomdir
from tests.record_key_helpers import dcmmkdir_medium

NAMES = {"F0000000": "693_UNCI.dcm", "F0000001": "MR2_UNCI.dcm", "F0000002": "CT_small.dcm"}


@pytest.fixture
def medium(tmp_path: Path) -> Path:
    return dcmmkdir_medium(tmp_path / "medium", list(NAMES.values()))


def findings(folder: Path) -> list[tuple[Finding, str]]:
    directory = read_dicomdir(folder / "DICOMDIR").directory
    return [(f.finding, f.message) for f in check_files(directory, folder, [])]


def test_a_whole_medium_has_no_findings(medium: Path) -> None:
    assert findings(medium) == []


def test_names_as_a_mounted_cd_shows_them_are_found(medium: Path) -> None:
    os.rename(medium / "F0000000", medium / "f0000000;1")
    os.rename(medium / "F0000001", medium / "F0000001.")
    assert findings(medium) == []


def test_a_missing_and_a_cut_file_are_named(medium: Path) -> None:
    (medium / "F0000000").unlink()
    data = (medium / "F0000001").read_bytes()
    (medium / "F0000001").write_bytes(data[: len(data) - 1000])
    found = findings(medium)
    assert [kind for kind, _ in found] == [Finding.MISSING_FILE, Finding.NOT_DICOM]
    assert "F0000000" in found[0][1] and "cut short" in found[1][1]


def test_another_instance_in_place_of_the_referenced_one(medium: Path) -> None:
    shutil.copyfile(medium / "F0000002", medium / "F0000000")
    [(kind, message)] = findings(medium)
    assert kind is Finding.UID_MISMATCH
    assert pydicom.dcmread(medium / "F0000002").SOPInstanceUID in message


def test_other_keys_and_another_syntax_are_told_with_the_values(medium: Path) -> None:
    ds = pydicom.dcmread(medium / "F0000001")
    ds.PatientID = "SOMEONE ELSE"
    ds.save_as(medium / "F0000001", enforce_file_format=True)
    implicit = pydicom.dcmread(medium / "F0000000")
    implicit.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    implicit.save_as(medium / "F0000000", implicit_vr=True, little_endian=True)
    found = dict(findings(medium))
    assert "SOMEONE ELSE" in found[Finding.KEY_MISMATCH]
    assert "PatientID" in found[Finding.KEY_MISMATCH]
    assert "Implicit VR Little Endian" in found[Finding.SYNTAX_MISMATCH]


def test_a_link_leading_outside_the_medium_is_not_followed(medium: Path) -> None:
    (medium / "F0000002").unlink()
    os.symlink("/etc/hostname", medium / "F0000002")
    [(kind, message)] = findings(medium)
    assert kind is Finding.OUTSIDE and "/etc/hostname" in message


def test_inactive_records_are_not_checked(medium: Path) -> None:
    from archive.media.dicomdir.writer import write_dicomdir

    reading = read_dicomdir(medium / "DICOMDIR")
    leaf = next(r for _, r in reading.directory.walk() if r.file_id == ("F0000000",))
    leaf.in_use = False
    write_dicomdir(reading.directory, medium / "DICOMDIR")
    (medium / "F0000000").unlink()
    assert findings(medium) == []
