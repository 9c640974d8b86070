"""Browser uploads: streamed to disk by Django (never held in memory), capped in size, and
staged in a folder of their own until the import job has read them."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest

_STAGE_ID = re.compile(r"^[0-9a-f]{32}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f:*?\"<>|]+")  # not in a file name anywhere
MAX_NAME_BYTES = 200  # file systems allow 255
MAX_DEPTH = 8


class UploadTooLarge(Exception):
    pass


def upload_limit() -> int:
    return int(settings.UPLOAD_MAX_BYTES)


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Writes uploads to temporary files and stops the upload once it passes the limit."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0
        self.over_limit = False

    def handle_raw_input(self, input_data: Any, META: Any, content_length: int,
                         boundary: Any, encoding: Any = None) -> None:
        # Fields before the files (the CSRF token first) are still parsed; the files are not
        # kept once the declared length is over the limit.
        self.over_limit = content_length > upload_limit()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.over_limit or self.received > upload_limit():
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            # The rest of the body is read and dropped so that the browser gets the answer.
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def too_large_message() -> str:
    from django.template.defaultfilters import filesizeformat

    limit = filesizeformat(upload_limit())
    return f"The upload is larger than the limit of {limit}; nothing was kept."


def upload_root() -> Path:
    return Path(settings.UPLOAD_DIR)


def staged_upload_dir(stage_id: str) -> Path | None:
    if not _STAGE_ID.match(stage_id or ""):
        return None
    folder = upload_root() / stage_id
    return folder if folder.is_dir() else None


def remove_staged_upload(stage_id: str | None) -> None:
    """Remove a staging folder (nothing when there is none)."""
    folder = staged_upload_dir(stage_id or "")
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def save_uploaded_file(upload: UploadedFile, target: Path) -> None:
    """Move Django's temporary file into place (or write the chunks of a small upload)."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        shutil.move(temporary(), target)
        return
    with target.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def safe_relative_path(name: str) -> Path | None:
    """An uploaded file's name or relative path (as the browser gave it, ``/`` or ``\\``
    separated) as a path that stays inside the staging folder; None when nothing is left."""
    parts = []
    for part in re.split(r"[/\\]+", name):
        cleaned = _CONTROL.sub("_", part).strip()
        cleaned = cleaned.encode()[:MAX_NAME_BYTES].decode(errors="ignore")
        if cleaned and cleaned not in (".", ".."):
            parts.append(cleaned)
    return Path(*parts[-MAX_DEPTH:]) if parts else None


def _taken(folder: Path, relative: Path) -> bool:
    """The name is used already, or one of its folders is a file staged before."""
    if (folder / relative).exists():
        return True
    return any((folder / parent).is_file() for parent in relative.parents
               if parent != Path("."))


def stage_uploads(files: list[UploadedFile], relative_paths: list[str] | None = None) -> str:
    """Move uploaded files into a new staging folder; returns its ID.

    Each file keeps its original name, under the relative path the browser sent for it
    (``relative_paths``, in the order of ``files``: a dropped or chosen folder's layout), so
    that the import names its items as the operator knows them. A name met twice goes into
    a numbered sub-folder."""
    paths = relative_paths if relative_paths and len(relative_paths) == len(files) else None
    stage_id = uuid.uuid4().hex
    folder = upload_root() / stage_id
    folder.mkdir(parents=True)
    try:
        for index, upload in enumerate(files):
            given = (paths[index] if paths else "") or upload.name or ""
            relative = safe_relative_path(given) or Path("file")
            target = folder / relative
            if _taken(folder, relative):
                target = folder / f"{index:05d}" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            save_uploaded_file(upload, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return stage_id


def remove_stale_uploads(older_than: float, keep: set[str]) -> list[str]:
    """Remove staged uploads (and Django's leftover temporary files) last changed more than
    ``older_than`` seconds ago, except the stages in ``keep``; returns what was removed.

    A store job keeps its upload after failures for "retry failed only", and an upload whose
    form was never submitted stays too: this sweep is what eventually frees their space."""
    root = upload_root()
    if not root.is_dir():
        return []
    cutoff = time.time() - older_than
    removed: list[str] = []
    temporary = Path(settings.FILE_UPLOAD_TEMP_DIR)
    for entry in sorted(root.iterdir()):
        try:
            changed = entry.lstat().st_mtime
        except FileNotFoundError:
            continue  # removed by its job meanwhile
        if entry == temporary:
            removed += _remove_old_files(entry, cutoff)
        elif _STAGE_ID.match(entry.name) and entry.name not in keep and changed < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _remove_old_files(folder: Path, cutoff: float) -> list[str]:
    removed = []
    for entry in folder.iterdir():
        try:
            if entry.is_file() and entry.lstat().st_mtime < cutoff:
                entry.unlink()
                removed.append(f"{folder.name}/{entry.name}")
        except FileNotFoundError:
            continue  # Django finished with it meanwhile
    return removed
