"""The Accept header of a DICOMweb request, as media ranges with their parameters."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class MediaRange:
    kind: str  # lower case, e.g. "multipart/related"
    parameters: dict[str, str]  # names lower case, values unquoted ("type", "transfer-syntax")

    @property
    def quality(self) -> float:
        try:
            return float(self.parameters.get("q", "1"))
        except ValueError:
            return 1.0


def media_ranges(accept: str) -> list[MediaRange]:
    """The header's media ranges in the order given; ``*/*`` when there is none."""
    found = []
    for choice in accept.split(",") if accept.strip() else ["*/*"]:
        kind, *rest = (part.strip() for part in choice.split(";"))
        parameters = {}
        for part in rest:
            name, _, value = part.partition("=")
            parameters[name.strip().lower()] = value.strip().strip('"')
        found.append(MediaRange(kind.lower(), parameters))
    return found


def new_boundary() -> str:
    """A multipart boundary no part's bytes will contain by chance."""
    return uuid.uuid4().hex
