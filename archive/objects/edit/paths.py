"""Attribute paths: which attribute of a (nested) data set an edit names.

Syntax (dcmodify's tag paths, extended for private elements)::

    path    := step ("." step)*
    step    := element ("[" index "]")?      an index only before another step, or at
                                             the end of a path that removes an item
    index   := decimal item number, from 0 | "*" (every item)
    element := keyword                       PatientName
             | "(" gggg "," eeee ")"          (0010,0010)
             | gggg "," eeee                  0010,0010
             | ggggeeee                       00100010 (dcm4che style)
             | "(" gggg "," creator "," xx ")"
                                             (0009,"ACME 1.0",10): element xx (hex 00-FF)
                                             of the block the creator reserves in the
                                             group; the quotes may be left out when the
                                             creator has no comma (a shell eats them)

A raw private tag such as ``(0009,1010)`` is accepted too; it names an element only where
its creator element ``(0009,0010)`` exists. The canonical form (``format_path``) writes
tags as ``(gggg,eeee)`` with upper-case hex and private elements by creator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydicom.datadict import tag_for_keyword

ALL_ITEMS: Literal["*"] = "*"
MAX_ITEM_INDEX = 9999  # an insert pads a sequence up to the index: keep that bounded
ItemIndex = int | Literal["*"]


class BadAttributePath(ValueError):
    """The text is not an attribute path; the message says where."""


@dataclass(frozen=True)
class PrivateElement:
    """Element ``offset`` (0x00-0xFF) of the private block ``creator`` reserves in
    ``group``: its tag depends on the data set (which block the creator holds)."""

    group: int
    creator: str
    offset: int

    def tag_in_block(self, block: int) -> int:
        return (self.group << 16) | (block << 8) | self.offset


ElementRef = int | PrivateElement


@dataclass(frozen=True)
class PathStep:
    """One element of a path and, when the path goes on (or removes an item), which of
    its items."""

    element: ElementRef
    item: ItemIndex | None = None


@dataclass(frozen=True)
class AttributePath:
    steps: tuple[PathStep, ...]

    @property
    def leaf(self) -> PathStep:
        return self.steps[-1]

    @property
    def names_item(self) -> bool:
        """The path ends with an item index: it names an item, not an element."""
        return self.leaf.item is not None

    @property
    def top_group(self) -> int:
        first = self.steps[0].element
        return first.group if isinstance(first, PrivateElement) else first >> 16

    @property
    def has_wildcard(self) -> bool:
        return any(step.item == ALL_ITEMS for step in self.steps)

    def __str__(self) -> str:
        return format_path(self)


def tag_text(tag: int) -> str:
    """0x00100010 → '(0010,0010)'."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def format_element(element: ElementRef) -> str:
    if isinstance(element, PrivateElement):
        return f'({element.group:04X},"{element.creator}",{element.offset:02X})'
    return tag_text(element)


def format_path(path: AttributePath) -> str:
    """The canonical text of a path, e.g. ``(0008,1110)[0].(0008,1155)``."""
    parts = []
    for step in path.steps:
        text = format_element(step.element)
        if step.item is not None:
            text += f"[{step.item}]"
        parts.append(text)
    return ".".join(parts)


_HEX4 = r"[0-9A-Fa-f]{4}"
_TAG = re.compile(rf"^\(?({_HEX4}),({_HEX4})\)?$")
_TAG8 = re.compile(r"^([0-9A-Fa-f]{8})$")
_PRIVATE = re.compile(rf'^\(({_HEX4}),\s*(?:"([^"]*)"|([^",()]+?))\s*,\s*([0-9A-Fa-f]{{1,2}})\)$')
_INDEX = re.compile(r"^(.*?)\[\s*(\d+|\*)\s*\]$", re.DOTALL)
_KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def parse_path(text: str) -> AttributePath:
    """``text`` → AttributePath; raises BadAttributePath naming the bad part."""
    source = (text or "").strip()
    if not source:
        raise BadAttributePath("the attribute path is empty")
    pieces = _split_steps(source)
    steps = []
    for number, piece in enumerate(pieces):
        steps.append(_parse_step(piece, source))
        if steps[-1].item is None and number < len(pieces) - 1:
            raise BadAttributePath(
                f"{source!r}: {piece!r} needs an item index ([0], [1]… or [*]) before "
                "the next element")
    return AttributePath(tuple(steps))


def _split_steps(source: str) -> list[str]:
    """Split at dots outside parentheses, brackets and quotes."""
    pieces: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in source:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        if char == "." and depth == 0 and not quoted:
            pieces.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if quoted:
        raise BadAttributePath(f"{source!r}: a quote is not closed")
    if depth != 0:
        raise BadAttributePath(f"{source!r}: parentheses or brackets do not match")
    pieces.append("".join(current).strip())
    if any(not piece for piece in pieces):
        raise BadAttributePath(f"{source!r}: an empty step (two dots, or a dot at an end)")
    return pieces


def _parse_step(piece: str, source: str) -> PathStep:
    item: ItemIndex | None = None
    match = _INDEX.match(piece)
    if match:
        piece = match.group(1).strip()
        item = ALL_ITEMS if match.group(2) == "*" else int(match.group(2))
        if item != ALL_ITEMS and item > MAX_ITEM_INDEX:
            raise BadAttributePath(f"{source!r}: item [{item}] is beyond the largest index "
                                   f"an edit may name ({MAX_ITEM_INDEX})")
    return PathStep(parse_element(piece, source), item)


def parse_element(piece: str, source: str | None = None) -> ElementRef:
    """One element reference (keyword, tag or private by creator)."""
    where = f"{source!r}: " if source and source != piece else ""
    if match := _TAG.match(piece):
        return int(match.group(1) + match.group(2), 16)
    if match := _TAG8.match(piece):
        return int(match.group(1), 16)
    if match := _PRIVATE.match(piece):
        group = int(match.group(1), 16)
        creator = (match.group(2) if match.group(2) is not None else match.group(3)).strip()
        if group % 2 == 0:
            raise BadAttributePath(f"{where}{piece!r}: group {group:04X} is not private "
                                   "(a private group number is odd)")
        if not creator:
            raise BadAttributePath(f"{where}{piece!r}: the private creator is empty")
        return PrivateElement(group, creator, int(match.group(4), 16))
    if _KEYWORD.match(piece):
        tag = tag_for_keyword(piece)
        if tag is None:
            raise BadAttributePath(f"{where}{piece!r} is not a DICOM keyword")
        return int(tag)
    raise BadAttributePath(
        f"{where}{piece!r} is not an attribute: write a keyword (PatientName), a tag "
        '((0010,0010)) or a private element by creator ((0009,"CREATOR",10))')
