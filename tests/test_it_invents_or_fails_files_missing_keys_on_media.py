"""A file lacking Type 1 record keys fails alone (the others are added) unless inventing is
on; then it is added as FIXED, each invented value listed, with dcmmkdir +I's values."""

from __future__ import annotations

from pathlib import Path

from archive.media.build import BuildOptions, FileOutcomeKind, MediumSource, build_fileset
from tests.record_key_helpers import CORPUS

# 693_UNCI lacks StudyDate, StudyTime and StudyID; emri_small lacks PatientID and StudyID
NAMES = ["MR2_UNCI.dcm", "693_UNCI.dcm", "emri_small.dcm"]


def _sources() -> list[MediumSource]:
    return [MediumSource(CORPUS / name, name) for name in NAMES]


def test_without_inventing_such_files_fail_alone(tmp_path: Path) -> None:
    report = build_fileset(tmp_path / "m", _sources(), BuildOptions())
    outcomes = {o.name: o for o in report.outcomes}
    assert outcomes["MR2_UNCI.dcm"].kind == FileOutcomeKind.ADDED
    for name, keys in (("693_UNCI.dcm", "StudyDate, StudyTime, StudyID"),
                       ("emri_small.dcm", "PatientID, StudyID")):
        assert outcomes[name].kind == FileOutcomeKind.FAILED
        assert keys in outcomes[name].message and "inventing" in outcomes[name].message
        assert outcomes[name].file_id is None and outcomes[name].sop_instance_uid
    assert report.directory.count()["IMAGE"] == 1
    assert len(list((tmp_path / "m").rglob("IM*"))) == 1


def test_with_inventing_they_are_added_with_the_fixes_listed(tmp_path: Path) -> None:
    report = build_fileset(tmp_path / "m", _sources(), BuildOptions(invent=True))
    outcomes = {o.name: o for o in report.outcomes}
    assert outcomes["MR2_UNCI.dcm"].kind == FileOutcomeKind.ADDED
    fixed = outcomes["693_UNCI.dcm"]
    assert fixed.kind == FileOutcomeKind.FIXED and fixed.file_id is not None
    assert "StudyID missing: DCMTKSTUDY000000 invented" in fixed.message
    assert "StudyDate missing" in fixed.message and "StudyTime missing" in fixed.message
    emri = outcomes["emri_small.dcm"]
    assert emri.kind == FileOutcomeKind.FIXED
    assert "PatientID missing: DCMTKPAT000000 invented" in emri.message
    assert "StudyID missing: DCMTKSTUDY000001 invented" in emri.message
    patients = [r.key("PatientID") for r in report.directory.roots]
    assert patients == ["5MR2", "CQ500-CT-310", "DCMTKPAT000000"]
    assert report.directory.count()["IMAGE"] == 3
