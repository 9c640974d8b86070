"""Replacement UIDs (PS3.15 E.1-1 action U): the same original UID gets the same replacement
in two separate runs with the project's key (two jobs, two deliveries), another key gives
another; every replacement is a valid 2.25 UUID-derived UID (PS3.5 9.1, B.2); a reference to
an instance anywhere in nested sequences becomes exactly that instance's new SOP Instance UID;
SOP Class, Transfer Syntax and coding scheme UIDs name standard things and never change; the
Retain UIDs Option keeps them all; the file meta's Media Storage SOP Instance UID follows.

Oracles: the two-file set's own structure (B references A), pydicom's UID.is_valid, PS3.5's
limits, a second Python process for the second "job", and DCMTK's dcmdump on the output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from archive.deid.config import DeidConfig
from archive.deid.engine import deidentify_file
from archive.deid.profile import ProfileOption
from tests.peers import require_tool

ROOT = Path(__file__).resolve().parent.parent
BASE = Path("/work/shared/dicom-corpus/SC_rgb.dcm")
KEY = b"uids-test-project-key-0123456789"
OTHER_KEY = b"another-project-key-9876543210ab"
ROOT_UID = "1.2.826.0.1.3680043.9.7783"
STUDY, SERIES, FRAME = f"{ROOT_UID}.1", f"{ROOT_UID}.2", f"{ROOT_UID}.3"
A_UID, B_UID = f"{ROOT_UID}.10", f"{ROOT_UID}.11"
SNOMED_UID = "2.16.840.1.113883.6.96"  # SNOMED CT's coding scheme UID
DCM_UID = "1.2.840.10008.2.16.4"  # the DICOM Controlled Terminology's UID
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"
SEPARATE_RUN = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
import django
django.setup()
from pathlib import Path
from archive.deid.config import DeidConfig
from archive.deid.engine import deidentify_file
path, _ = deidentify_file(Path(sys.argv[1]), Path(sys.argv[2]),
                          DeidConfig(project_key=bytes.fromhex(sys.argv[3])))
print(path)
"""


def reference(uid: str, purpose: bool = False) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = SC_CLASS
    item.ReferencedSOPInstanceUID = uid
    if purpose:
        code = Dataset()
        code.CodeValue = "121320"
        code.CodingSchemeDesignator = "DCM"
        code.CodingSchemeUID = DCM_UID
        code.CodeMeaning = "Uncompressed predecessor"
        item.PurposeOfReferenceCodeSequence = Sequence([code])
    return item


def instance(uid: str) -> Dataset:
    ds = dcmread(BASE)
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = UID(uid)
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = SERIES
    ds.FrameOfReferenceUID = FRAME
    scheme = Dataset()
    scheme.CodingSchemeDesignator = "SCT"
    scheme.CodingSchemeUID = SNOMED_UID
    ds.CodingSchemeIdentificationSequence = Sequence([scheme])
    return ds


def referencing(uid: str, referenced: str) -> Dataset:
    """An instance that references ``referenced`` in every way a composite instance can:
    image references, source images (also per frame), the series' instances, RT-like
    frame of reference > study > series > contour image nesting, an SR UIDREF item."""
    ds = instance(uid)
    ds.ReferencedImageSequence = Sequence([reference(referenced)])
    ds.SourceImageSequence = Sequence([reference(referenced, purpose=True)])
    series = Dataset()
    series.SeriesInstanceUID = SERIES
    series.ReferencedInstanceSequence = Sequence([reference(referenced)])
    ds.ReferencedSeriesSequence = Sequence([series])
    derivation = Dataset()
    derivation.SourceImageSequence = Sequence([reference(referenced, purpose=True)])
    frame = Dataset()
    frame.DerivationImageSequence = Sequence([derivation])
    ds.PerFrameFunctionalGroupsSequence = Sequence([frame])
    rt_series = Dataset()
    rt_series.SeriesInstanceUID = SERIES
    rt_series.ContourImageSequence = Sequence([reference(referenced)])
    rt_study = Dataset()
    rt_study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management
    rt_study.ReferencedSOPInstanceUID = STUDY
    rt_study.RTReferencedSeriesSequence = Sequence([rt_series])
    frame_of_reference = Dataset()
    frame_of_reference.FrameOfReferenceUID = FRAME
    frame_of_reference.RTReferencedStudySequence = Sequence([rt_study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame_of_reference])
    uidref = Dataset()  # an SR content item whose value is the referenced instance's UID
    uidref.RelationshipType, uidref.ValueType = "CONTAINS", "UIDREF"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = (
        "121232", "DCM", "Source series for image processing")
    uidref.ConceptNameCodeSequence = Sequence([concept])
    uidref.UID = referenced
    ds.ContentSequence = Sequence([uidref])
    return ds


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.dcm", tmp_path / "b.dcm"
    instance(A_UID).save_as(a)
    referencing(B_UID, A_UID).save_as(b)
    return a, b


def run(source: Path, out: Path, *options: ProfileOption, key: bytes = KEY) -> Dataset:
    out.mkdir(exist_ok=True)
    path, _ = deidentify_file(source, out, DeidConfig(options=frozenset(options),
                                                      project_key=key))
    return dcmread(path)


def uid_elements(ds: Dataset, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, keyword, value) of every UI value at any depth."""
    for element in ds:
        here = f"{path}{element.keyword}"
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                yield from uid_elements(item, f"{here}[{index}]>")
        elif element.VR == "UI" and element.value:
            values = element.value if isinstance(element.value, list) else [element.value]
            for value in values:
                yield here, element.keyword, str(value)


def references_in(ds: Dataset) -> dict[str, str]:
    return {path: value for path, keyword, value in uid_elements(ds)
            if keyword == "ReferencedSOPInstanceUID"}


def is_replacement(uid: str) -> bool:
    """PS3.5 9.1 and B.2: valid, at most 64 characters, 2.25 and a 128-bit integer."""
    suffix = uid.removeprefix("2.25.")
    return (UID(uid).is_valid and len(uid) <= 64 and uid.startswith("2.25.")
            and suffix.isdigit() and int(suffix) < 2**128 and str(int(suffix)) == suffix)


def test_the_same_uid_gets_the_same_replacement_in_separate_runs(pair: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    first = run(pair[0], tmp_path / "job1")
    second_dir = tmp_path / "job2"
    second_dir.mkdir()
    separate = subprocess.run(  # another process: nothing but the key is shared
        [sys.executable, "-c", SEPARATE_RUN, str(pair[0]), str(second_dir), KEY.hex()],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ), timeout=120, check=False)
    assert separate.returncode == 0, separate.stderr
    second = dcmread(separate.stdout.strip().splitlines()[-1])
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
                    "FrameOfReferenceUID"):
        assert first[keyword].value == second[keyword].value, keyword
        assert first[keyword].value != instance(A_UID)[keyword].value, keyword


def test_another_key_gives_other_replacements(pair: tuple[Path, Path], tmp_path: Path) -> None:
    ours = run(pair[0], tmp_path / "ours")
    theirs = run(pair[0], tmp_path / "theirs", key=OTHER_KEY)
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
                    "FrameOfReferenceUID"):
        assert ours[keyword].value != theirs[keyword].value, keyword


def test_replacements_are_valid_uuid_derived_uids(pair: tuple[Path, Path], tmp_path: Path
                                                  ) -> None:
    source = dict((path, value) for path, _, value in uid_elements(dcmread(pair[1])))
    out = dict((path, value) for path, _, value in uid_elements(run(pair[1], tmp_path / "out")))
    mapping = {(source[path], out[path]) for path in source if out.get(path) != source[path]}
    assert {original for original, _ in mapping} == {STUDY, SERIES, FRAME, A_UID, B_UID}
    assert [new for _, new in mapping if not is_replacement(new)] == []
    assert len({new for _, new in mapping}) == len(mapping) == 5  # one each, never shared


def test_references_become_the_new_uid_of_the_referenced_instance(
        pair: tuple[Path, Path], tmp_path: Path) -> None:
    new_a = run(pair[0], tmp_path / "out")
    new_b = run(pair[1], tmp_path / "out")
    references = references_in(new_b)
    study_ref = "ReferencedFrameOfReferenceSequence[0]>RTReferencedStudySequence[0]>" \
                "ReferencedSOPInstanceUID"
    instance_refs = {path: uid for path, uid in references.items() if path != study_ref}
    assert len(instance_refs) == 5
    assert set(instance_refs.values()) == {new_a.SOPInstanceUID}
    assert references[study_ref] == new_a.StudyInstanceUID
    uidref = str(new_b.ContentSequence[0].UID)  # an SR UIDREF value references it too
    assert uidref == str(new_a.SOPInstanceUID)
    assert new_a.SOPInstanceUID != new_b.SOPInstanceUID
    # one frame of reference for the series, inside the RT-like nesting too
    assert new_a.FrameOfReferenceUID == new_b.FrameOfReferenceUID != FRAME
    assert (new_b.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID
            == new_a.FrameOfReferenceUID)
    rt_series = (new_b.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
                 .RTReferencedSeriesSequence[0])
    assert rt_series.SeriesInstanceUID == new_a.SeriesInstanceUID == new_b.SeriesInstanceUID
    assert new_b.ReferencedSeriesSequence[0].SeriesInstanceUID == new_a.SeriesInstanceUID


def standard_uids(ds: Dataset) -> list[tuple[str, str]]:
    """SOP Class UIDs and coding scheme UIDs: names of standard things, no instance's."""
    return [(path, value) for path, keyword, value in uid_elements(ds)
            if keyword.endswith("SOPClassUID") or keyword == "CodingSchemeUID"]


@pytest.mark.parametrize("options", [(), (ProfileOption.RETAIN_UIDS,)], ids=["basic", "uids"])
def test_class_syntax_and_coding_scheme_uids_never_change(
        pair: tuple[Path, Path], tmp_path: Path, options: tuple[ProfileOption, ...]) -> None:
    source = dcmread(pair[1])
    out = run(pair[1], tmp_path / "out", *options)
    assert standard_uids(out) == standard_uids(source)
    assert {value for _, value in standard_uids(out)} >= {SC_CLASS, SNOMED_UID, DCM_UID}
    assert out.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
    assert out.file_meta.MediaStorageSOPClassUID == source.file_meta.MediaStorageSOPClassUID


def test_retain_uids_keeps_every_uid(pair: tuple[Path, Path], tmp_path: Path) -> None:
    source = dcmread(pair[1])
    out = run(pair[1], tmp_path / "out", ProfileOption.RETAIN_UIDS)
    assert sorted(uid_elements(out)) == sorted(uid_elements(source))  # SR UIDREF values too
    assert out.file_meta.MediaStorageSOPInstanceUID == B_UID


def test_the_file_meta_follows_the_new_sop_instance_uid(pair: tuple[Path, Path], tmp_path: Path
                                                        ) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    path, result = deidentify_file(pair[1], out_dir, DeidConfig(project_key=KEY))
    out = dcmread(path)
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.SOPInstanceUID == result.dataset.SOPInstanceUID != B_UID
    assert path.name == f"{out.SOPInstanceUID}.dcm"  # the old UID is not in the file name


def dcmdump_all(path: Path, tag: str) -> list[str]:
    """Every value of ``tag`` at any depth, as DCMTK's dcmdump reads it (UIDs as numbers)."""
    run_ = subprocess.run([require_tool("dcmdump"), "-q", "-Un", "+P", tag, str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert run_.returncode == 0, run_.stderr
    return [line.split("[", 1)[1].split("]", 1)[0] for line in run_.stdout.splitlines()
            if "[" in line]


@pytest.mark.dcmtk
def test_dcmdump_reads_the_references_as_the_new_uid(pair: tuple[Path, Path], tmp_path: Path
                                                     ) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    a_path, _ = deidentify_file(pair[0], a_dir, DeidConfig(project_key=KEY))
    b_path, _ = deidentify_file(pair[1], b_dir, DeidConfig(project_key=KEY))
    (new_a,) = dcmdump_all(a_path, "0008,0018")
    assert is_replacement(new_a)
    assert dcmdump_all(a_path, "0002,0003") == [new_a]
    assert set(dcmdump_all(b_path, "0008,1155")) == {new_a, *dcmdump_all(a_path, "0020,000d")}
    assert sorted(dcmdump_all(b_path, "0008,1150")) == sorted(
        [SC_CLASS] * 5 + ["1.2.840.10008.3.1.2.3.1"])
    assert set(dcmdump_all(b_path, "0020,0052")) == set(dcmdump_all(a_path, "0020,0052"))
    assert sorted(dcmdump_all(b_path, "0008,010c")) == sorted([SNOMED_UID, DCM_UID, DCM_UID])
