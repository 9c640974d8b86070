"""Helpers for media tests: what a DICOMDIR holds by DCMTK's reading (dcmdump +dc), the
files of a medium, and the archive's copies to compare them with."""

from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile
from pathlib import Path

from archive.models import Instance
from archive.storage import absolute_path

ITEM = re.compile(r'^\s*\(0004,1430\) CS \[([^\]]*)\]')
FILE_ID = re.compile(r'^\s*\(0004,1500\) CS \[([^\]]*)\]')
SOP_UID = re.compile(r'^\s*\(0004,1511\) UI \[([^\]]*)\]')


def dcmtk_records(dicomdir: Path) -> list[tuple[str, str, str]]:
    """(record type, referenced file ID, referenced SOP Instance UID) as dcmdump reads them."""
    out = subprocess.run(["dcmdump", "+dc", "-q", str(dicomdir)], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    records: list[list[str]] = []
    for line in out.splitlines():
        if (found := ITEM.match(line)) is not None:
            records.append([found.group(1).strip(), "", ""])
        elif (found := FILE_ID.match(line)) is not None and records:
            records[-1][1] = found.group(1)
        elif (found := SOP_UID.match(line)) is not None and records:
            records[-1][2] = found.group(1)
    return [(kind, file_id, uid) for kind, file_id, uid in records]


def dciodvfy_errors(path: Path) -> list[str]:
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60,
                          check=False)
    return [line for line in (done.stdout + done.stderr).splitlines()
            if line.startswith("Error")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def archived_digests(instances: list[Instance]) -> dict[str, str]:
    return {i.sop_instance_uid: sha256(absolute_path(i.file_path)) for i in instances}


def unzip(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(target)
    return target


def medium_digests(folder: Path) -> dict[str, str]:
    """SOP Instance UID → digest of each file the DICOMDIR references (by DCMTK's reading)."""
    return {uid: sha256(folder.joinpath(*file_id.split("\\")))
            for _, file_id, uid in dcmtk_records(folder / "DICOMDIR") if file_id}
