"""The DICOMDIR reader: dcmmkdir's DICOMDIR read with DCMTK's offsets; cut, looping and
dangling files read up to where they break with the reason; anything else refused."""

from __future__ import annotations

import random
import re
import struct
import subprocess
from pathlib import Path

import pytest

from archive.media.dicomdir.reader import NotADicomdir, read_dicomdir, read_dicomdir_bytes
from tests.record_key_helpers import corpus_or_pydicom, dcmmkdir_medium

SOURCES = ["693_UNCI.dcm", "MR2_UNCI.dcm", "emri_small.dcm", "CT_small.dcm"]
OFFSET = re.compile(r"#\s+offset=\$(\d+)")
NEXT, LOWER = b"\x04\x00\x00\x14UL\x04\x00", b"\x04\x00\x20\x14UL\x04\x00"


@pytest.fixture(scope="module")
def dicomdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dcmmkdir_medium(tmp_path_factory.mktemp("medium"), SOURCES) / "DICOMDIR"


def dcmtk_offsets(path: Path) -> list[int]:
    out = subprocess.run(["dcmdump", "+dc", str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [int(n) for n in OFFSET.findall(out)]


def test_dcmmkdirs_dicomdir_reads_whole_with_dcmtks_offsets(dicomdir: Path) -> None:
    reading = read_dicomdir(dicomdir)
    assert reading.complete and reading.items == len(dcmtk_offsets(dicomdir))
    offsets = [record.offset for _, record in reading.directory.walk()]
    assert offsets == dcmtk_offsets(dicomdir)  # dcmdump lists records in file order too
    leaves = [r for _, r in reading.directory.walk() if r.file_id]
    assert sorted(r.file_id for r in leaves if r.file_id) == [
        (f"F{i:07d}",) for i in range(len(SOURCES))]
    assert reading.directory.fileset_id == "DCMTK_MEDIA_DEMO"
    assert reading.directory.count()["PATIENT"] == len(reading.directory.roots)


def _patched(data: bytes, at: int, marker: bytes, value: int) -> bytes:
    """``data`` with the UL after the first ``marker`` from byte ``at`` set to ``value``."""
    position = data.index(marker, at) + len(marker)
    return data[:position] + struct.pack("<I", value) + data[position + 4:]


def test_a_loop_of_next_offsets_is_named_and_the_tree_stays_finite(dicomdir: Path) -> None:
    data = dicomdir.read_bytes()
    offsets = dcmtk_offsets(dicomdir)
    last_root = read_dicomdir(dicomdir).directory.roots[-1].offset
    assert last_root is not None
    looped = _patched(data, last_root, NEXT, offsets[0])  # the last patient points at the first
    reading = read_dicomdir_bytes(looped)
    assert any("loop" in p.message and p.offset == offsets[0] for p in reading.problems)
    assert len(reading.directory.roots) == len(read_dicomdir(dicomdir).directory.roots)


def test_a_lower_offset_into_a_record_says_no_record_starts_there(dicomdir: Path) -> None:
    data = dicomdir.read_bytes()
    first = dcmtk_offsets(dicomdir)[0]
    broken = _patched(data, first, LOWER, first + 3)
    reading = read_dicomdir_bytes(broken)
    assert [p.offset for p in reading.problems if "no record starts" in p.message] == [first + 3]
    assert reading.directory.roots[0].children == []
    left_out = [p for p in reading.problems if "reached by no offset" in p.message]
    assert left_out and all(p.offset in dcmtk_offsets(dicomdir) for p in left_out)


@pytest.mark.parametrize("where", ["top", "first record", "a later record", "last bytes"])
def test_a_cut_file_is_read_up_to_the_cut(dicomdir: Path, where: str) -> None:
    data = dicomdir.read_bytes()
    first, *_, later = dcmtk_offsets(dicomdir)
    keep = {"top": first - 20, "first record": first + 30, "a later record": later + 40,
            "last bytes": len(data) - 5}[where]
    cut = data[:keep]
    reading = read_dicomdir_bytes(cut)
    assert reading.stopped and "end" in reading.stopped, reading.stopped
    whole = dcmtk_offsets(dicomdir)
    found = [record.offset for _, record in reading.directory.walk()]
    assert found == [o for o in whole if o in found]  # a prefix of the records, in order
    assert len(found) < len(whole)


def test_files_that_are_no_dicomdir_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(NotADicomdir, match="CT Image Storage"):
        read_dicomdir(corpus_or_pydicom("CT_small.dcm"))
    (tmp_path / "junk").write_bytes(b"MZ" + bytes(300))
    with pytest.raises(NotADicomdir, match="DICM"):
        read_dicomdir(tmp_path / "junk")
    with pytest.raises(NotADicomdir, match="cannot read"):
        read_dicomdir(tmp_path / "absent")


def test_random_damage_never_raises_anything_else(dicomdir: Path) -> None:
    data = bytearray(dicomdir.read_bytes())
    chance = random.Random(14)
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(chance.randint(1, 12)):
            damaged[chance.randrange(132, len(damaged))] = chance.randrange(256)
        if chance.random() < 0.3:
            damaged = damaged[:chance.randrange(132, len(damaged))]
        try:
            reading = read_dicomdir_bytes(bytes(damaged))
        except NotADicomdir:
            continue
        offsets = [record.offset for _, record in reading.directory.walk()]
        assert len(offsets) == len(set(offsets)) <= reading.items
