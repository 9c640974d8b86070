"""read_header reads what records need and keeps the file meta (its speed is measured by
bench/dicomdir_bench.py, never asserted here)."""

from __future__ import annotations

from pathlib import Path

import pydicom

from archive.media.dicomdir.records import instance_records, read_header
from tests.record_key_helpers import CORPUS


def _ct_files(folder: Path, count: int) -> list[Path]:
    ds = pydicom.dcmread(CORPUS / "693_UNCI.dcm")
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20200101", "101010", "S1"
    paths = []
    for index in range(count):
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.88.{index + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = str(index + 1)
        path = folder / f"CT{index:06d}"
        ds.save_as(path)
        paths.append(path)
    return paths


def test_ct_headers_give_the_records_of_the_whole_files(tmp_path: Path) -> None:
    paths = _ct_files(tmp_path, 5)
    headers = [read_header(path) for path in paths]
    for path, header in zip(paths, headers, strict=True):
        ours, theirs = instance_records(header, None), instance_records(
            pydicom.dcmread(path), None)
        assert ours.leaf_type == theirs.leaf_type
        for level in ("patient", "study", "series", "leaf"):
            assert getattr(ours, level) == getattr(theirs, level), level
    full = pydicom.dcmread(paths[0])
    meta = headers[0].file_meta
    assert meta.TransferSyntaxUID == full.file_meta.TransferSyntaxUID
    assert meta.MediaStorageSOPInstanceUID == full.SOPInstanceUID
    assert "PixelData" not in headers[0]
