"""Attribute format patterns like dcm4che's dcm2str: ``{0020000D,hash}/{0020000E,hash}/
{00080018}``, ``{PatientID,upper}``, ``{rnd,uuid}``, with attribute overrides.

Formats: none (the value), ``hash`` (Java String.hashCode as 8 hex digits, as dcm4che),
``md5`` (MD5 in base 32, as dcm4che), ``upper``, ``urlencoded``, ``slice,start[,end]``,
``offset,n`` (add n to a number); ``{rnd}`` a random number, ``{rnd,uuid}``, ``{rnd,uid}``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

_FIELD = re.compile(r"\{([^{}]*)\}")


class BadPattern(ValueError):
    pass


@dataclass(frozen=True)
class _Field:
    tag: int | None  # None for rnd
    format: str
    args: tuple[str, ...]


def java_hash(text: str) -> int:
    value = 0
    for char in text.encode("utf-16-le").decode("utf-16-le"):
        value = (31 * value + ord(char)) & 0xFFFFFFFF
    return value


def base32(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = "0123456789abcdefghijklmnopqrstuv"
    out = ""
    while number:
        number, rest = divmod(number, 32)
        out = digits[rest] + out
    return out or "0"


def _tag(token: str) -> int:
    token = token.strip().strip("()").replace(",", "")
    if len(token) == 8 and all(c in "0123456789abcdefABCDEF" for c in token):
        return int(token, 16)
    tag = tag_for_keyword(token)
    if tag is None:
        raise BadPattern(f"{token!r} is neither a tag (ggggeeee) nor a DICOM keyword")
    return int(tag)


def compile_pattern(pattern: str) -> list[str | _Field]:
    parts: list[str | _Field] = []
    position = 0
    for match in _FIELD.finditer(pattern):
        parts.append(pattern[position:match.start()])
        pieces = [p.strip() for p in match[1].split(",")]
        if not pieces[0]:
            raise BadPattern(f"empty field at character {match.start()}")
        if pieces[0] == "rnd":
            parts.append(_Field(None, pieces[1] if len(pieces) > 1 else "", ()))
        else:
            fmt = pieces[1] if len(pieces) > 1 else ""
            if fmt not in {"", "hash", "md5", "upper", "urlencoded", "slice", "offset"}:
                raise BadPattern(f"unknown format {fmt!r} in {{{match[1]}}}")
            for argument in pieces[2:]:
                if fmt in {"slice", "offset"} and not re.fullmatch(r"-?[0-9]+", argument):
                    raise BadPattern(f"{fmt} takes whole numbers, not {argument!r}")
            parts.append(_Field(_tag(pieces[0]), fmt, tuple(pieces[2:])))
        position = match.end()
    parts.append(pattern[position:])
    leftover = "".join(p for p in parts if isinstance(p, str))
    if "{" in leftover or "}" in leftover:
        raise BadPattern("unbalanced braces: every field is {tag[,format[,args]]}")
    return parts


def parse_overrides(lines: str) -> dict[int, str]:
    """'PatientID=123' / '00100020=123', one a line."""
    overrides = {}
    for line in lines.splitlines():
        if not line.strip():
            continue
        if "=" not in line:
            raise BadPattern(f"override {line!r} is not tag=value")
        key, value = line.split("=", 1)
        overrides[_tag(key)] = value.strip()
    return overrides


def _value(ds: Dataset, tag: int, overrides: dict[int, str]) -> str:
    if tag in overrides:
        return overrides[tag]
    element = ds.get(tag)
    if element is None or element.value is None:
        return ""
    value = element.value
    if isinstance(value, list) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def apply_pattern(parts: list[str | _Field], ds: Dataset, overrides: dict[int, str]) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        if part.tag is None:
            out.append(str(uuid.uuid4()) if part.format == "uuid" else generate_uid()
                       if part.format == "uid" else str(secrets.randbelow(2**31)))
            continue
        text = _value(ds, part.tag, overrides)
        if part.format == "hash":
            text = f"{java_hash(text):08X}"
        elif part.format == "md5":
            text = base32(hashlib.md5(text.encode()).digest())
        elif part.format == "upper":
            text = text.upper()
        elif part.format == "urlencoded":
            text = quote(text, safe="")
        elif part.format == "slice":
            start = int(part.args[0]) if part.args else 0
            end = int(part.args[1]) if len(part.args) > 1 else None
            text = text[start:end]
        elif part.format == "offset":
            try:
                text = str(int(float(text)) + int(part.args[0] if part.args else 0))
            except ValueError:
                text = ""
        out.append(text)
    return "".join(out)
