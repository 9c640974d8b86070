"""New UIDs for a set: three files of one series get one new study UID, one new series
UID and three new SOP Instance UIDs; a reference from one file to another follows; the
file meta follows; no old UID is left (dcmdump is the oracle)."""

from __future__ import annotations

import re
from pathlib import Path

from pydicom import dcmread

from archive.objects.edit import NewUids, UidMap, edit_command_lines, edit_file
from tests.edit_helpers import copy_of, dcmdump_lines, dcmodify

UID = re.compile(r"\[([0-9.]+)\]")


def _value(lines: list[str], tag: str) -> str:
    found = [UID.search(line) for line in lines if line.startswith(tag)]
    assert found and found[0]
    return found[0].group(1)


def test_three_files_of_a_series(tmp_path: Path) -> None:
    files = []
    for number in range(3):
        path = copy_of("SC_rgb.dcm", tmp_path)
        target = tmp_path / f"in{number}.dcm"
        path.rename(target)
        dcmodify(target, "-gin")  # DCMTK: a new SOP Instance UID, same study and series
        files.append(target)
    second_sop = _value(dcmdump_lines(files[1]), "(0008,0018)")
    dcmodify(files[0], "-i", "(0008,1140)[0].(0008,1150)=1.2.840.10008.5.1.4.1.1.7",
             "-i", f"(0008,1140)[0].(0008,1155)={second_sop}")
    old = [dcmdump_lines(path, meta=True) for path in files]
    old_uids = {_value(lines, tag) for lines in old
                for tag in ("(0020,000d)", "(0020,000e)", "(0008,0018)")}
    assert len(old_uids) == 5

    uid_map = UidMap.from_datasets(dcmread(path) for path in files)
    outputs = []
    for number, path in enumerate(files):
        out = tmp_path / f"out{number}.dcm"
        edit_file(path, out, [], uid_map)
        outputs.append(dcmdump_lines(out, meta=True))

    studies = {_value(lines, "(0020,000d)") for lines in outputs}
    series = {_value(lines, "(0020,000e)") for lines in outputs}
    sops = [_value(lines, "(0008,0018)") for lines in outputs]
    assert len(studies) == 1 and len(series) == 1 and len(set(sops)) == 3
    assert not (studies | series | set(sops)) & old_uids
    for lines, sop in zip(outputs, sops, strict=True):
        assert _value(lines, "(0002,0003)") == sop
        assert not any(uid in " ".join(lines) for uid in old_uids)
    reference = [line for line in outputs[0] if line.startswith("(0008,1155)")]
    assert reference and sops[1] in reference[0]


def test_only_the_chosen_levels(tmp_path: Path) -> None:
    source = copy_of("SC_rgb.dcm", tmp_path)
    uid_map = UidMap.from_datasets([dcmread(source)], NewUids(study=False, series=False))
    out = tmp_path / "out.dcm"
    applied = edit_file(source, out, [], uid_map)
    before, after = dcmdump_lines(source), dcmdump_lines(out)
    assert _value(before, "(0020,000d)") == _value(after, "(0020,000d)")
    assert _value(before, "(0008,0018)") != _value(after, "(0008,0018)")
    assert {change.tag for change in applied} == {"(0008,0018)", "(0002,0003)"}
    lines = dict(edit_command_lines([], NewUids(study=False, series=False), "a", "b"))
    assert "-gin" in lines["DCMTK"] and "-gst" not in lines["DCMTK"]
