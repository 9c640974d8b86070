"""The DICOMDIR writer: dcmmkdir's records written back give the same dcmdump tree, offsets
that point at record items, dciodvfy's approval, and inactive records kept with flag 0."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.fileset import FileSet

from archive.media.dicomdir.model import Directory, Record
from archive.media.dicomdir.reader import read_dicomdir, read_dicomdir_bytes
from archive.media.dicomdir.writer import encode_dicomdir, write_dicomdir
from tests.media_helpers import dciodvfy_errors
from tests.record_key_helpers import dcmmkdir_medium
from tests.test_it_reads_broken_dicomdirs_up_to_the_break import SOURCES

META_OR_OFFSET = re.compile(r"^\(0002,|offset=\$|\(0004,1(200|202|400|420)\) up ")


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dcmmkdir_medium(tmp_path_factory.mktemp("medium"), SOURCES)


def dump(path: Path) -> list[str]:
    out = subprocess.run(["dcmdump", "+dc", "+L", str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [line for line in out.splitlines() if not META_OR_OFFSET.search(line.strip())]


def test_records_written_back_dump_like_dcmmkdirs(medium: Path, tmp_path: Path) -> None:
    reading = read_dicomdir(medium / "DICOMDIR")
    ours = tmp_path / "DICOMDIR"
    size = write_dicomdir(reading.directory, ours)
    assert size == ours.stat().st_size and list(tmp_path.iterdir()) == [ours]
    assert dump(ours) == dump(medium / "DICOMDIR")
    shutil.copyfile(ours, medium / "OURS")
    assert dciodvfy_errors(ours) == []
    data = ours.read_bytes()
    for _, record in reading.directory.walk():
        assert record.offset is not None
        assert data[record.offset:record.offset + 4] == b"\xfe\xff\x00\xe0"
    again = read_dicomdir(ours)
    assert again.complete
    assert [r.keys.to_json_dict() for _, r in again.directory.walk()] == [
        r.keys.to_json_dict() for _, r in reading.directory.walk()]


def test_pydicom_reads_what_we_write(medium: Path, tmp_path: Path) -> None:
    reading = read_dicomdir(medium / "DICOMDIR")
    for name in medium.iterdir():
        if name.name.startswith("F"):
            shutil.copyfile(name, tmp_path / name.name)
    write_dicomdir(reading.directory, tmp_path / "DICOMDIR")
    fileset = FileSet(tmp_path / "DICOMDIR")
    assert len(fileset) == len(SOURCES)
    assert {Path(i.path).name for i in fileset} == {f"F{i:07d}" for i in range(len(SOURCES))}


def _leaf(uid: str, name: str) -> Record:
    keys = Dataset()
    keys.InstanceNumber = "1"
    return Record("IMAGE", keys, file_id=("DICOM", name), sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                  sop_instance_uid=uid, transfer_syntax_uid="1.2.840.10008.1.2.1")


def test_inactive_records_keep_their_place_with_flag_zero() -> None:
    series = Record("SERIES", children=[_leaf("1.2.3.1", "IM1"), _leaf("1.2.3.2", "IM2")])
    series.children[0].in_use = False
    study = Record("STUDY", children=[series])
    directory = Directory(fileset_id="TEST", roots=[Record("PATIENT", children=[study])],
                          descriptor_file_id=("README",))
    data = encode_dicomdir(directory)
    first = series.children[0].offset
    assert first is not None
    flag = data.index(b"\x04\x00\x10\x14US\x02\x00", first) + 8
    assert struct.unpack_from("<H", data, flag)[0] == 0
    reading = read_dicomdir_bytes(data)
    assert reading.complete and reading.directory.descriptor_file_id == ("README",)
    leaves = [r for _, r in reading.directory.walk() if r.file_id]
    assert [(r.in_use, r.sop_instance_uid) for r in leaves] == [(False, "1.2.3.1"),
                                                                 (True, "1.2.3.2")]
    assert reading.directory.count() == {"PATIENT": 1, "STUDY": 1, "SERIES": 1, "IMAGE": 1}
    assert reading.directory.active().count(in_use_only=False)["IMAGE"] == 1


def test_a_sequence_key_survives_the_round_trip() -> None:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "113000", "DCM", "Of Interest"
    keys = Dataset()
    keys.ConceptNameCodeSequence = [code]
    keys.CompletionFlag, keys.VerificationFlag = "COMPLETE", "UNVERIFIED"
    leaf = Record("SR DOCUMENT", keys, file_id=("SR1",),
                  sop_class_uid="1.2.840.10008.5.1.4.1.1.88.11", sop_instance_uid="1.2.3",
                  transfer_syntax_uid="1.2.840.10008.1.2.1")
    data = encode_dicomdir(Directory(roots=[Record("PATIENT", children=[leaf])]))
    [(_, _patient), (_, read)] = list(read_dicomdir_bytes(data).directory.walk())
    assert read.keys.ConceptNameCodeSequence[0].CodeMeaning == "Of Interest"
    assert read.record_type == "SR DOCUMENT" and read.file_id == ("SR1",)
