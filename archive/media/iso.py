"""A File-set folder packed as an ISO 9660 image (PS3.12 Annex F) or a ZIP archive.

The image is ISO 9660 level 1, as PS3.12 F.1.2.1 wants it: a file ID's components are the
directory and file identifiers, each file named ``COMPONENT.;1`` (no extension, version 1,
which is what ``xorriso -as mkisofs -iso-level 1`` writes for names without a dot); Rock
Ridge (xorriso's default) gives the same names without the ``.;1`` when mounted or
extracted. Both are written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from pathlib import Path

from archive.media.build import FileSetRefused

ISO_TIMEOUT_SECONDS = 3600
VOLUME_ID_CHARS = 32
STDERR_TAIL_CHARS = 1500
_NOT_D_CHARACTER = re.compile(r"[^A-Z0-9_]")
_DEFLATED_NAMES = frozenset({"DICOMDIR", "README"})


def iso_volume_id(fileset_id: str) -> str:
    """The ISO 9660 Volume Identifier for a File-set ID: d-characters (A-Z, 0-9, _), spaces
    as "_", at most 32; "DICOM" when nothing is left."""
    cleaned = _NOT_D_CHARACTER.sub("", fileset_id.strip().upper().replace(" ", "_"))
    return cleaned[:VOLUME_ID_CHARS] or "DICOM"


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}.part")


def make_iso(folder: Path, target: Path, volume_id: str) -> None:
    """Write ``folder`` as an ISO 9660 level 1 image at ``target`` (replacing it)."""
    partial = _partial(target)
    partial.unlink(missing_ok=True)
    command = ["xorriso", "-as", "mkisofs", "-iso-level", "1", "-V",
               iso_volume_id(volume_id), "-o", str(partial), str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=ISO_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        partial.unlink(missing_ok=True)
        raise FileSetRefused(f"xorriso did not finish the ISO image within "
                             f"{ISO_TIMEOUT_SECONDS} s") from None
    except OSError as exc:
        raise FileSetRefused(f"xorriso could not be run: {exc}") from None
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise FileSetRefused(f"xorriso could not write the ISO image (exit "
                             f"{done.returncode}): {done.stderr.strip()[-STDERR_TAIL_CHARS:]}")
    os.replace(partial, target)


def _members(folder: Path) -> list[Path]:
    """The folder's files, the DICOMDIR and README first, then by name."""
    files = [path for path in folder.rglob("*") if path.is_file() and not path.is_symlink()]
    return sorted(files, key=lambda p: (p.parent != folder or p.name not in _DEFLATED_NAMES,
                                        p.relative_to(folder).as_posix()))


def zip_fileset(folder: Path, target: Path) -> None:
    """Write ``folder`` as a ZIP at ``target`` with the same relative names (replacing it).
    DICOM files are stored as they are; the DICOMDIR and README are deflated."""
    partial = _partial(target)
    try:
        with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
            for path in _members(folder):
                name = path.relative_to(folder).as_posix()
                method = (zipfile.ZIP_DEFLATED if name in _DEFLATED_NAMES
                          else zipfile.ZIP_STORED)
                archive.write(path, name, compress_type=method)
        with partial.open("rb+") as file:
            os.fsync(file.fileno())
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise FileSetRefused(f"the ZIP could not be written: {exc}") from None
    os.replace(partial, target)
