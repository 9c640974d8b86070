"""A File-set built from corpus files has the DICOMDIR DCMTK dcmmkdir makes of the same copied
files (record types in tree order, every record's keys, referenced file IDs), which dciodvfy
passes and pydicom reads, and the files are the sources byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydicom.fileset import FileSet

from archive.media.build import (
    BuildOptions,
    FileOutcomeKind,
    FileSetRefused,
    MediumSource,
    build_fileset,
)
from archive.media.dicomdir.reader import read_dicomdir
from tests.media_helpers import dciodvfy_errors, sha256
from tests.record_key_helpers import CORPUS, as_json, made_instances, save

# several patients, a multi-frame Enhanced CT, a segmentation, two instances of one series
# given out of InstanceNumber order (dcmmkdir sorts them), and a Key Object Selection
CORPUS_FILES = ["MR2_UNCI.dcm", "vlut_04.dcm", "SC_rgb.dcm", "mlut_18.dcm", "US1_UNCI.dcm",
                "liver.dcm", "eCT_Supplemental.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm",
                "OBXXXX1A.dcm", "MR2_UNCR.dcm"]
FILESET_ID = "LIKE_DCMMKDIR"


def _sources(tmp_path: Path) -> list[MediumSource]:
    sources = [MediumSource(CORPUS / name, name) for name in CORPUS_FILES]
    ko = save(made_instances()["KO"], tmp_path / "ko.dcm")
    return [*sources, MediumSource(ko, "made KO")]


def _tree(dicomdir: Path) -> list[tuple[tuple[int, ...], str, str, dict[str, Any]]]:
    reading = read_dicomdir(dicomdir)
    assert (reading.stopped, reading.problems) == ("", [])
    return [(path, str(r.record_type), "/".join(r.file_id or ()), as_json(r.keys))
            for path, r in reading.directory.walk()]


def _dcmmkdir(folder: Path, file_ids: list[str]) -> None:
    done = subprocess.run(["dcmmkdir", "-Pgp", "-nb", "+F", FILESET_ID, "+D", "DICOMDIR",
                           *file_ids], cwd=folder, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dicomdir_equals_dcmmkdirs_for_the_same_files(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    folder = tmp_path / "medium"
    report = build_fileset(folder, sources, BuildOptions(fileset_id=FILESET_ID))
    assert [o.kind for o in report.outcomes] == [FileOutcomeKind.ADDED] * len(sources)
    file_ids = ["/".join(o.file_id or ()) for o in report.outcomes]
    assert file_ids[0] == "DICOM/PA000000/ST000000/SE000000/IM000000"
    assert file_ids[-2] == "DICOM/PA000000/ST000000/SE000000/IM000001"  # MR2 again

    oracle = tmp_path / "oracle"
    shutil.copytree(folder / "DICOM", oracle / "DICOM")
    _dcmmkdir(oracle, file_ids)
    ours, theirs = _tree(folder / "DICOMDIR"), _tree(oracle / "DICOMDIR")
    assert [(p, t, f) for p, t, f, _ in ours] == [(p, t, f) for p, t, f, _ in theirs]
    for mine, dcmtk in zip(ours, theirs, strict=True):
        assert mine[3] == dcmtk[3], f"keys of {mine[1]} record {mine[0]}"
    assert read_dicomdir(folder / "DICOMDIR").directory.fileset_id == FILESET_ID


def test_dciodvfy_passes_it_pydicom_reads_it_and_files_are_the_sources(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    folder = tmp_path / "medium"
    report = build_fileset(folder, sources, BuildOptions(fileset_id=FILESET_ID))
    assert dciodvfy_errors(folder / "DICOMDIR") == []
    fileset = FileSet(folder / "DICOMDIR")
    assert fileset.ID == FILESET_ID
    assert sorted(i.SOPInstanceUID for i in fileset) == sorted(
        o.sop_instance_uid for o in report.outcomes)
    for source, outcome in zip(sources, report.outcomes, strict=True):
        copied = folder.joinpath(*outcome.file_id or ())
        assert sha256(copied) == sha256(source.path), source.name
        assert outcome.input_bytes == outcome.output_bytes == source.path.stat().st_size
    readme = (folder / "README").read_bytes()
    assert FILESET_ID.encode() in readme and b"\r\n" in readme
    assert all(len(line) <= 80 for line in readme.split(b"\r\n")) and readme.isascii()
    assert set(report.seconds) == {"headers", "copy", "dicomdir"}
    assert sorted(p.name for p in folder.iterdir()) == ["DICOM", "DICOMDIR", "README"]


def test_a_bad_file_fails_alone_and_a_duplicate_is_skipped(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("not DICOM at all")
    sources = [MediumSource(CORPUS / "MR2_UNCI.dcm", "first"), MediumSource(junk, "junk"),
               MediumSource(CORPUS / "MR2_J2KR.dcm", "j2k"),
               MediumSource(CORPUS / "MR2_UNCI.dcm", "again")]
    report = build_fileset(tmp_path / "medium", sources, BuildOptions())
    kinds = {o.name: o for o in report.outcomes}
    assert kinds["first"].kind == FileOutcomeKind.ADDED
    assert kinds["junk"].kind == FileOutcomeKind.FAILED
    assert "not a readable DICOM file" in kinds["junk"].message
    assert kinds["j2k"].kind == FileOutcomeKind.FAILED and "STD-GEN-CD" in kinds["j2k"].message
    assert kinds["again"].kind == FileOutcomeKind.SKIPPED and "first" in kinds["again"].message
    assert report.directory.count() == {"PATIENT": 1, "STUDY": 1, "SERIES": 1, "IMAGE": 1}


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(FileSetRefused, match="not empty"):
        build_fileset(tmp_path, [MediumSource(CORPUS / "MR2_UNCI.dcm", "a")], BuildOptions())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt"]
