"""Oracle: DCMTK. Our edit of a corpus file, dumped by dcmdump, differs from the original
in exactly the edited lines, and equals dcmodify's edit of a copy (data set part); the
transfer syntax and Pixel Data bytes are kept. XML/JSON updates come from dcm2xml/dcm2json."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from archive.objects.edit import (
    NewUids,
    changes_from_dcmodify,
    changes_from_json,
    changes_from_xml,
    edit_command_lines,
    edit_file,
)
from tests.edit_helpers import CORPUS, copy_of, dcmdump_lines, dcmodify, deflated_copy, tags_of
from tests.peers import require_tool

EDIT = """
# a comment line
-m "(0010,0010)=Doe^John"
-i PatientID=123
-i (0008,1030)="Head CT"
-e (0010,1010)
"""
DCMODIFY = ["-m", "(0010,0010)=Doe^John", "-i", "(0010,0020)=123", "-i",
            "(0008,1030)=Head CT", "-e", "(0010,1010)"]
EDITED_TAGS = {"(0010,0010)", "(0010,0020)", "(0008,1030)", "(0010,1010)"}


def source_file(kind: str, folder: Path) -> Path:
    if kind == "deflated":
        return deflated_copy("SC_rgb.dcm", folder)
    return copy_of({"explicit": "SC_rgb.dcm", "implicit": "gdcm-US-ALOKA-16.dcm",
                    "big_endian": "emri_small_big_endian.dcm"}[kind], folder)


def _pixels(path: Path) -> bytes:
    ds = dcmread(path)
    return bytes(ds.get_item(0x7FE00010).value)


@pytest.mark.parametrize("kind", ["explicit", "implicit", "big_endian", "deflated"])
def test_edit_equals_dcmodify_and_changes_only_the_edited_lines(kind: str,
                                                                 tmp_path: Path) -> None:
    source = source_file(kind, tmp_path)
    ours = tmp_path / "ours.dcm"
    applied = edit_file(source, ours, changes_from_dcmodify(EDIT))

    theirs = tmp_path / "theirs.dcm"
    theirs.write_bytes(source.read_bytes())
    dcmodify(theirs, "-imt", *DCMODIFY)

    assert dcmdump_lines(ours) == dcmdump_lines(theirs)
    before, after = dcmdump_lines(source), dcmdump_lines(ours)
    differing = set(before) ^ set(after)
    assert tags_of(list(differing)) <= EDITED_TAGS
    assert "(0010,0010)" in tags_of(list(differing))
    # the file meta is as it was (group length aside, nothing in it was edited)
    meta_before = [line for line in dcmdump_lines(source, meta=True) if "(0002," in line
                   and "(0002,0000)" not in line]
    meta_after = [line for line in dcmdump_lines(ours, meta=True) if "(0002," in line
                  and "(0002,0000)" not in line]
    assert meta_before == meta_after
    assert _pixels(ours) == _pixels(source)
    assert dcmread(ours).file_meta.TransferSyntaxUID == dcmread(source).file_meta.TransferSyntaxUID
    assert {change.tag for change in applied} <= EDITED_TAGS
    name = next(change for change in applied if change.keyword == "PatientName")
    assert name.new == "[Doe^John]"


def test_sequences_items_and_wildcards_like_dcmodify(tmp_path: Path) -> None:
    source = copy_of("SC_rgb.dcm", tmp_path)
    text = """
    -i "(0008,1110)[1].(0008,1155)=1.2.3.4"
    -i "ReferencedStudySequence[0].ReferencedSOPClassUID=1.2.840.10008.3.1.2.3.1"
    -i "(0008,1110)[*].(0008,1150)=1.2.840.10008.3.1.2.3.1"
    -m "ReferencedStudySequence[1].ReferencedSOPInstanceUID=1.2.3.5"
    """
    ours = tmp_path / "ours.dcm"
    applied = edit_file(source, ours, changes_from_dcmodify(text))
    theirs = tmp_path / "theirs.dcm"
    theirs.write_bytes(source.read_bytes())
    dcmodify(theirs, "-i", "(0008,1110)[1].(0008,1155)=1.2.3.4",
             "-i", "(0008,1110)[0].(0008,1150)=1.2.840.10008.3.1.2.3.1",
             "-i", "(0008,1110)[*].(0008,1150)=1.2.840.10008.3.1.2.3.1",
             "-m", "(0008,1110)[1].(0008,1155)=1.2.3.5")
    assert dcmdump_lines(ours) == dcmdump_lines(theirs)
    paths = {change.path for change in applied}
    assert "(0008,1110)[1].(0008,1155)" in paths
    assert "(0008,1110)[0].(0008,1150)" in paths


def test_private_elements_by_creator_and_raw_tag(tmp_path: Path) -> None:
    source = copy_of("SC_rgb.dcm", tmp_path)
    first = tmp_path / "first.dcm"
    edit_file(source, first, changes_from_dcmodify(
        """-i '(0009,"ACME 1.0",10) LO=first value'\n-i (0011,"ACME 1.0",02) US=7"""))
    ds = dcmread(first)
    assert ds.private_block(0x0009, "ACME 1.0")[0x10].value == "first value"
    assert ds.private_block(0x0011, "ACME 1.0")[0x02].value == 7
    block = ds.private_block(0x0009, "ACME 1.0").block_start >> 8
    raw_tag = f"(0009,{block:02X}10)"
    second = tmp_path / "second.dcm"
    applied = edit_file(first, second, changes_from_dcmodify(f"-m {raw_tag}=second"))
    assert dcmread(second).private_block(0x0009, "ACME 1.0")[0x10].value == "second"
    assert applied[0].path == '(0009,"ACME 1.0",10)'
    dump = "\n".join(dcmdump_lines(second))
    assert "[ACME 1.0]" in dump and "[second]" in dump


def test_remove_all_and_private_like_dcmodify(tmp_path: Path) -> None:
    source = copy_of("MR-SIEMENS-DICOM-WithOverlays.dcm", tmp_path)
    ours = tmp_path / "ours.dcm"
    edit_file(source, ours, changes_from_dcmodify("-ep\n-ea (0008,0080)"))
    theirs = tmp_path / "theirs.dcm"
    theirs.write_bytes(source.read_bytes())
    dcmodify(theirs, "-ep", "-ea", "(0008,0080)")
    assert dcmdump_lines(ours) == dcmdump_lines(theirs)


def _update_source(tmp_path: Path) -> Path:
    ds = dcmread(CORPUS / "SC_rgb.dcm")
    small = Dataset()
    small.PatientName = "Update^Me"
    small.StudyDescription = "From a document"
    small.AccessionNumber = ""
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    item.ReferencedSOPInstanceUID = "1.2.3.99"
    small.ReferencedStudySequence = [item]
    small.file_meta = ds.file_meta
    path = tmp_path / "update.dcm"
    small.save_as(path, enforce_file_format=False)
    return path


@pytest.mark.parametrize("tool", ["dcm2xml", "dcm2json"])
def test_xml_and_json_updates_from_dcmtk(tool: str, tmp_path: Path) -> None:
    update = _update_source(tmp_path)
    argv = [require_tool(tool), *(["-nat"] if tool == "dcm2xml" else []), str(update)]
    document = subprocess.run(argv, capture_output=True, timeout=60, check=True).stdout
    changes = changes_from_xml(document) if tool == "dcm2xml" else changes_from_json(document)
    ours = tmp_path / "ours.dcm"
    edit_file(CORPUS / "SC_rgb.dcm", ours, changes)
    wanted = [line for line in dcmdump_lines(update) if not line.startswith("(0008,0005)")]
    result = dcmdump_lines(ours)
    for line in wanted:
        assert line in result
    # the rest of the file is as it was
    untouched = set(dcmdump_lines(CORPUS / "SC_rgb.dcm")) - set(result)
    assert tags_of(list(untouched)) <= {"(0010,0010)", "(0008,0050)", "(0008,1110)"}


@pytest.mark.parametrize(("line", "new_uids", "why"), [
    ("-e PatientID", False, "cannot remove PatientID (0010,0020)"),
    ("-ep", False, "cannot remove the private elements"),
    ("-ma PatientID=x", False, "not PatientID (0010,0020) at every depth"),
    ("-i ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3", False,
     "replaces the whole sequence"),
    ("-i ReferencedStudySequence[0]", False, "replaces the whole sequence"),
    ("-i PatientID=123", True, "no option to generate new UIDs"),
])
def test_an_edit_xml2dcm_cannot_make_says_why(line: str, new_uids: bool, why: str) -> None:
    """xml2dcm (-i/-x/-o, a merge that only sets values) has no removal, no UID option,
    and a sequence in its document replaces the file's: the dcm4che line says so, as a
    shell comment, and no xml2dcm command is offered."""
    uids = NewUids(study=True, series=True, instance=True) if new_uids else None
    lines = dict(edit_command_lines(changes_from_dcmodify(line), uids, "in.dcm", "out.dcm"))
    assert lines["dcm4che"].startswith("# no dcm4che line: ")
    assert why in lines["dcm4che"] and "xml2dcm -i" not in lines["dcm4che"]
    assert "dcmodify" in lines["DCMTK"]


def test_command_lines_name_dcmodify_and_xml2dcm(tmp_path: Path) -> None:
    lines = dict(edit_command_lines(changes_from_dcmodify(EDIT), None, "in.dcm", "out.dcm"))
    assert "dcmodify" in lines["DCMTK"] and "-e '(0010,1010)'" in lines["DCMTK"]
    assert lines["dcm4che"].startswith("# no dcm4che line: xml2dcm only sets values")
    only_sets = changes_from_dcmodify("-i PatientID=123")
    lines = dict(edit_command_lines(only_sets, None, "in.dcm", "out.dcm"))
    assert lines["dcm4che"].startswith("xml2dcm -i in.dcm -x - -o out.dcm")
    # the DCMTK line really does the edit
    target = tmp_path / "t.dcm"
    source = copy_of("SC_rgb.dcm", tmp_path)
    command = dict(edit_command_lines(changes_from_dcmodify(EDIT), None, str(source),
                                      str(target)))["DCMTK"]
    subprocess.run(command, shell=True, check=True, timeout=60, capture_output=True)
    ours = tmp_path / "ours.dcm"
    edit_file(source, ours, changes_from_dcmodify(EDIT))
    assert dcmdump_lines(target) == dcmdump_lines(ours)
