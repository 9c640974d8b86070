"""Deleting records (dcmdir -d: marked inactive, files kept) and compacting (dcmdir -z: the
DICOMDIR rewritten without inactive records, optionally without their files).

A matched PATIENT, STUDY or SERIES record is marked inactive with everything below it; an
upper record whose children are then all inactive is marked inactive too. Compacting removes
only files no in-use record references, never anything outside the File-set's folder, and
then the folders it emptied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from archive.media.build.fileset import read_existing, refresh_readme
from archive.media.build.lock import fileset_lock
from archive.media.build.outcomes import EditReport, FileSetRefused
from archive.media.dicomdir.fileids import check_file_id, file_id_path
from archive.media.dicomdir.model import UPPER_LEVELS, Directory, Record, RecordType
from archive.media.dicomdir.writer import write_dicomdir


def _counts(records: Iterable[Record]) -> str:
    found = Counter(str(r.record_type) for r in records)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(found.items()))


def _matches(record: Record, uids: dict[str, set[str]]) -> bool:
    if record.record_type == RecordType.PATIENT:
        return record.key("PatientID") in uids["patient"]
    if record.record_type == RecordType.STUDY:
        return record.key("StudyInstanceUID") in uids["study"]
    if record.record_type == RecordType.SERIES:
        return record.key("SeriesInstanceUID") in uids["series"]
    return bool(record.sop_instance_uid) and record.sop_instance_uid in uids["instance"]


def _deactivate(record: Record) -> list[Record]:
    """Mark ``record`` and everything below it inactive; the records newly marked."""
    changed = []
    for _, node in record.walk():
        if node.in_use:
            node.in_use = False
            changed.append(node)
    return changed


def _emptied(directory: Directory) -> list[Record]:
    """Mark inactive the upper records left with children but none in use (bottom up)."""
    changed: list[Record] = []
    records = [record for _, record in directory.walk()]
    for record in reversed(records):  # children before their parents
        if (record.in_use and record.record_type in UPPER_LEVELS and record.children
                and not any(child.in_use for child in record.children)):
            record.in_use = False
            changed.append(record)
    return changed


def _without_files(directory: Directory) -> list[Record]:
    """dcmdir -p: mark inactive the upper records with no in-use record below them that
    references a file (bottom up, so an emptied series empties its study)."""
    changed: list[Record] = []
    for record in reversed([record for _, record in directory.walk()]):
        if record.in_use and record.record_type in UPPER_LEVELS and not any(
                child.in_use and (child.file_id or child.record_type in UPPER_LEVELS)
                for child in record.children):
            record.in_use = False
            changed.append(record)
    return changed


def _unmatched(directory: Directory, uids: dict[str, set[str]]) -> list[str]:
    seen: set[str] = set()
    for _, record in directory.walk():
        seen.update({record.key("PatientID"), record.key("StudyInstanceUID"),
                     record.key("SeriesInstanceUID"), record.sop_instance_uid})
    return sorted(set[str]().union(*uids.values()) - seen)


def delete_records(folder: Path, *, sop_instance_uids: Iterable[str] = (),
                   series_uids: Iterable[str] = (), study_uids: Iterable[str] = (),
                   patient_ids: Iterable[str] = ()) -> EditReport:
    """Mark the matching records inactive (files stay); the DICOMDIR is rewritten when
    anything changed."""
    uids = {"instance": {u.strip() for u in sop_instance_uids if u.strip()},
            "series": {u.strip() for u in series_uids if u.strip()},
            "study": {u.strip() for u in study_uids if u.strip()},
            "patient": {u.strip() for u in patient_ids if u.strip()}}
    with fileset_lock(folder):
        path, directory = read_existing(folder)
        matched: list[Record] = []
        pending = list(directory.roots)
        while pending:
            record = pending.pop()
            if record.in_use and _matches(record, uids):
                matched.extend(_deactivate(record))
            else:
                pending.extend(record.children)
        emptied = _emptied(directory)
        messages = []
        if matched:
            messages.append(f"Marked inactive: {_counts(matched)}.")
        if emptied:
            messages.append(f"Also marked inactive, as nothing in use was left below them: "
                            f"{_counts(emptied)}.")
        if missing := _unmatched(directory, uids):
            messages.append("No record has: " + ", ".join(missing) + ".")
        changed = len(matched) + len(emptied)
        if changed:
            _rewrite(folder, path, directory)
        return EditReport(changed, [], directory, messages)


def _rewrite(folder: Path, path: Path, directory: Directory) -> None:
    try:
        refresh_readme(folder, directory, None)
        write_dicomdir(directory, path)
    except (OSError, ValueError) as exc:
        raise FileSetRefused(f"the DICOMDIR could not be written in {folder}: {exc}") from None


def _removable(folder: Path, old: Directory, kept: Directory) -> list[tuple[str, ...]]:
    """File IDs only dropped records reference, that name a regular file in the folder."""
    keep = {tuple(p.upper() for p in r.file_id) for _, r in kept.referenced_files()
            if r.file_id}
    base = folder.resolve()
    found: list[tuple[str, ...]] = []
    for _, record in old.referenced_files():
        file_id = record.file_id
        if (not file_id or check_file_id(file_id) is not None
                or tuple(p.upper() for p in file_id) in keep or file_id in found):
            continue
        path = file_id_path(folder, file_id)
        if path.is_symlink() or not path.is_file():
            continue
        if path.resolve().is_relative_to(base):
            found.append(file_id)
    return found


def _remove(folder: Path, file_ids: list[tuple[str, ...]]) -> list[str]:
    """Delete the files, then the folders left empty (up to, not including, ``folder``)."""
    removed: list[str] = []
    parents: set[Path] = set()
    for file_id in file_ids:
        path = file_id_path(folder, file_id)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append("/".join(file_id))
        parents.update(path.parents)
    base = folder.resolve()
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        if parent.resolve() != base and parent.resolve().is_relative_to(base):
            with suppress(OSError):  # not empty: it holds other files
                parent.rmdir()
    return removed


def compact_fileset(folder: Path, *, remove_files: bool = False) -> EditReport:
    """Rewrite the DICOMDIR without its inactive records, nor upper records with no file
    below them (dcmdir -z and -p); with ``remove_files``, also delete the files only those
    records referenced."""
    with fileset_lock(folder):
        path, directory = read_existing(folder)
        purged = _without_files(directory)
        kept = directory.active()
        before = sum(1 for _ in directory.walk())
        changed = before - sum(1 for _ in kept.walk())
        messages = [f"{changed} inactive record(s) removed from the DICOMDIR."]
        if purged:
            messages.append(f"{len(purged)} record(s) with no file below them purged "
                            f"(dcmdir -p): {_counts(purged)}.")
        removable = _removable(folder, directory, kept) if remove_files else []
        if changed:
            _rewrite(folder, path, kept)
        removed = _remove(folder, removable)
        if remove_files:
            messages.append(f"{len(removed)} file(s) only inactive records referenced were "
                            "removed.")
        return EditReport(changed, removed, kept, messages)
