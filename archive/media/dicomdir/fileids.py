"""File IDs (0004,1500) of a File-set: PS3.10 8.2 and PS3.12's ISO 9660 rules.

A file ID is 1 to 8 components, each 1 to 8 characters from A-Z, 0-9 and underscore; it is
written as a CS value with backslashes between components and names a path relative to the
folder that holds the DICOMDIR.
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_COMPONENTS = 8
MAX_COMPONENT_CHARS = 8
COMPONENT = re.compile(r"^[A-Z0-9_]{1,8}$")


def check_file_id(parts: tuple[str, ...] | list[str]) -> str | None:
    """Why ``parts`` is no valid file ID, or None when it is one."""
    if not parts:
        return "the file ID is empty"
    if len(parts) > MAX_COMPONENTS:
        return f"{len(parts)} components: at most {MAX_COMPONENTS} are allowed"
    for part in parts:
        if part in (".", "..") or not COMPONENT.match(part):
            return (f"component {part!r} is not 1 to {MAX_COMPONENT_CHARS} characters of "
                    "A-Z, 0-9 and _")
    return None


def file_id_path(base: Path, parts: tuple[str, ...] | list[str]) -> Path:
    """The path a (valid) file ID names under ``base``."""
    return base.joinpath(*parts)


def file_id_of(base: Path, path: Path) -> tuple[str, ...]:
    """The file ID of ``path`` under ``base``; ValueError when it has no valid one."""
    parts = path.relative_to(base).parts
    reason = check_file_id(parts)
    if reason is not None:
        raise ValueError(f"{path.relative_to(base)} has no valid file ID: {reason}")
    return tuple(parts)


def parse_file_id(value: object) -> tuple[str, ...] | None:
    """A Referenced File ID element's value (str or multi-valued) as components."""
    if value is None:
        return None
    raw = ([value] if value else []) if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    parts = [str(p).strip() for p in raw]
    return tuple(parts) if parts else None
