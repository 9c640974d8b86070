"""The names of the conversion job kinds (what ``Job.kind`` holds)."""

from __future__ import annotations

from enum import StrEnum


class ConversionKind(StrEnum):
    TRANSCODE = "transcode"
    SPLIT = "split"
    SWAP_BYTES = "swap_bytes"
    EXPORT_IMAGES = "export_images"


CONVERSION_KINDS: tuple[str, ...] = tuple(kind.value for kind in ConversionKind)
