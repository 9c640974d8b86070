"""Oracles for the attribute edit tests: DCMTK dcmdump lines, normalised where two
correct writers may differ (sequence/item length encoding, delimitation items)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.peers import require_tool

CORPUS = Path("/work/shared/dicom-corpus")
_LENGTH = re.compile(r"\s+#\s*\d+,\s*(\d+)\s+(\S+)$")


def dcmdump_lines(path: Path, meta: bool = False) -> list[str]:
    """Data set lines of dcmdump (meta lines too when asked): 'tag VR value … VM name',
    with the byte length column and sequence/item length encodings left out."""
    run = subprocess.run([require_tool("dcmdump"), "-q", "+L", str(path)],
                         capture_output=True, text=True, errors="replace", timeout=60)
    assert run.returncode == 0, run.stderr
    lines, in_meta = [], False
    for line in run.stdout.splitlines():
        if line.startswith("# Dicom-Meta-Information-Header"):
            in_meta = True
        elif line.startswith("# Dicom-Data-Set"):
            in_meta = False
        if not line.strip() or line.startswith("#") or (in_meta and not meta):
            continue
        if "(fffe,e00d)" in line or "(fffe,e0dd)" in line:
            continue
        line = re.sub(r"\((Sequence|Item) with (explicit|undefined) length", r"(\1", line)
        line = _LENGTH.sub(r"  # \1 \2", line.rstrip())
        lines.append(re.sub(r"\s+", " ", line).strip())
    return lines


def tags_of(lines: list[str]) -> set[str]:
    return {line.split(" ")[0] for line in lines}


def copy_of(name: str, folder: Path) -> Path:
    target = folder / name
    shutil.copyfile(CORPUS / name, target)
    return target


def dcmodify(path: Path, *arguments: str) -> None:
    run = subprocess.run([require_tool("dcmodify"), "-nb", *arguments, str(path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def deflated_copy(name: str, folder: Path) -> Path:
    """A Deflated Explicit VR Little Endian copy made by DCMTK (the corpus has none)."""
    target = folder / f"deflated_{name}"
    run = subprocess.run([require_tool("dcmconv"), "+td", str(CORPUS / name), str(target)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return target
