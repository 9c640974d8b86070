"""A new File-set from source files (mkmedia), or new files added to one (dcmdir -u).

Either way the files are copied first, each to a new file ID, then the README and last the
DICOMDIR are written (atomically), so a File-set's DICOMDIR never references a file that is
not complete. An existing DICOMDIR is rewritten only when it was read whole and sound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from pydicom.uid import generate_uid

from archive.media.build.adding import PHASES, FileAdder
from archive.media.build.lock import fileset_lock
from archive.media.build.outcomes import (
    BuildOptions,
    BuildReport,
    FileOutcome,
    FileOutcomeKind,
    FileSetRefused,
    MediumSource,
)
from archive.media.build.tree import RecordTree
from archive.media.dicomdir.invent import Inventor
from archive.media.dicomdir.model import Directory
from archive.media.dicomdir.reader import NotADicomdir, read_dicomdir
from archive.media.dicomdir.writer import write_dicomdir
from archive.media.layout import Layout
from archive.media.profiles import MediaProfile
from archive.media.readme import README_FILE_ID, is_ours, profile_of, render_readme, write_readme

DICOMDIR = "DICOMDIR"
PROBLEMS_SHOWN = 3
Progress = Callable[[int], None]


def dicomdir_path(folder: Path) -> Path | None:
    """The File-set's DICOMDIR (its name in any case), if there is one."""
    if not folder.is_dir():
        return None
    return next((entry for entry in folder.iterdir()
                 if entry.name.upper() == DICOMDIR and entry.is_file()), None)


def read_existing(folder: Path) -> tuple[Path, Directory]:
    """The File-set's DICOMDIR and its Directory; FileSetRefused unless it reads whole and
    without problems (a broken DICOMDIR is never rewritten)."""
    path = dicomdir_path(folder)
    if path is None:
        raise FileSetRefused(f"{folder} holds no DICOMDIR: it is not a File-set")
    try:
        reading = read_dicomdir(path)
    except NotADicomdir as exc:
        raise FileSetRefused(f"the DICOMDIR in {folder} cannot be read: {exc}") from None
    if reading.stopped or reading.problems:
        shown = [p.message for p in reading.problems[:PROBLEMS_SHOWN]]
        why = "; ".join(([reading.stopped] if reading.stopped else []) + shown)
        more = len(reading.problems) - len(shown)
        raise FileSetRefused(
            f"the DICOMDIR in {folder} is damaged ({why}"
            + (f"; and {more} more problem(s)" if more > 0 else "")
            + "): it is left as it is; check it (dcmdir check) or make a new medium")
    return path, reading.directory


def refresh_readme(folder: Path, directory: Directory, profile: MediaProfile | None) -> None:
    """Rewrite the README this console wrote (the File-set descriptor), counts and all; any
    other descriptor file is left alone."""
    if directory.descriptor_file_id != README_FILE_ID:
        return
    path = folder / README_FILE_ID[0]
    if path.exists() and not is_ours(path):
        return
    if profile is None and path.exists():
        profile = profile_of(path.read_text("ascii", errors="replace"))
    write_readme(path, render_readme(directory, profile, datetime.now()))


def _add_all(adder: FileAdder, sources: Iterable[MediumSource],
             progress: Progress | None) -> list[FileOutcome]:
    outcomes: list[FileOutcome] = []
    for done, source in enumerate(sources, start=1):
        outcomes.append(adder.add(source))
        if progress is not None:
            progress(done)
    return outcomes


def _write(folder: Path, path: Path, directory: Directory, adder: FileAdder,
           outcomes: list[FileOutcome], profile: MediaProfile) -> BuildReport:
    try:
        refresh_readme(folder, directory, profile)
    except OSError as exc:
        raise FileSetRefused(f"the README could not be written in {folder}: "
                             f"{exc.strerror or exc}") from None
    started = time.monotonic()
    try:
        size = write_dicomdir(directory, path)
    except (OSError, ValueError) as exc:
        raise FileSetRefused(f"the DICOMDIR could not be written in {folder}: {exc}") from None
    seconds = {phase: round(adder.seconds.get(phase, 0.0), 6) for phase in PHASES}
    seconds["dicomdir"] = time.monotonic() - started
    return BuildReport(outcomes, directory, size, seconds)


def _added(outcomes: list[FileOutcome]) -> bool:
    return any(o.kind in (FileOutcomeKind.ADDED, FileOutcomeKind.FIXED) for o in outcomes)


def build_fileset(folder: Path, sources: Iterable[MediumSource], options: BuildOptions,
                  progress: Progress | None = None) -> BuildReport:
    """A new File-set in ``folder`` (made if missing; it must be empty) from ``sources``,
    in their order; FileSetRefused when the folder is not empty or no DICOMDIR could be
    written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileSetRefused(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    with fileset_lock(folder):
        if any(folder.iterdir()):
            raise FileSetRefused(f"{folder} is not empty: a new medium needs a new or empty "
                                 "folder (to add to a File-set, use a DICOMDIR update)")
        directory = Directory(fileset_id=options.fileset_id,
                              descriptor_file_id=README_FILE_ID if options.readme else None,
                              media_storage_sop_instance_uid=generate_uid())
        adder = FileAdder(folder, options, RecordTree(directory), Layout(folder),
                          Inventor() if options.invent else None)
        outcomes = _add_all(adder, sources, progress)
        return _write(folder, folder / DICOMDIR, directory, adder, outcomes, options.profile)


def update_fileset(folder: Path, sources: Iterable[MediumSource], options: BuildOptions,
                   progress: Progress | None = None) -> BuildReport:
    """Add ``sources`` to the File-set in ``folder``: into the existing PATIENT, STUDY and
    SERIES records where they belong, in new folders after the names in use; instances
    already on it are skipped. The DICOMDIR is rewritten only when something was added."""
    with fileset_lock(folder):
        path, directory = read_existing(folder)
        adder = FileAdder(folder, options, RecordTree(directory), Layout(folder, directory),
                          Inventor(existing=directory) if options.invent else None)
        outcomes = _add_all(adder, sources, progress)
        if not _added(outcomes):
            seconds = {phase: round(adder.seconds.get(phase, 0.0), 6) for phase in PHASES}
            return BuildReport(outcomes, directory, path.stat().st_size, seconds)
        return _write(folder, path, directory, adder, outcomes, options.profile)
