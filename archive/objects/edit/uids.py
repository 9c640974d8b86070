"""New Study/Series/SOP Instance UIDs for an edited set, consistent across its files.

``UidMap`` maps every old UID of the chosen levels to one new UID: the same old UID gives
the same new one in every file of the set. ``remap`` replaces it in any UI element, at any
depth (references in sequences included) and in the file meta (Media Storage SOP
Instance UID follows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.datadict import dictionary_keyword, dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import generate_uid

from archive.objects.edit.apply import is_sequence
from archive.objects.edit.changes import AppliedChange, EditAction
from archive.objects.edit.paths import tag_text
from archive.objects.edit.values import shown


@dataclass(frozen=True)
class NewUids:
    """Which levels get new UIDs (dcmodify -gst, -gse, -gin)."""

    study: bool = True
    series: bool = True
    instance: bool = True

    @property
    def any(self) -> bool:
        return self.study or self.series or self.instance


class UidMap:
    def __init__(self, triples: Iterable[tuple[str, str, str]],
                 levels: NewUids = NewUids()):
        """``triples``: (study, series, SOP instance) UIDs of the files of the set."""
        self.levels = levels
        self.mapping: dict[str, str] = {}
        for study, series, sop in triples:
            for wanted, old in ((levels.study, study), (levels.series, series),
                                (levels.instance, sop)):
                if wanted and old and old not in self.mapping:
                    self.mapping[str(old)] = generate_uid()

    @classmethod
    def from_datasets(cls, datasets: Iterable[Dataset],
                      levels: NewUids = NewUids()) -> UidMap:
        return cls(((str(ds.get("StudyInstanceUID", "")), str(ds.get("SeriesInstanceUID", "")),
                     str(ds.get("SOPInstanceUID", ""))) for ds in datasets), levels)

    def new_uid(self, old: str) -> str | None:
        return self.mapping.get(old)

    def remap(self, ds: Dataset) -> list[AppliedChange]:
        """Replace every old UID of the set in ``ds`` (meta included)."""
        out: list[AppliedChange] = []
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            out += self._walk(meta, "")
        out += self._walk(ds, "")
        return out

    def _walk(self, ds: Dataset, prefix: str) -> list[AppliedChange]:
        out: list[AppliedChange] = []
        for tag in [int(t) for t in ds.keys()]:  # noqa: SIM118 - keys() does not decode
            if is_sequence(ds, tag):
                for index, item in enumerate(ds[tag].value or []):
                    out += self._walk(item, f"{prefix}{tag_text(tag)}[{index}].")
                continue
            if not _is_uid(ds, tag):
                continue
            element = ds[tag]
            values = list(element.value) if isinstance(element.value, MultiValue | list) else [
                element.value]
            new = [self.mapping.get(str(v), v) for v in values]
            if new == values:
                continue
            replaced = DataElement(tag, "UI", new[0] if len(new) == 1 else new)
            old = shown(element)
            ds[tag] = replaced
            keyword = "" if (tag >> 16) % 2 else dictionary_keyword(tag)
            out.append(AppliedChange(prefix + tag_text(tag), tag_text(tag), keyword,
                                     EditAction.MODIFY, old, shown(replaced)))
        return out


def _is_uid(ds: Dataset, tag: int) -> bool:
    raw = ds.get_item(tag)
    if raw is None:
        return False
    if raw.VR is not None and raw.VR != "UN":
        return raw.VR == "UI"
    try:
        return str(dictionary_VR(tag)) == "UI"
    except KeyError:
        return False
