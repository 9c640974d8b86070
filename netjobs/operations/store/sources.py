"""What a store job sends: each instance as a file on disk with its SOP class, SOP instance
and transfer syntax (read from the index, or from the file's meta information)."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info

from archive.imports.roots import import_roots, is_under
from archive.models import Instance
from archive.storage import absolute_path


@dataclass(frozen=True)
class SendItem:
    """One instance to send, or (``problem`` set) a file that cannot be sent."""

    name: str  # what the operator recognises: a path, or the SOP Instance UID
    path: Path | None
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    transfer_syntax_uid: str = ""
    size: int = 0
    problem: str = ""


def archive_items(*, studies: Iterable[int] = (), series: Iterable[int] = (),
                  instances: Iterable[int] = ()) -> list[SendItem]:
    """Archived instances of the given studies, series and instances (by their IDs)."""
    from django.db.models import Q

    wanted = Q(pk__in=list(instances)) | Q(series_id__in=list(series)) | Q(
        series__study_id__in=list(studies))
    rows = (Instance.objects.filter(wanted)
            .order_by("series__study_id", "series_id", "instance_number", "pk")
            .values_list("sop_instance_uid", "sop_class_uid", "transfer_syntax_uid",
                         "file_path", "file_size"))
    return [SendItem(uid, absolute_path(path), sop_class, uid, syntax, size)
            for uid, sop_class, syntax, path, size in rows]


def file_item(path: Path, name: str) -> SendItem:
    """A file from a server folder or an upload, described by its meta information."""
    try:
        meta = read_file_meta_info(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        return SendItem(name, None, problem=f"not a DICOM Part 10 file: {exc}")
    missing = [k for k in ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID",
                           "TransferSyntaxUID") if not meta.get(k)]
    if missing:
        return SendItem(name, None, problem="no " + ", ".join(missing) + " in its meta header")
    return SendItem(name, path, str(meta.MediaStorageSOPClassUID),
                    str(meta.MediaStorageSOPInstanceUID), str(meta.TransferSyntaxUID),
                    path.stat().st_size)


def folder_items(root: Path, allowed: list[Path] | None = None,
                 only: Collection[str] | None = None) -> Iterator[SendItem]:
    """Every file under ``root`` (or ``root`` itself), never following links outside the
    allowed roots; with ``only``, just the files of those names (nothing else is read)."""
    roots = allowed if allowed is not None else import_roots()
    if root.is_file():
        resolved = root.resolve()
        yield file_item(resolved, root.name) if is_under(resolved, roots) else SendItem(
            root.name, None, problem="skipped: a link to outside the allowed folders")
        return
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for file_name in sorted(files):
            path = Path(folder) / file_name
            shown = str(path.relative_to(root))
            if only is not None and shown not in only:
                continue
            resolved = path.resolve()
            if not is_under(resolved, roots):
                yield SendItem(shown, None, problem="skipped: a link to outside the allowed "
                                                    "folders")
            elif file_name.upper() == "DICOMDIR":
                continue  # the media's directory, not an instance
            else:
                yield file_item(resolved, shown)
