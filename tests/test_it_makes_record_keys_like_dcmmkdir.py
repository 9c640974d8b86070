"""Record keys of an instance equal what DCMTK dcmmkdir -Pgp writes for the same file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.errors import InvalidDicomError

from archive.media.dicomdir.records import MissingRecordKeys, instance_records, read_header
from archive.media.dicomdir.sopclasses import UnknownSopClass
from tests.record_key_helpers import (
    Oracle,
    as_json,
    copy_as,
    dcmmkdir,
    made_instances,
    save,
    source_files,
)

# Accept every syntax and encoding: this test is about record contents, not profiles.
LENIENT = ("-Pgp", "-Nxc", "-Nec", "-Nrc", "+Nrs")
# dcmmkdir refuses a file lacking these Type 2 attributes; we write them empty instead.
TYPE_2_WE_WRITE_EMPTY = {"PatientName"}
STOPPERS = {"Modality", "StudyInstanceUID", "SeriesInstanceUID", "PatientName"}


def _inputs(folder: Path) -> dict[str, str]:
    """File name in folder → where it came from."""
    origin: dict[str, str] = {}
    for index, source in enumerate(source_files(), start=1):
        origin[copy_as(source, folder, index).name] = source.name
    for index, (label, ds) in enumerate(made_instances().items(), start=900):
        origin[save(ds, folder / f"M{index:07d}").name] = f"made {label}"
    return origin


def _compare(name: str, oracle: Oracle, path: Path) -> list[str]:
    records = instance_records(read_header(path), None)
    ours = [("PATIENT", records.patient), ("STUDY", records.study), ("SERIES", records.series),
            (records.leaf_type, records.leaf)]
    theirs = oracle.leaves[name]
    problems = []
    if [kind for kind, _ in theirs] != [kind for kind, _ in ours]:
        return [f"record types {[k for k, _ in theirs]} != ours {[k for k, _ in ours]}"]
    for (kind, their_keys), (_, our_keys) in zip(theirs, ours, strict=True):
        theirs_json, ours_json = as_json(their_keys), as_json(our_keys)
        for tag in sorted(set(theirs_json) | set(ours_json)):
            if theirs_json.get(tag) != ours_json.get(tag):
                problems.append(
                    f"{kind} {tag}: dcmmkdir {theirs_json.get(tag)} ours {ours_json.get(tag)}"
                )
    return problems


def _our_refusal(path: Path) -> str:
    try:
        instance_records(read_header(path), None)
    except (MissingRecordKeys, UnknownSopClass, InvalidDicomError, OSError, ValueError) as error:
        return f"{type(error).__name__}: {error}"
    return ""


def test_records_equal_dcmmkdirs_for_every_file_it_accepts(tmp_path: Path) -> None:
    origin = _inputs(tmp_path)
    accepted, differences, refused = 0, [], []
    for name, source in origin.items():
        oracle = dcmmkdir(tmp_path, [name], *LENIENT)
        if name in oracle.leaves:
            accepted += 1
            differences += [f"{source}: {p}" for p in _compare(name, oracle, tmp_path / name)]
            continue
        why = " | ".join(line for line in oracle.log.splitlines() if line.startswith("E:"))
        refused.append(f"{source}: dcmmkdir: {why} — ours: {_our_refusal(tmp_path / name)}")
        expected = set(oracle.missing()) - TYPE_2_WE_WRITE_EMPTY
        if expected:
            with pytest.raises(MissingRecordKeys) as raised:
                instance_records(read_header(tmp_path / name), None)
            ours = set(raised.value.missing)
            # dcmmkdir stops at keys it could never invent; otherwise it names every one.
            assert expected <= ours if expected & STOPPERS else expected == ours, source
    print(f"\n{accepted} files accepted by dcmmkdir; refused:\n" + "\n".join(refused))
    assert accepted > 100
    assert differences == []


def test_made_instances_get_their_leaf_types(tmp_path: Path) -> None:
    expected = {"KO": "KEY OBJECT DOC", "PR": "PRESENTATION", "PDF": "ENCAP DOC",
                "RTSS": "RT STRUCTURE SET", "RTREC": "RT TREAT RECORD", "RAW": "RAW DATA",
                "REG": "REGISTRATION", "RWV": "VALUE MAP"}
    for label, ds in made_instances().items():
        path = save(ds, tmp_path / label)
        oracle = dcmmkdir(tmp_path, [label], *LENIENT)
        assert oracle.leaves[label][-1][0] == expected[label], oracle.log
        assert instance_records(read_header(path), None).leaf_type == expected[label]
