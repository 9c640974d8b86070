"""Differences between two data sets, like gdcmdiff: elements in only one, elements whose
values differ (side by side), optionally the file meta, optionally with strings truncated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.datadict import dictionary_keyword
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from archive.inspect.dicomjson import to_dicom_json


@dataclass(frozen=True)
class Difference:
    path: str  # e.g. 00081140[1].00081150
    keyword: str
    kind: str  # only_first, only_second, differs
    first: str
    second: str


def _keyword(tag_hex: str) -> str:
    try:
        return dictionary_keyword(Tag(int(tag_hex, 16)))
    except (KeyError, ValueError):
        return ""


def _show(entry: dict[str, Any] | None, truncate: int | None) -> str:
    if entry is None:
        return ""
    if "Value" in entry:
        text = "\\".join("" if v is None else (
            "=".join(v.values()) if isinstance(v, dict) else str(v)) for v in entry["Value"])
    elif "InlineBinary" in entry:
        text = f"(binary, {len(entry['InlineBinary']) * 3 // 4} bytes)"
    else:
        text = "(empty)"
    if truncate and len(text) > truncate:
        text = text[:truncate] + "…"
    return f"{entry.get('vr', '')} {text}".strip()


def diff_datasets(first: Dataset, second: Dataset, *, include_meta: bool = False,
                  truncate: int | None = None) -> list[Difference]:
    a, b = to_dicom_json(first), to_dicom_json(second)
    if include_meta:
        a.update({k: v for k, v in to_dicom_json(first.file_meta).items()} if first.file_meta
                 else {})
        b.update({k: v for k, v in to_dicom_json(second.file_meta).items()} if second.file_meta
                 else {})
    out: list[Difference] = []
    _compare(a, b, "", out, truncate)
    return out


def _compare(a: dict[str, Any], b: dict[str, Any], prefix: str, out: list[Difference],
             truncate: int | None) -> None:
    for tag in sorted(set(a) | set(b)):
        path = f"{prefix}{tag}"
        x, y = a.get(tag), b.get(tag)
        if x is None or y is None:
            kind = "only_second" if x is None else "only_first"
            out.append(Difference(path, _keyword(tag), kind, _show(x, truncate),
                                  _show(y, truncate)))
            continue
        if x.get("vr") == "SQ" and y.get("vr") == "SQ":
            items_a, items_b = x.get("Value", []), y.get("Value", [])
            if len(items_a) != len(items_b):
                out.append(Difference(path, _keyword(tag), "differs",
                                      f"SQ {len(items_a)} item(s)", f"SQ {len(items_b)} item(s)"))
            for index, (item_a, item_b) in enumerate(zip(items_a, items_b, strict=False)):
                _compare(item_a, item_b, f"{path}[{index + 1}].", out, truncate)
            continue
        if x != y:
            out.append(Difference(path, _keyword(tag), "differs", _show(x, truncate),
                                  _show(y, truncate)))
