"""Chosen tags across many files, like gdcmscanner: a table, downloadable as CSV."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.tag import BaseTag, Tag


class BadTag(ValueError):
    pass


def parse_tags(text: str) -> list[BaseTag]:
    """'0010,0010 PatientID (0008,0060)' → tags; keywords and hex both accepted."""
    tags = []
    for token in text.replace(";", " ").replace("\n", " ").split():
        token = token.strip("()")
        if not token:
            continue
        hex_form = token.replace(",", "")
        if len(hex_form) == 8 and all(c in "0123456789abcdefABCDEF" for c in hex_form):
            tags.append(Tag(int(hex_form, 16)))
            continue
        tag = tag_for_keyword(token)
        if tag is None:
            raise BadTag(f"{token!r} is neither a tag (gggg,eeee) nor a DICOM keyword")
        tags.append(Tag(tag))
    if not tags:
        raise BadTag("give at least one tag or keyword")
    return tags


@dataclass(frozen=True)
class ScanRow:
    label: str
    values: list[str]
    problem: str = ""


def scan(files: Iterable[tuple[str, Path]], tags: list[BaseTag]) -> list[ScanRow]:
    rows = []
    for label, path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = dcmread(path, stop_before_pixels=True, force=True, specific_tags=tags)
        except Exception as exc:
            rows.append(ScanRow(label, ["" for _ in tags], f"{type(exc).__name__}: {exc}"))
            continue
        values = []
        for tag in tags:
            element = ds.get(tag)
            if element is None:
                values.append("")
                continue
            value = element.value
            if isinstance(value, bytes):
                values.append(f"(binary, {len(value)} bytes)")
            elif isinstance(value, list) or type(value).__name__ == "MultiValue":
                values.append("\\".join(str(v) for v in value))
            else:
                values.append(str(value))
        rows.append(ScanRow(label, values))
    return rows


def header(tags: list[BaseTag]) -> list[str]:
    return [f"({t.group:04X},{t.element:04X}) {keyword_for_tag(t) or ''}".strip() for t in tags]


def to_csv(rows: list[ScanRow], tags: list[BaseTag]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", *header(tags), "problem"])
    for row in rows:
        writer.writerow([row.label, *row.values, row.problem])
    return buffer.getvalue()
