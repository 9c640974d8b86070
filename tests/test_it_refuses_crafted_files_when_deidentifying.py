"""Crafted inputs cannot steer the de-identification: a kept UID cannot place the output
outside its folder, file meta elements beyond PS3.10's few go whatever they are, sequences
nested absurdly deep fail the file, and a refusal never repeats the value it refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from archive.deid.config import DeidConfig, DeidRefused
from archive.deid.engine import MAX_SEQUENCE_DEPTH, deidentify_file
from archive.deid.profile import ProfileOption
from tests.archive_helpers import corpus

KEY = b"crafted-input-test-key-012345678"


def crafted(tmp_path: Path, **values: object) -> Path:
    ds = dcmread(corpus("MR2_UNCI.dcm"))
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    path = tmp_path / "in.dcm"
    ds.save_as(path)
    return path


def test_a_kept_uid_cannot_place_the_output_outside_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "out" / "deep"
    out.mkdir(parents=True)
    with pytest.warns(UserWarning):  # pydicom says the UID is not one
        source = crafted(tmp_path, SOPInstanceUID="1.2.3/../../../escaped")
    written, _ = deidentify_file(source, out, DeidConfig(
        options=frozenset({ProfileOption.RETAIN_UIDS}), project_key=KEY))
    assert written.parent == out and written.is_file()
    assert not list(tmp_path.glob("escaped*"))


def test_file_meta_elements_beyond_the_needed_ones_go(tmp_path: Path) -> None:
    ds = dcmread(corpus("MR2_UNCI.dcm"))
    ds.file_meta.add_new(0x00020016, "AE", "STMARYS_CT")
    ds.file_meta.add_new(0x00020026, "UR", "http://ct1.stmarys.example/")
    ds.file_meta.add_new(0x00020100, "UI", "1.2.3.4")
    ds.file_meta.add_new(0x00020102, "OB", b"DOE^JOHN")
    source = tmp_path / "meta.dcm"
    ds.save_as(source)
    written, _ = deidentify_file(source, tmp_path, DeidConfig(project_key=KEY))
    meta = dcmread(written).file_meta
    assert sorted(f"{int(t):08X}" for t in meta.keys()) == [  # noqa: SIM118
        "00020000", "00020001", "00020002", "00020003", "00020010", "00020012", "00020013"]
    assert b"stmarys" not in written.read_bytes().lower()


def test_sequences_nested_absurdly_deep_fail_the_file(tmp_path: Path) -> None:
    item = Dataset()
    item.CodeMeaning = "innermost"
    for _ in range(MAX_SEQUENCE_DEPTH + 5):
        outer = Dataset()
        outer.ContentSequence = Sequence([item])
        item = outer
    source = crafted(tmp_path, ContentSequence=item.ContentSequence)
    with pytest.raises(DeidRefused, match="nested more than"):
        deidentify_file(source, tmp_path, DeidConfig(project_key=KEY))


def test_a_refused_date_is_named_but_not_repeated(tmp_path: Path) -> None:
    source = crafted(tmp_path, StudyDate="2019-13-45", PatientName="Moe^Mary")
    with pytest.raises(DeidRefused) as refused:
        deidentify_file(source, tmp_path, DeidConfig(
            options=frozenset({ProfileOption.RETAIN_MODIFIED_DATES}), project_key=KEY))
    assert "(0008,0020)" in str(refused.value) and "2019-13-45" not in str(refused.value)
