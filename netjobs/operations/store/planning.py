"""Presentation contexts for a set of instances, split over associations like dcmsend: each
SOP class with the instances' own transfer syntaxes, plus an uncompressed fallback context
per SOP class (for peers that accept only those), at most 128 contexts per association."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netjobs.dicom.contexts import MAX_CONTEXTS, Context, contexts_for_class
from netjobs.operations.store.sources import SendItem

__all__ = ["MAX_CONTEXTS", "PlannedAssociation", "contexts_for_class", "plan", "split"]


@dataclass
class PlannedAssociation:
    contexts: list[Context] = field(default_factory=list)
    items: list[SendItem] = field(default_factory=list)


def plan(items: Sequence[SendItem], max_contexts: int = MAX_CONTEXTS) -> list[PlannedAssociation]:
    """Group the sendable items by SOP class and pack the classes into associations."""
    by_class: dict[str, list[SendItem]] = {}
    for item in items:
        if item.path is not None:
            by_class.setdefault(item.sop_class_uid, []).append(item)
    planned: list[PlannedAssociation] = []
    current = PlannedAssociation()
    for sop_class, members in by_class.items():
        contexts = contexts_for_class(sop_class, {m.transfer_syntax_uid for m in members})
        if len(contexts) > max_contexts:  # absurd, but never more than the PDU allows
            contexts = contexts[-max_contexts:]
        if current.contexts and len(current.contexts) + len(contexts) > max_contexts:
            planned.append(current)
            current = PlannedAssociation()
        current.contexts.extend(contexts)
        current.items.extend(members)
    if current.items:
        planned.append(current)
    return planned


def split(items: Sequence[SendItem], parts: int) -> list[list[SendItem]]:
    """``items`` dealt into ``parts`` groups of nearly equal size, order kept within each."""
    parts = max(1, min(parts, len(items) or 1))
    size, extra = divmod(len(items), parts)
    groups, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        groups.append(list(items[start:end]))
        start = end
    return [g for g in groups if g]
