"""A File-set folder packs into an ISO 9660 level 1 image (File-set ID as volume ID, names
``NAME.;1`` as PS3.12 F.1.2.1 wants, Rock Ridge giving the exact names) and into a ZIP with
the same relative names; both extract to the same files."""

from __future__ import annotations

import filecmp
import subprocess
import zipfile
from pathlib import Path

import pytest

from archive.media.build import BuildOptions, FileSetRefused, MediumSource, build_fileset
from archive.media.iso import iso_volume_id, make_iso, zip_fileset
from tests.record_key_helpers import CORPUS


def _fileset(tmp_path: Path) -> Path:
    folder = tmp_path / "medium"
    build_fileset(folder, [MediumSource(CORPUS / n, n) for n in ("MR2_UNCI.dcm", "SC_rgb.dcm")],
                  BuildOptions(fileset_id="PACK TEST"))
    return folder


def _same_tree(left: Path, right: Path) -> None:
    names = sorted(p.relative_to(left).as_posix() for p in left.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(right).as_posix() for p in right.rglob("*")
                           if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_the_iso_image_keeps_names_and_the_volume_id(tmp_path: Path) -> None:
    folder = _fileset(tmp_path)
    image = tmp_path / "m.iso"
    make_iso(folder, image, "PACK TEST")
    info = subprocess.run(["isoinfo", "-d", "-i", str(image)], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert "Volume id: PACK_TEST" in info
    plain = subprocess.run(["isoinfo", "-f", "-i", str(image)], capture_output=True,
                           text=True, check=True, timeout=60).stdout.split()
    assert "/DICOMDIR.;1" in plain and "/DICOM/PA000000/ST000000/SE000000/IM000000.;1" in plain
    out = tmp_path / "out"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(image), "-extract", "/",
                    str(out)], capture_output=True, check=True, timeout=120)
    _same_tree(folder, out)
    assert not list(tmp_path.glob(".*part"))


def test_the_zip_has_the_same_relative_names(tmp_path: Path) -> None:
    folder = _fileset(tmp_path)
    target = tmp_path / "m.zip"
    zip_fileset(folder, target)
    with zipfile.ZipFile(target) as archive:
        assert archive.namelist()[:2] == ["DICOMDIR", "README"]
        archive.extractall(tmp_path / "out")
    _same_tree(folder, tmp_path / "out")


def test_volume_ids_and_a_failing_xorriso(tmp_path: Path) -> None:
    assert iso_volume_id("case 42") == "CASE_42"
    assert iso_volume_id("") == "DICOM" and len(iso_volume_id("X" * 40)) == 32
    with pytest.raises(FileSetRefused, match="xorriso"):
        make_iso(tmp_path / "missing", tmp_path / "m.iso", "X")
    assert not (tmp_path / "m.iso").exists()
