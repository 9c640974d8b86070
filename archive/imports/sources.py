"""What an import reads: the files under a path, the members of ZIP files, and the files a
DICOMDIR references. Each candidate is handed over as a path on disk; ZIP members are
streamed to a temporary file one at a time, never held in memory."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from pydicom import dcmread

from archive.imports.roots import is_under

DICOMDIR_NAME = "DICOMDIR"


@dataclass(frozen=True)
class Candidate:
    name: str  # what the operator recognises: a relative path or "archive.zip:member"
    path: Path | None  # None: skipped, with ``problem`` saying why
    problem: str = ""


def is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" and zipfile.is_zipfile(path)


def find_dicomdir(folder: Path) -> Path | None:
    for entry in folder.iterdir():
        if entry.name.upper() == DICOMDIR_NAME and entry.is_file():
            return entry
    return None


def dicomdir_references(dicomdir: Path) -> list[Path]:
    """The files a DICOMDIR's records reference (Referenced File ID), case-insensitively."""
    ds = dcmread(dicomdir, force=True)
    base = dicomdir.parent
    found: list[Path] = []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        found.append(_case_insensitive(base, [str(p).strip() for p in parts]))
    return list(dict.fromkeys(found))


def _case_insensitive(base: Path, parts: list[str]) -> Path:
    path = base
    for part in parts:
        exact = path / part
        if exact.exists() or not path.is_dir():
            path = exact
            continue
        matches = [entry for entry in path.iterdir() if entry.name.upper() == part.upper()]
        path = matches[0] if matches else exact
    return path


def count_candidates(root: Path, roots: list[Path]) -> int:
    return sum(1 for _ in _walk(root, roots, count_only=True))


def iter_candidates(root: Path, roots: list[Path]) -> Iterator[Candidate]:
    yield from _walk(root, roots, count_only=False)


def _walk(root: Path, roots: list[Path], count_only: bool) -> Iterator[Candidate]:
    if root.is_file():
        if root.name.upper() == DICOMDIR_NAME:
            yield from _dicomdir(root, root.parent, roots)
        elif is_zip(root):
            yield from _zip(root, root.name, count_only)
        else:
            yield Candidate(root.name, root)
        return
    dicomdir = find_dicomdir(root)
    if dicomdir is not None:
        yield from _dicomdir(dicomdir, root, roots)
        return
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            shown = str(path.relative_to(root))
            resolved = path.resolve()
            if not is_under(resolved, roots):
                yield Candidate(shown, None, "skipped: a link to outside the allowed folders")
            elif is_zip(resolved):
                yield from _zip(resolved, shown, count_only)
            else:
                yield Candidate(shown, resolved)


def _dicomdir(dicomdir: Path, base: Path, roots: list[Path]) -> Iterator[Candidate]:
    try:
        references = dicomdir_references(dicomdir)
    except Exception as exc:  # an unreadable DICOMDIR: fall back to no candidates but say so
        yield Candidate(dicomdir.name, None, f"unreadable DICOMDIR ({type(exc).__name__}: {exc})")
        return
    for path in references:
        shown = str(path.relative_to(base)) if path.is_relative_to(base) else str(path)
        resolved = path.resolve()
        if not is_under(resolved, roots):
            yield Candidate(shown, None, "skipped: the DICOMDIR points outside the allowed folders")
        elif not resolved.is_file():
            yield Candidate(shown, None, "listed in the DICOMDIR but missing on the media")
        else:
            yield Candidate(shown, resolved)


def _zip(archive: Path, shown: str, count_only: bool) -> Iterator[Candidate]:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            declared = sum(m.file_size for m in members)
            if declared > settings.IMPORT_ZIP_MAX_BYTES:
                yield Candidate(
                    shown, None,
                    f"ZIP expands to {declared} bytes, over the limit of "
                    f"{settings.IMPORT_ZIP_MAX_BYTES}",
                )
                return
            for member in members:
                name = f"{shown}:{member.filename}"
                if count_only:
                    yield Candidate(name, None)
                    continue
                yield from _zip_member(zf, member, name)
    except (zipfile.BadZipFile, OSError) as exc:
        yield Candidate(shown, None, f"unreadable ZIP file ({exc})")


def _zip_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> Iterator[Candidate]:
    handle, temporary = tempfile.mkstemp(prefix="zip-member-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    try:
        with os.fdopen(handle, "wb") as out, zf.open(member) as inp:
            shutil.copyfileobj(inp, out, 1024 * 1024)
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:  # CRC error, encrypted…
        Path(temporary).unlink(missing_ok=True)
        yield Candidate(name, None, f"cannot be extracted from the ZIP ({exc})")
        return
    try:
        yield Candidate(name, Path(temporary))
    finally:
        Path(temporary).unlink(missing_ok=True)
