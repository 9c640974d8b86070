"""An undo log for in-memory edits: every mutation of a data set (elements set or
deleted, items added or removed) is recorded so that a refused edit leaves the data set
as it was, without copying it (pixel data included)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence


@dataclass
class Touched:
    """An element the edit set or deleted, and what it was before (None: absent)."""

    container: Dataset
    tag: int
    before: DataElement | None


class Journal:
    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._after_rollback: list[Callable[[], None]] = []
        self.touched: dict[tuple[int, int], Touched] = {}

    def _remember(self, container: Dataset, tag: int) -> None:
        key = (id(container), tag)
        before = container.get(tag, None)
        if key not in self.touched:
            self.touched[key] = Touched(container, tag, before)

        def undo() -> None:
            if before is None:
                if tag in container:
                    del container[tag]
            else:
                container[tag] = before
        self._undo.append(undo)

    def set(self, container: Dataset, element: DataElement) -> None:
        self._remember(container, int(element.tag))
        container[element.tag] = element

    def delete(self, container: Dataset, tag: int) -> None:
        self._remember(container, tag)
        del container[tag]

    def note_added(self, container: Dataset, tag: int) -> None:
        """``tag`` was just added by pydicom itself (a private creator reserved)."""
        key = (id(container), tag)
        self.touched.setdefault(key, Touched(container, tag, None))

        def undo() -> None:
            if tag in container:
                del container[tag]
        self._undo.append(undo)

    def append_item(self, sequence: Sequence, item: Dataset) -> None:
        sequence.append(item)

        def undo() -> None:
            for index, present in enumerate(sequence):
                if present is item:
                    del sequence[index]
                    return
        self._undo.append(undo)

    def remove_item(self, sequence: Sequence, index: int) -> Dataset:
        item: Dataset = sequence[index]
        del sequence[index]
        self._undo.append(lambda: sequence.insert(index, item))
        return item

    def after_rollback(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once everything is undone (to re-derive state from the restored
        elements, such as the character set items inherit)."""
        self._after_rollback.append(hook)

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()
        while self._after_rollback:
            self._after_rollback.pop()()
        self.touched.clear()
