"""Server-side paths are usable only under the folders an administrator configured."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


class PathRefused(ValueError):
    pass


def import_roots() -> list[Path]:
    return [Path(root).resolve() for root in settings.IMPORT_ROOTS]


def is_under(path: Path, roots: list[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def resolve_under(raw: str, roots: list[Path], purpose: str) -> Path:
    """``raw`` with symlinks and ``..`` resolved; refused unless absolute and under a root
    (``purpose`` names what the roots are for: "imports", "exports")."""
    if not raw or "\x00" in raw:
        raise PathRefused("give a path")
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        raise PathRefused(f"{raw} is not an absolute path")
    resolved = candidate.resolve()
    if not is_under(resolved, roots):
        allowed = ", ".join(str(root) for root in roots) or "(none configured)"
        raise PathRefused(f"{raw} is outside the folders allowed for {purpose}: {allowed}")
    return resolved


def resolve_import_path(raw: str) -> Path:
    """``raw`` resolved; refused unless it exists under an import root."""
    resolved = resolve_under(raw, import_roots(), "imports")
    if not resolved.exists():
        raise PathRefused(f"{raw} does not exist")
    return resolved
