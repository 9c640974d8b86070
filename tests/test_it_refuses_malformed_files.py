"""Malformed files get a clear per-file reason and never hang or crash an import; the other
files of the same import are archived."""

import struct
import time
from pathlib import Path
from typing import Any

import pytest

from archive.inspect.dump import dump
from archive.reading import FileRejected, read_index_keys
from tests.archive_helpers import make_object


def valid_prefix(tmp_path: Path) -> bytes:
    """A valid small Part 10 file, without its pixel data (so bytes can follow it)."""
    from pydicom import dcmread

    path = make_object(tmp_path, patient_name="Bad^File", patient_id="X", study_date="20240101",
                       modality="OT")
    ds = dcmread(path)
    del ds.PixelData
    ds.save_as(path, enforce_file_format=True)
    return path.read_bytes()


def explicit(tag: int, vr: bytes, length: int, long_header: bool = False) -> bytes:
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr
    return head + (b"\0\0" + struct.pack("<L", length) if long_header
                   else struct.pack("<H", length))


CASES = {
    "huge declared length": lambda base: base + explicit(0x00291010, b"OB", 0xFFFFFFF0, True)
    + b"\1" * 64,
    "sequence that never closes": lambda base: base + explicit(0x00081140, b"SQ", 0xFFFFFFFF,
                                                               True)
    + struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + explicit(0x00081150, b"UI", 4)
    + b"1.2\0",
    "pixel data longer than the file": lambda base: base + explicit(0x7FE00010, b"OW",
                                                                    1_000_000, True) + b"\0" * 10,
    "odd length for a 16-bit value": lambda base: base + explicit(0x00280010, b"US", 3)
    + b"\1\2\3",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_files_are_rejected_or_read_quickly(tmp_path: Path, case: str) -> None:
    path = tmp_path / "bad.dcm"
    path.write_bytes(CASES[case](valid_prefix(tmp_path)))
    started = time.perf_counter()
    try:
        read_index_keys(path)
    except FileRejected as exc:
        assert str(exc)  # a reason an operator can read
    rows = dump(path).rows  # the dump shows what can be read, and does not crash
    assert rows
    assert time.perf_counter() - started < 5


def test_a_huge_declared_length_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.dcm"
    path.write_bytes(CASES["huge declared length"](valid_prefix(tmp_path)))
    with pytest.raises(FileRejected, match=r"\(0029,1010\) declares 4294967280 bytes"):
        read_index_keys(path)


def test_truncated_pixel_data_is_rejected_with_the_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bad.dcm"
    path.write_bytes(CASES["pixel data longer than the file"](valid_prefix(tmp_path)))
    with pytest.raises(FileRejected, match="declares 1000000 bytes but only 10 remain"):
        read_index_keys(path)


@pytest.mark.django_db(transaction=True)
def test_an_import_with_malformed_files_keeps_the_good_ones(
    celery_worker_process: Path, operator: Any, tmp_path: Path
) -> None:
    from netjobs.jobs.services import create_job
    from netjobs.models import JobStatus
    from tests.archive_helpers import import_folder
    from tests.conftest import wait_for_job

    with import_folder() as folder:
        base = valid_prefix(tmp_path)
        for index, build in enumerate(CASES.values()):
            (folder / f"bad{index}.dcm").write_bytes(build(base))
        make_object(folder, patient_name="Good^One", patient_id="G1", study_date="20240101",
                    modality="OT")
        job = wait_for_job(create_job("import", {"path": str(folder)}, owner=operator), 60)
    assert job.status == JobStatus.PARTIAL
    assert job.counters["stored"] >= 1
    assert job.items.filter(name__startswith="bad").exclude(outcome="succeeded").exists()
    bad = job.items.filter(name__startswith="bad")
    assert bad.count() == len(CASES) and not bad.filter(outcome="succeeded").exists()
    assert job.items.filter(outcome="succeeded").count() == 1
