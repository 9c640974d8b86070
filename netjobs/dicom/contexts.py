"""Presentation contexts for sending stored instances, as dcmsend plans them: per SOP class,
one context for each compressed transfer syntax of its instances, and one uncompressed
context as the fallback for peers that accept nothing else. Used by store jobs and by the
listeners' C-MOVE sub-associations."""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

MAX_CONTEXTS = 128  # PS3.8: context IDs are the odd numbers 1…255
UNCOMPRESSED = frozenset(str(uid) for uid in (
    ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian))
FALLBACK = [str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)]

Context = tuple[str, list[str]]  # abstract syntax, proposed transfer syntaxes


def contexts_for_class(sop_class: str, syntaxes: Iterable[str]) -> list[Context]:
    """One context per compressed syntax of the class's instances, and one uncompressed
    context (the instances' own uncompressed syntax first, then Explicit and Implicit LE)."""
    present = set(syntaxes)
    compressed = sorted(s for s in present if s not in UNCOMPRESSED)
    own = sorted(s for s in present if s in UNCOMPRESSED and s not in FALLBACK)
    return [(sop_class, [s]) for s in compressed] + [(sop_class, own + FALLBACK)]


def contexts_by_class(pairs: Iterable[tuple[str, str]]) -> list[Context]:
    """The contexts for (SOP class, transfer syntax) pairs, classes in order of appearance."""
    by_class: dict[str, set[str]] = {}
    for sop_class, syntax in pairs:
        by_class.setdefault(sop_class, set()).add(syntax)
    return [cx for sop_class, syntaxes in by_class.items()
            for cx in contexts_for_class(sop_class, syntaxes)]
