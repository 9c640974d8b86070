"""Oracle: the console's DICOM JSON equals DCMTK's dcm2json on every corpus file, compared
as parsed structures (same elements, VRs and values; numbers compared as numbers)."""

import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from archive.inspect.dicomjson import to_dicom_json
from archive.inspect.loading import UN_FALLBACK_WARNING, load
from tests.archive_helpers import CORPUS
from tests.peers import require_tool

PIXEL_DATA = "7FE00010"
# Files DCMTK's dcm2json refuses: there dcmdump is the oracle for elements and VRs.
DCM2JSON_REFUSES = {
    "emri_small_jpeg_2k_lossless_too_short.dcm": "Sequence Delimitation Item missing",
    "explicit_VR-UN.dcm": "Cannot select source character set",
}
FILES = sorted(p.name for p in CORPUS.glob("*.dcm") if p.name not in DCM2JSON_REFUSES)


def dcmdump_top_level(path: Path) -> dict[str, str]:
    """Top-level data set elements (tag → VR) as dcmdump lists them."""
    done = subprocess.run(
        [require_tool("dcmdump"), "-q", "--stop-before-elem", "7fe0,0010", str(path)],
        capture_output=True, text=True, errors="replace",
    )
    elements = {}
    for line in done.stdout.splitlines():
        match = re.match(r"^\(([0-9a-f]{4}),([0-9a-f]{4})\) ([A-Z?]{2})", line)
        if match and match[1] != "0002" and match[2] != "0000":
            elements[(match[1] + match[2]).upper()] = match[3]
    return elements


@pytest.mark.parametrize("name", sorted(DCM2JSON_REFUSES))
def test_where_dcm2json_refuses_the_elements_match_dcmdump(name: str) -> None:
    path = CORPUS / name
    refused = subprocess.run([require_tool("dcm2json"), str(path)], capture_output=True)
    assert refused.returncode != 0
    assert DCM2JSON_REFUSES[name] in refused.stderr.decode(errors="replace")
    loaded = load(path)
    ours = to_dicom_json(loaded.dataset, little_endian=loaded.little_endian)
    expected = dcmdump_top_level(path)
    assert expected
    assert set(expected) <= set(ours)
    for tag, vr in expected.items():
        # Where pydicom must fall back to the dictionary, an element DCMTK shows as UN
        # carries its dictionary VR, and the loader says so in a warning.
        assert ours[tag]["vr"] == vr or (vr == "UN" and UN_FALLBACK_WARNING in loaded.warnings)


def dcm2json(path: Path, tmp_path: Path) -> tuple[dict[str, Any], bool]:
    """DCMTK's JSON; for encapsulated pixel data (which dcm2json cannot inline) the JSON of a
    copy with Pixel Data erased by dcmodify. Returns (json, pixel data erased)."""
    done = subprocess.run([require_tool("dcm2json"), str(path)], capture_output=True)
    if done.returncode == 0:
        return json.loads(done.stdout), False
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    subprocess.run([require_tool("dcmodify"), "-nb", "-ie", "-ea", "(7fe0,0010)", str(copy)],
                   capture_output=True, check=True)
    done = subprocess.run([require_tool("dcm2json"), str(copy)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout), True


def same(ours: Any, theirs: Any, where: str) -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        problems = []
        for key in sorted(set(ours) | set(theirs)):
            if key not in theirs:
                problems.append(f"{where}/{key}: only in ours")
            elif key not in ours:
                problems.append(f"{where}/{key}: only in dcm2json")
            else:
                problems += same(ours[key], theirs[key], f"{where}/{key}")
        return problems
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{where}: {len(ours)} values vs {len(theirs)}"]
        return [p for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
                for p in same(a, b, f"{where}[{i}]")]
    if isinstance(ours, int | float) and isinstance(theirs, int | float):
        return [] if math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=0) else [
            f"{where}: {ours} vs {theirs}"]
    return [] if ours == theirs else [f"{where}: {ours!r:.80} vs {theirs!r:.80}"]


@pytest.mark.parametrize("name", FILES)
def test_json_equals_dcm2json(name: str, tmp_path: Path) -> None:
    path = CORPUS / name
    theirs, erased = dcm2json(path, tmp_path)
    loaded = load(path)
    ours = to_dicom_json(loaded.dataset, little_endian=loaded.little_endian)
    if erased:
        ours.pop(PIXEL_DATA, None)
    problems = same(ours, theirs, "")
    assert problems == [], "\n".join(problems[:20])
