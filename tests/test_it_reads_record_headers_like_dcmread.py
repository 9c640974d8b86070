"""The DICOMDIR build's own header walk (headers.py) gives what pydicom's dcmread gives.

Oracle: ``dcmread(stop_before_pixels=True, specific_tags=...)`` of the same file, for every
corpus and pydicom test file, the same files re-encoded as Implicit VR Little Endian, and
cut-off copies. The walk must keep the same tags with the same VRs and decoded values, the
same file meta UIDs, and records encoded from it must be the same bytes as records encoded
from dcmread's data set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from archive.media.dicomdir.headers import NotScanned, scan_header
from archive.media.dicomdir.model import Directory, Record
from archive.media.dicomdir.records import HEADER_TAGS, instance_records, read_header
from archive.media.dicomdir.writer import encode_dicomdir
from tests.record_key_helpers import CORPUS, made_instances, save, source_files

META_KEYWORDS = ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID", "TransferSyntaxUID")
SCANNED_SYNTAXES = {"Explicit VR Little Endian", "Implicit VR Little Endian"}


def _oracle(path: Path) -> Dataset:
    return dcmread(path, stop_before_pixels=True, specific_tags=list(HEADER_TAGS.vrs))


def _value(ds: Dataset, tag: int) -> Any:
    elem = ds[tag]
    if elem.VR == "SQ":
        return [item.to_json_dict() for item in elem.value]
    return elem.value


def _differences(ours: Dataset, theirs: Dataset) -> list[str]:
    found = []
    for tag in HEADER_TAGS.vrs:
        if (tag in ours) != (tag in theirs):
            found.append(f"{tag:08X}: ours {'has' if tag in ours else 'lacks'} it, dcmread "
                         f"{'has' if tag in theirs else 'lacks'} it")
        elif tag in ours:
            if ours[tag].VR != theirs[tag].VR:
                found.append(f"{tag:08X}: VR {ours[tag].VR} != {theirs[tag].VR}")
            elif _value(ours, tag) != _value(theirs, tag):
                found.append(f"{tag:08X}: {_value(ours, tag)!r} != {_value(theirs, tag)!r}")
    for keyword in META_KEYWORDS:
        if ours.file_meta.get(keyword) != theirs.file_meta.get(keyword):
            found.append(f"{keyword}: {ours.file_meta.get(keyword)} != "
                         f"{theirs.file_meta.get(keyword)}")
    return found


def _dicomdir(ds: Dataset) -> bytes | None:
    """A one-instance DICOMDIR encoded from the records of ``ds`` (None when it has none)."""
    try:
        keys = instance_records(ds, None)
    except ValueError:
        return None
    patient = Record("PATIENT", keys.patient)
    study = Record("STUDY", keys.study)
    series = Record("SERIES", keys.series)
    leaf = Record(keys.leaf_type, keys.leaf, file_id=("DICOM", "IM1"),
                  sop_class_uid="1.2.3", sop_instance_uid="1.2.3.4",
                  transfer_syntax_uid=ExplicitVRLittleEndian)
    patient.children, study.children, series.children = [study], [series], [leaf]
    directory = Directory(fileset_id="T", media_storage_sop_instance_uid="1.2.3.5",
                          roots=[leaf] if keys.single_level else [patient])
    return encode_dicomdir(directory)


def _files(folder: Path) -> list[Path]:
    """Every source file, made instances, and Implicit VR copies of the uncompressed ones."""
    files = list(source_files())
    for index, ds in enumerate(made_instances().values()):
        files.append(save(ds, folder / f"made{index}.dcm"))
    for source in sorted(CORPUS.glob("*.dcm")):
        try:
            ds = dcmread(source)
        except Exception:
            continue
        if ds.file_meta.get("TransferSyntaxUID") == ExplicitVRLittleEndian:
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
            ds.save_as(folder / f"implicit-{source.name}", enforce_file_format=True)
            files.append(folder / f"implicit-{source.name}")
    return files


def test_it_keeps_what_dcmread_keeps_and_encodes_the_same_records(tmp_path: Path) -> None:
    problems: dict[str, list[str]] = {}
    compared = 0
    for path in _files(tmp_path):
        try:
            theirs = _oracle(path)
        except Exception:
            with pytest.raises(Exception):  # noqa: B017 - whatever dcmread raises
                read_header(path)
            continue
        ours = read_header(path)
        found = _differences(ours, theirs)
        if not found and _dicomdir(ours) != _dicomdir(theirs):
            found = ["the records encode to other bytes"]
        if found:
            problems[path.name] = found
        compared += 1
    assert compared > 100
    assert problems == {}


def test_it_walks_little_endian_files_itself_and_leaves_the_rest_to_dcmread(
        tmp_path: Path) -> None:
    scanned, left = [], []
    index = (CORPUS / "INDEX.tsv").read_text().splitlines()[1:]
    for line in index:
        name, _, syntax = line.split("\t")[:3]
        try:
            scan_header(CORPUS / name, HEADER_TAGS.vrs, HEADER_TAGS.last)
            scanned.append((name, syntax))
        except NotScanned:
            left.append((name, syntax))
    assert [n for n, s in left if s == "Explicit VR Little Endian"] == []
    assert {s for _, s in left} >= {"Explicit VR Big Endian"}
    assert all(s not in {"Explicit VR Big Endian"} for _, s in scanned)
    assert len(scanned) >= 60
    implicit = tmp_path / "implicit.dcm"
    ds = dcmread(CORPUS / "693_UNCI.dcm")
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(implicit, enforce_file_format=True)
    assert _differences(scan_header(implicit, HEADER_TAGS.vrs, HEADER_TAGS.last),
                        _oracle(implicit)) == []


def test_a_file_cut_anywhere_gives_dcmreads_answer_or_the_whole_files_values(
        tmp_path: Path) -> None:
    source = CORPUS / "693_UNCI.dcm"
    data = source.read_bytes()
    whole = _oracle(source)
    pixel_data = data.find(b"\xe0\x7f\x10\x00")
    cuts = sorted({*range(0, 140, 7), *range(140, pixel_data + 16, 37), pixel_data + 4})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.dcm"
        path.write_bytes(data[:cut])
        try:
            theirs: Dataset | None = _oracle(path)
        except Exception:
            theirs = None
        try:
            ours = read_header(path)
        except Exception:
            assert theirs is None, f"cut at {cut}: dcmread reads it, we raise"
            continue
        # what dcmread makes of the cut file, else (it refuses) what the whole file holds
        expected = theirs if theirs is not None else whole
        for tag in HEADER_TAGS.vrs:
            if tag in ours:
                assert tag in expected, f"cut at {cut}: {tag:08X} found where dcmread has none"
                assert _value(ours, tag) == _value(expected, tag), f"cut at {cut}: {tag:08X}"
