"""Importing a medium the console built: its folder, or the files of its ZIP or ISO image
(extracted beside the job's other files, with xorriso for an ISO, and removed afterwards);
the medium's DICOMDIR says which files are imported."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.conversions.jobs.outputs import job_folder
from archive.media.models import Medium, MediumFormat
from netjobs.jobs.base import JobFailed

EXTRACT_SECONDS = 3600  # an ISO of a full DVD takes minutes to extract, never hours


def existing_medium(value: int | None) -> int | None:
    """For pydantic ``field_validator``: a medium that is still on disk."""
    if value is None:
        return None
    medium = Medium.objects.filter(pk=value).first()
    if medium is None:
        raise ValueError(f"no medium {value}")
    if not medium.is_present:
        raise ValueError(f"medium {value} is no longer on disk ({medium.location})")
    return value


@contextmanager
def medium_files(medium_id: int, job_id: int) -> Iterator[tuple[Path, list[Path]]]:
    """(root, allowed roots) to import a medium from; nothing outside them is read."""
    medium = Medium.objects.filter(pk=medium_id).first()
    if medium is None or not medium.is_present:
        raise JobFailed(f"Medium {medium_id} is gone.")
    location = medium.path.resolve()
    if medium.format == MediumFormat.FOLDER:
        yield location, [location]  # its DICOMDIR says which files to import
        return
    target = job_folder(job_id) / "medium-files"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        if medium.format == MediumFormat.ISO:
            extract_iso(location, target)
        else:
            extract_zip(location, target)
        yield target, [target.resolve()]
    finally:
        shutil.rmtree(target, ignore_errors=True)


def extract_zip(archive: Path, target: Path) -> None:
    """Every member of a medium's ZIP into ``target`` (names with ``..`` or a leading ``/``
    are made safe by ``extractall``)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
    except (zipfile.BadZipFile, OSError) as exc:
        raise JobFailed(f"{archive.name} cannot be read: {exc}") from None


def extract_iso(image: Path, target: Path) -> None:
    """Every file of an ISO 9660 image into ``target`` (xorriso's osirrox)."""
    xorriso = shutil.which("xorriso")
    if xorriso is None:
        raise JobFailed("xorriso is not installed: the ISO image cannot be read")
    done = subprocess.run([xorriso, "-osirrox", "on", "-indev", str(image), "-extract", "/",
                           str(target)], capture_output=True, text=True,
                          timeout=EXTRACT_SECONDS, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise JobFailed(f"xorriso could not read {image.name}: {' '.join(tail)}")
    for path in target.rglob("*"):  # osirrox keeps the image's read-only modes
        path.chmod(0o755 if path.is_dir() else 0o644)
