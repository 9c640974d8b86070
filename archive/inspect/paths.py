"""Element paths: which element of a (nested) dataset, e.g. ``0040A730/0/0040A160``.

A path alternates tags (8 hex digits) and item indexes, and names one element.
"""

from __future__ import annotations

import re

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

_PATH = re.compile(r"^[0-9A-Fa-f]{8}(/[0-9]+/[0-9A-Fa-f]{8})*$")


class BadPath(ValueError):
    pass


def format_path(parts: list[int]) -> str:
    """[tag, item, tag, …] → '0040A730/0/0040A160'."""
    return "/".join(f"{part:08X}" if index % 2 == 0 else str(part)
                    for index, part in enumerate(parts))


def resolve(ds: Dataset, path: str) -> DataElement:
    if not _PATH.match(path or ""):
        raise BadPath(f"{path!r} is not an element path (tag/item/tag…)")
    pieces = path.split("/")
    current = ds
    for index in range(0, len(pieces), 2):
        tag = int(pieces[index], 16)
        if tag not in current:
            raise BadPath(f"no element {pieces[index]} at {'/'.join(pieces[:index]) or 'top'}")
        element = current[tag]
        if index + 1 == len(pieces):
            return element
        items = element.value if element.VR == "SQ" else []
        item = int(pieces[index + 1])
        if not 0 <= item < len(items):
            raise BadPath(f"no item {item} in {pieces[index]}")
        current = items[item]
    raise BadPath(path)
