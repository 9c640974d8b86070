"""The filter box of the dump: rows whose tag, keyword or name match, with their ancestors."""

from __future__ import annotations

import re

from archive.inspect.dump import DumpRow

_TAG = re.compile(r"^\(?([0-9a-fA-F]{4})[,\s]?([0-9a-fA-F]{0,4})\)?$")


def matches(row: DumpRow, term: str) -> bool:
    if row.tag is None:
        return False
    tag = f"{row.tag:08X}"
    match = _TAG.match(term.strip())
    if match:
        return tag.startswith((match[1] + match[2]).upper())
    needle = term.strip().lower()
    return needle in row.keyword.lower() or needle in row.name.lower()


def filter_rows(rows: list[DumpRow], term: str) -> list[DumpRow]:
    if not term.strip():
        return rows
    kept: list[DumpRow] = []
    ancestors: list[DumpRow] = []  # enclosing sequence and item rows, by depth
    shown: set[int] = set()
    for row in rows:
        while ancestors and ancestors[-1].depth >= row.depth:
            ancestors.pop()
        if row.kind in {"item_end", "sequence_end"}:
            continue
        if matches(row, term):
            for ancestor in ancestors:
                if id(ancestor) not in shown:
                    kept.append(ancestor)
                    shown.add(id(ancestor))
            kept.append(row)
            shown.add(id(row))
        if row.kind == "item" or row.vr == "SQ":
            ancestors.append(row)
    return kept
