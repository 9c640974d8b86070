"""Applying changes to an in-memory data set, all or nothing: every mutation goes through
a journal, the result is validated (``validate.check_result``) and a refused edit is
rolled back, so the data set is left as it was.

Semantics follow dcmodify: ``modify`` needs the attribute (and every sequence and item on
its path); ``insert`` creates what is missing (a sequence, items up to the index, a
private block for a creator) or overwrites; ``remove`` of a missing attribute is recorded
as not present. ``[*]`` means every existing item. File meta elements (0002,xxxx) are
addressed at the top level like any other and live in ``ds.file_meta``. When the SOP
Instance (Class) UID changes, the file meta's Media Storage UID follows (as dcmodify does
unless -nmu).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydicom.datadict import (
    dictionary_keyword,
    dictionary_VR,
    private_dictionary_VR,
)
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

from archive.objects.edit.changes import AppliedChange, AttributeChange, EditAction, EditRefused
from archive.objects.edit.charsets import prepare_charset, settle_charset
from archive.objects.edit.journal import Journal
from archive.objects.edit.paths import (
    ALL_ITEMS,
    AttributePath,
    ElementRef,
    PathStep,
    PrivateElement,
    format_element,
    tag_text,
)
from archive.objects.edit.validate import check_result
from archive.objects.edit.values import check_text, shown, to_value

MEDIA_UIDS = {0x00080018: 0x00020003, 0x00080016: 0x00020002}
PIXEL_GROUP = 0x7FE0  # Pixel Data, Float / Double Float Pixel Data and their offset tables


@dataclass
class _Place:
    """A data set an edit reaches and the canonical path text that leads to it."""

    dataset: Dataset
    prefix: str


def apply_changes(ds: Dataset, changes: Iterable[AttributeChange]) -> list[AppliedChange]:
    """Apply ``changes`` in order; validate; return what changed. On a refusal the data
    set is left exactly as it was and EditRefused is raised."""
    journal = Journal()
    try:
        return _apply(ds, list(changes), journal)
    except EditRefused:
        journal.rollback()
        raise


def check_changes(ds: Dataset, changes: Iterable[AttributeChange]) -> None:
    """Raise EditRefused if ``changes`` cannot be applied to ``ds``; ``ds`` is unchanged."""
    journal = Journal()
    try:
        _apply(ds, list(changes), journal)
    finally:
        journal.rollback()


def _apply(ds: Dataset, changes: list[AttributeChange], journal: Journal) -> list[AppliedChange]:
    before_charset = prepare_charset(ds, changes)
    applied: list[AppliedChange] = []
    for change in changes:
        applied += _Editor(ds, change, journal).run()
    applied += _follow_media_uids(ds, journal)
    check_result(ds, journal)
    applied += settle_charset(ds, before_charset, journal)  # last: it cannot be refused after
    return applied


class _Editor:
    def __init__(self, ds: Dataset, change: AttributeChange, journal: Journal):
        self.ds, self.change, self.journal = ds, change, journal
        self.path: AttributePath | None = change.attribute_path
        self.action = EditAction(change.action)

    @property
    def creates(self) -> bool:
        return self.action == EditAction.INSERT

    def refuse(self, reason: str) -> EditRefused:
        return EditRefused(f"{self.change.describe()}: {reason}")

    def run(self) -> list[AppliedChange]:
        if self.action == EditAction.REMOVE_PRIVATE:
            return self._remove_private()
        if self.path is None:
            raise EditRefused(f"{self.action.value} needs an attribute path")
        if self.action in (EditAction.MODIFY_ALL, EditAction.REMOVE_ALL):
            return self._everywhere(self.path)
        if self.path.top_group == 0x0002 and len(self.path.steps) > 1:
            raise self.refuse("the file meta group has no sequences")
        root = _meta(self.ds) if self.path.top_group == 0x0002 else self.ds
        if root is None:
            raise self.refuse("the data set has no file meta information")
        places = [_Place(root, "")]
        for step in self.path.steps[:-1]:
            places = [p for place in places for p in self._items(place, step)]
        out: list[AppliedChange] = []
        for place in places:
            out += self._leaf(place, self.path.leaf)
        return out

    # --- walking ---------------------------------------------------------------------
    def _tag(self, container: Dataset, element: ElementRef, create: bool) -> int | None:
        """The tag ``element`` has in ``container``; None when a private creator is
        missing and not to be created."""
        if isinstance(element, PrivateElement):
            try:
                return int(container.private_block(element.group, element.creator).get_tag(
                    element.offset))
            except KeyError:
                if not create:
                    return None
            before = set(container.keys())
            block = container.private_block(element.group, element.creator, create=True)
            for tag in set(container.keys()) - before:
                self.journal.note_added(container, int(tag))
            return int(block.get_tag(element.offset))
        group, number = element >> 16, element & 0xFFFF
        if number == 0:
            raise self.refuse(f"{tag_text(element)} is a group length, which is computed")
        if group == PIXEL_GROUP:
            raise self.refuse(f"{_label(tag_text(element), element)} is not edited here: the "
                              "pixel data is written by a conversion (transcode or create), "
                              "never as typed bytes")
        if group % 2 and number >= 0x1000 and _creator_tag(element) not in container:
            raise self.refuse(
                f"private element {tag_text(element)} has no creator "
                f"{tag_text(_creator_tag(element))} here; name it by its creator, "
                f'({group:04X},"CREATOR",{number & 0xFF:02X})')
        return element

    def _items(self, place: _Place, step: PathStep) -> Iterator[_Place]:
        container = place.dataset
        tag = self._tag(container, step.element, self.creates)
        name = place.prefix + format_element(_canonical(container, step.element, tag))
        if tag is None or tag not in container:
            if self.action == EditAction.MODIFY:
                raise self.refuse(f"{name} is not present")
            if not self.creates or tag is None:
                return
            self.journal.set(container, DataElement(tag, "SQ", Sequence()))
        element = container[tag]
        if element.VR != "SQ":
            raise self.refuse(f"{name} is not a sequence ({element.VR})")
        sequence: Sequence = element.value
        for index in self._indexes(sequence, step, name):
            yield _Place(sequence[index], f"{name}[{index}].")

    def _indexes(self, sequence: Sequence, step: PathStep, name: str) -> list[int]:
        if step.item == ALL_ITEMS:
            if not sequence and self.action != EditAction.REMOVE:
                raise self.refuse(f"{name} has no items for [*]; use [0] to create one")
            return list(range(len(sequence)))
        index = int(step.item or 0)
        if index >= len(sequence):
            if self.action == EditAction.MODIFY:
                raise self.refuse(f"{name} has no item {index} ({len(sequence)} items)")
            if not self.creates:
                return []
            while len(sequence) <= index:
                self.journal.append_item(sequence, Dataset())
        return [index]

    # --- the last step -----------------------------------------------------------------
    def _leaf(self, place: _Place, step: PathStep) -> list[AppliedChange]:
        if step.item is not None:
            return self._leaf_item(place, step)
        container = place.dataset
        tag = self._tag(container, step.element, self.creates)
        element_name = format_element(_canonical(container, step.element, tag))
        path = place.prefix + element_name
        if self.action == EditAction.REMOVE:
            if tag is None or tag not in container:
                return [_record(path, tag, self.action, None, None)]
            old = shown(container[tag])
            self.journal.delete(container, tag)
            return [_record(path, tag, self.action, old, None)]
        assert tag is not None
        if tag not in container and self.action == EditAction.MODIFY:
            raise self.refuse(f"{_label(path, tag)} is not present (modify needs an existing "
                              "attribute; "
                              "insert creates it)")
        return self._set(container, tag, path)

    def _leaf_item(self, place: _Place, step: PathStep) -> list[AppliedChange]:
        if self.action == EditAction.MODIFY:
            raise self.refuse("modify names an element, not an item")
        container = place.dataset
        tag = self._tag(container, step.element, self.creates)
        name = place.prefix + format_element(_canonical(container, step.element, tag))
        if self.creates:
            before = len(container[tag].value) if tag is not None and tag in container else 0
            list(self._items(place, step))
            after = len(container[tag].value) if tag is not None and tag in container else 0
            return [_record(f"{name}[{i}]", tag, self.action, None, "(Item with 0 elements)")
                    for i in range(before, after)]
        if tag is None or tag not in container or container[tag].VR != "SQ":
            return [_record(f"{name}[{step.item}]", tag, self.action, None, None)]
        sequence = container[tag].value
        indexes = self._indexes(sequence, step, name)
        if not indexes:
            return [_record(f"{name}[{step.item}]", tag, self.action, None, None)]
        out = []
        for index in sorted(indexes, reverse=True):
            item = self.journal.remove_item(sequence, index)
            out.append(_record(f"{name}[{index}]", tag, self.action,
                               f"(Item with {len(item)} elements)", None))
        return out[::-1]

    def _set(self, container: Dataset, tag: int, path: str) -> list[AppliedChange]:
        existing = container.get(tag, None)
        vr = self._vr(container, tag, existing, path)
        text = self.change.value
        label = _label(path, tag)
        check_text(vr, text or "", label, tag)
        element = DataElement(tag, vr, to_value(vr, text, label))
        old, new = shown(existing), shown(element)
        if existing is not None and old == new and vr == existing.VR:
            return []
        self.journal.set(container, element)
        return [_record(path, tag, self.action, old, new)]

    def _vr(self, container: Dataset, tag: int, existing: DataElement | None,
            path: str) -> str:
        if self.change.vr:
            return self.change.vr.strip().upper()
        if existing is not None and " or " not in existing.VR:
            return str(existing.VR)
        if tag >> 16 == 0x0002 or not (tag >> 16) % 2:
            try:
                return _unambiguous(str(dictionary_VR(tag)), self.ds)
            except KeyError:
                raise self.refuse(f"{path} is not in the DICOM dictionary: give its VR "
                                  "(vr=LO, or 'LO=value')") from None
        if 0x0010 <= tag & 0xFFFF <= 0x00FF:
            return "LO"  # a private creator
        creator = container.get(_creator_tag(tag))
        try:
            return str(private_dictionary_VR(tag, str(creator.value) if creator else ""))
        except KeyError:
            raise self.refuse(f"{path}: the VR of this private element is not known; give "
                              "it (vr=LO, or 'LO=value')") from None

    # --- everywhere ----------------------------------------------------------------------
    def _everywhere(self, path: AttributePath) -> list[AppliedChange]:
        if len(path.steps) != 1 or path.leaf.item is not None:
            raise self.refuse("-ma/-ea take one tag (matched at any depth), not a path")
        if path.top_group == 0x0002:
            raise self.refuse("the file meta group is edited with modify/insert/remove")
        out: list[AppliedChange] = []
        for place in _all_places(self.ds):
            tag = self._tag(place.dataset, path.leaf.element, False)
            if tag is None or tag not in place.dataset:
                continue
            name = place.prefix + format_element(_canonical(place.dataset, path.leaf.element,
                                                            tag))
            if self.action == EditAction.REMOVE_ALL:
                old = shown(place.dataset[tag])
                self.journal.delete(place.dataset, tag)
                out.append(_record(name, tag, self.action, old, None))
            else:
                out += self._set(place.dataset, tag, name)
        if not out and self.action == EditAction.MODIFY_ALL:
            raise self.refuse(f"{format_element(path.leaf.element)} is not present anywhere")
        if not out:
            out.append(_record(format_element(path.leaf.element), None, self.action, None,
                               None))
        return out

    def _remove_private(self) -> list[AppliedChange]:
        out: list[AppliedChange] = []
        for place in _all_places(self.ds):
            for tag in [int(t) for t in place.dataset.keys() if t.is_private]:  # noqa: SIM118 - keys() does not decode
                name = place.prefix + format_element(_canonical(place.dataset, tag, tag))
                old = shown(place.dataset[tag])
                out.append(_record(name, tag, self.action, old, None))
            for tag in [int(t) for t in place.dataset.keys() if t.is_private]:  # noqa: SIM118 - keys() does not decode
                self.journal.delete(place.dataset, tag)
        return out


def _all_places(ds: Dataset, prefix: str = "") -> Iterator[_Place]:
    yield _Place(ds, prefix)
    for tag in list(ds.keys()):
        if not is_sequence(ds, int(tag)):
            continue
        element = ds[tag]
        if element.VR != "SQ":
            continue
        name = prefix + format_element(_canonical(ds, int(tag), int(tag)))
        for index, item in enumerate(element.value):
            yield from _all_places(item, f"{name}[{index}].")


def is_sequence(ds: Dataset, tag: int) -> bool:
    """Whether the element is (or may be) a sequence, without decoding other elements."""
    raw = ds.get_item(tag)
    if raw is None:
        return False
    if isinstance(raw, DataElement) or raw.VR == "SQ":
        return raw.VR == "SQ"
    if raw.VR is not None and raw.VR != "UN":
        return False
    if raw.length == 0xFFFFFFFF and tag != 0x7FE00010:
        return True
    try:
        return str(dictionary_VR(tag)) == "SQ"
    except KeyError:
        return False


def _follow_media_uids(ds: Dataset, journal: Journal) -> list[AppliedChange]:
    meta = _meta(ds)
    out: list[AppliedChange] = []
    if meta is None:
        return out
    for data_tag, meta_tag in MEDIA_UIDS.items():
        touched = journal.touched.get((id(ds), data_tag))
        if touched is None or data_tag not in ds or meta_tag in [
                t.tag for t in journal.touched.values() if t.container is meta]:
            continue
        before = touched.before.value if touched.before is not None else None
        current = meta.get(meta_tag)
        if current is not None and str(current.value) == str(before or ""):
            new = DataElement(meta_tag, "UI", ds[data_tag].value)
            old = shown(current)
            journal.set(meta, new)
            out.append(_record(tag_text(meta_tag), meta_tag, EditAction.MODIFY, old,
                               shown(new)))
    return out


def _meta(ds: Dataset) -> FileMetaDataset | None:
    return getattr(ds, "file_meta", None)


def _creator_tag(tag: int) -> int:
    return (tag & 0xFFFF0000) | ((tag & 0xFF00) >> 8)


def _canonical(container: Dataset, element: ElementRef, tag: int | None) -> ElementRef:
    """A raw private tag named by its creator, when the creator is in the data set."""
    if isinstance(element, PrivateElement) or tag is None:
        return element
    if (tag >> 16) % 2 and tag & 0xFFFF >= 0x1000:
        creator = container.get(_creator_tag(tag))
        if creator is not None and str(creator.value or "").strip():
            return PrivateElement(tag >> 16, str(creator.value).strip(), tag & 0xFF)
    return element


def _label(path: str, tag: int) -> str:
    """A path for messages, with the keyword when the dictionary has one."""
    if (tag >> 16) % 2:
        return path
    try:
        return f"{dictionary_keyword(tag)} {path}"
    except KeyError:
        return path


def _unambiguous(vr: str, ds: Dataset) -> str:
    if " or " not in vr:
        return vr
    choices = vr.split(" or ")
    if "SS" in choices and ds.get("PixelRepresentation") == 1:
        return "SS"
    return "US" if "US" in choices else choices[-1]


def _record(path: str, tag: int | None, action: EditAction, old: str | None,
            new: str | None) -> AppliedChange:
    keyword = ""
    if tag is not None and not (tag >> 16) % 2:
        try:
            keyword = dictionary_keyword(tag)
        except KeyError:
            keyword = ""
    return AppliedChange(path=path, tag=tag_text(tag) if tag is not None else "",
                         keyword=keyword, action=action, old=old, new=new)
