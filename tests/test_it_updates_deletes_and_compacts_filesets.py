"""A File-set is updated (new instances join their existing patient, study and series, new
names come after those in use, instances already on it are skipped), records are deleted
(marked inactive, with the upper records they leave empty) and the DICOMDIR is compacted
(inactive records gone, their files removed only when asked); DCMTK reads every step."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from pydicom.fileset import FileSet

from archive.media.build import (
    BuildOptions,
    FileOutcomeKind,
    FileSetRefused,
    MediumSource,
    build_fileset,
    compact_fileset,
    delete_records,
    update_fileset,
)
from archive.media.dicomdir.reader import read_dicomdir
from tests.record_key_helpers import CORPUS

SERIES = "DICOM/PA000000/ST000000/SE000000"


def _source(name: str) -> MediumSource:
    return MediumSource(CORPUS / name, name)


def _header(name: str) -> pydicom.Dataset:
    return pydicom.dcmread(CORPUS / name, stop_before_pixels=True)


def _dcmtk_reads(dicomdir: Path) -> None:
    done = subprocess.run(["dcmdump", "+dc", "-q", str(dicomdir)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0 and "E:" not in done.stderr, done.stderr


def _offsets_point_at_records(dicomdir: Path) -> None:
    ds = pydicom.dcmread(dicomdir)
    items = {item.seq_item_tell for item in ds.DirectoryRecordSequence}
    targets = [ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity,
               ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity]
    for item in ds.DirectoryRecordSequence:
        targets += [item.OffsetOfTheNextDirectoryRecord,
                    item.OffsetOfReferencedLowerLevelDirectoryEntity]
    assert {t for t in targets if t} <= items
    reading = read_dicomdir(dicomdir)
    assert (reading.stopped, reading.problems) == ("", [])
    assert {r.offset for _, r in reading.directory.walk()} == items


def _tree(dicomdir: Path) -> list[tuple[str, str, bool]]:
    directory = read_dicomdir(dicomdir).directory
    return [(str(r.record_type), "/".join(r.file_id or ()), r.in_use)
            for _, r in directory.walk()]


@pytest.fixture
def updated(tmp_path: Path) -> Path:
    folder = tmp_path / "medium"
    built = build_fileset(folder, [_source("MR2_UNCI.dcm"), _source("vlut_04.dcm")],
                          BuildOptions(fileset_id="EDITS"))
    assert [o.kind for o in built.outcomes] == [FileOutcomeKind.ADDED] * 2
    report = update_fileset(folder, [_source("MR2_UNCR.dcm"), _source("SC_rgb.dcm"),
                                     _source("MR2_UNCI.dcm"), _source("mlut_18.dcm")],
                            BuildOptions())
    outcomes = {o.name: o for o in report.outcomes}
    assert outcomes["MR2_UNCR.dcm"].file_id == (*SERIES.split("/"), "IM000001")
    assert "/".join(outcomes["SC_rgb.dcm"].file_id or ()).startswith("DICOM/PA000002/")
    assert "/".join(outcomes["mlut_18.dcm"].file_id or ()).startswith("DICOM/PA000003/")
    assert outcomes["MR2_UNCI.dcm"].kind == FileOutcomeKind.SKIPPED
    assert "already on the File-set" in outcomes["MR2_UNCI.dcm"].message
    return folder


def test_an_update_joins_existing_records_and_continues_the_names(updated: Path) -> None:
    assert _tree(updated / "DICOMDIR")[:5] == [
        ("PATIENT", "", True), ("STUDY", "", True), ("SERIES", "", True),
        ("IMAGE", f"{SERIES}/IM000001", True),  # InstanceNumber 1 before 3, like dcmmkdir
        ("IMAGE", f"{SERIES}/IM000000", True)]
    assert read_dicomdir(updated / "DICOMDIR").directory.count() == {
        "PATIENT": 4, "STUDY": 4, "SERIES": 4, "IMAGE": 5}
    assert b"5 instance(s)" in (updated / "README").read_bytes()
    _dcmtk_reads(updated / "DICOMDIR")
    _offsets_point_at_records(updated / "DICOMDIR")


def test_deleting_marks_records_and_emptied_parents_inactive(updated: Path) -> None:
    dicomdir = updated / "DICOMDIR"
    one = delete_records(updated, sop_instance_uids=[_header("MR2_UNCR.dcm").SOPInstanceUID])
    assert one.changed == 1 and "1 IMAGE" in one.messages[0]
    series = delete_records(updated, series_uids=[_header("vlut_04.dcm").SeriesInstanceUID])
    assert series.changed == 4 and "1 PATIENT, 1 STUDY" in series.messages[1]
    study = delete_records(updated, study_uids=[_header("mlut_18.dcm").StudyInstanceUID])
    assert study.changed == 4
    patient = delete_records(updated, patient_ids=["ID1"])
    assert patient.changed == 4 and "1 IMAGE, 1 PATIENT, 1 SERIES, 1 STUDY" in \
        patient.messages[0]
    again = delete_records(updated, patient_ids=["ID1", "NOBODY"])
    assert again.changed == 0 and "NOBODY" in again.messages[-1]
    for report in (one, series, study, patient):
        assert report.removed_files == []
    _dcmtk_reads(dicomdir)
    _offsets_point_at_records(dicomdir)
    active = read_dicomdir(dicomdir).directory.active()
    assert [r.sop_instance_uid for _, r in active.referenced_files()] == [
        _header("MR2_UNCI.dcm").SOPInstanceUID]
    assert len(list(FileSet(dicomdir))) == 5  # pydicom 3.0 reads it, ignoring in-use flags
    assert len(list(updated.rglob("IM*"))) == 5  # files stay


def test_compacting_drops_inactive_records_and_their_files_only_when_asked(
        updated: Path, tmp_path: Path) -> None:
    delete_records(updated, sop_instance_uids=[_header("MR2_UNCR.dcm").SOPInstanceUID],
                   patient_ids=["VLUT_nn", "ID1", "MLUT_nn"])
    kept_files = tmp_path / "kept"
    shutil.copytree(updated, kept_files)
    expected = [("PATIENT", "", True), ("STUDY", "", True), ("SERIES", "", True),
                ("IMAGE", f"{SERIES}/IM000000", True)]

    report = compact_fileset(kept_files, remove_files=False)
    assert report.changed == 13 and report.removed_files == []
    assert _tree(kept_files / "DICOMDIR") == expected
    assert len(list(kept_files.rglob("IM*"))) == 5

    report = compact_fileset(updated, remove_files=True)
    assert report.changed == 13
    assert sorted(report.removed_files) == [
        f"{SERIES}/IM000001", "DICOM/PA000001/ST000000/SE000000/IM000000",
        "DICOM/PA000002/ST000000/SE000000/IM000000",
        "DICOM/PA000003/ST000000/SE000000/IM000000"]
    assert _tree(updated / "DICOMDIR") == expected
    assert sorted(p.name for p in (updated / "DICOM").iterdir()) == ["PA000000"]
    assert [p.name for p in updated.rglob("IM*")] == ["IM000000"]
    for folder in (updated, kept_files):
        _dcmtk_reads(folder / "DICOMDIR")
        _offsets_point_at_records(folder / "DICOMDIR")
    assert compact_fileset(updated, remove_files=True).changed == 0


def test_a_broken_dicomdir_is_not_rewritten(updated: Path) -> None:
    dicomdir = updated / "DICOMDIR"
    data = dicomdir.read_bytes()
    dicomdir.write_bytes(data[: len(data) - 40])
    with pytest.raises(FileSetRefused, match="damaged"):
        update_fileset(updated, [_source("US1_UNCI.dcm")], BuildOptions())
    with pytest.raises(FileSetRefused):
        compact_fileset(updated, remove_files=True)
    assert dicomdir.read_bytes() == data[: len(data) - 40]
    assert not list(updated.glob("DICOM/PA000004"))


def test_compacting_purges_upper_records_with_no_file_below_like_dcmdir_p(
        updated: Path) -> None:
    from archive.media.dicomdir.model import Record
    from archive.media.dicomdir.writer import write_dicomdir

    dicomdir = updated / "DICOMDIR"
    directory = read_dicomdir(dicomdir).directory
    lonely = Record("PATIENT", children=[Record("STUDY", children=[Record("SERIES")])])
    directory.roots.append(lonely)  # as other tools leave them: records, but no file below
    write_dicomdir(directory, dicomdir)
    before = _tree(dicomdir)
    report = compact_fileset(updated)
    assert report.changed == 3
    assert "3 record(s) with no file below them purged (dcmdir -p)" in report.messages[1]
    assert _tree(dicomdir) == before[:-3]
    _offsets_point_at_records(dicomdir)
