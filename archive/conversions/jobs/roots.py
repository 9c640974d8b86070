"""Export folders: a conversion writes on the server only under EXPORT_ROOTS, with the same
rules as imports (absolute, ``..`` and links resolved, nothing outside a root)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from archive.imports.roots import PathRefused, resolve_under


def export_roots() -> list[Path]:
    return [Path(root).resolve() for root in settings.EXPORT_ROOTS]


def resolve_export_folder(raw: str) -> Path:
    """``raw`` resolved; refused unless it lies under an export root. It may not exist yet
    (the job creates it), but it must not be a file."""
    resolved = resolve_under(raw, export_roots(), "exports")
    if resolved.exists() and not resolved.is_dir():
        raise PathRefused(f"{raw} is a file, not a folder")
    return resolved


def allowed_export_folder(value: str | None) -> str | None:
    """For pydantic ``field_validator``: the folder resolved, or a clear ValueError."""
    if value is None:
        return None
    try:
        return str(resolve_export_folder(value))
    except PathRefused as exc:
        raise ValueError(str(exc)) from None
