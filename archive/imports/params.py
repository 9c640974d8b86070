"""Checks shared by the job kinds that read a server path or a staged browser upload
(import, store): plain functions for pydantic ``field_validator``."""

from __future__ import annotations

from archive.imports.roots import PathRefused, resolve_import_path
from archive.imports.uploads import staged_upload_dir


def allowed_path(value: str | None) -> str | None:
    """The path resolved, if it lies under an import root; else a clear ValueError."""
    if value is None:
        return None
    try:
        return str(resolve_import_path(value))
    except PathRefused as exc:
        raise ValueError(str(exc)) from None


def staged_upload(value: str | None) -> str | None:
    if value is not None and staged_upload_dir(value) is None:
        raise ValueError(f"no staged upload {value!r} (it was used up or never existed)")
    return value
