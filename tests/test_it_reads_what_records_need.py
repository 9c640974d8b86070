"""read_header reads what records need, fast, and keeps the file meta."""

from __future__ import annotations

import time
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


def test_500_ct_headers_read_quickly(tmp_path: Path) -> None:
    paths = _ct_files(tmp_path, 500)
    started = time.perf_counter()
    headers = [read_header(path) for path in paths]
    seconds = time.perf_counter() - started
    print(f"\nread_header: 500 CT files in {seconds:.3f} s")
    assert seconds < 1.0  # goal 0.3 s on this machine; generous for a loaded CI
    full = pydicom.dcmread(paths[0])
    assert instance_records(headers[0], None) == instance_records(full, None)
    meta = headers[0].file_meta
    assert meta.TransferSyntaxUID == full.file_meta.TransferSyntaxUID
    assert meta.MediaStorageSOPInstanceUID == full.SOPInstanceUID
    assert "PixelData" not in headers[0]
