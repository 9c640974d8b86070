"""The study list's sortable column headers: each links to the list sorted by it, toggling
ascending/descending, and says how the list is sorted now (aria-sort)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.http import QueryDict

from archive.filtersets import SORT_FIELDS

SORT_PARAM = "sort"
SORT_KEYS = frozenset(key for _, key in SORT_FIELDS)
DEFAULT_SORT = "-date"  # the model's ordering: newest study first


class AriaSort(StrEnum):
    ASCENDING = "ascending"
    DESCENDING = "descending"
    NONE = "none"


@dataclass(frozen=True)
class SortColumn:
    label: str
    key: str
    url: str
    aria_sort: AriaSort

    @property
    def arrow(self) -> str:
        return {AriaSort.ASCENDING: "▲", AriaSort.DESCENDING: "▼"}.get(self.aria_sort, "")


# The sortable columns of the study list, in table order: (header, sort key).
SORTABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Patient", "patient"),
    ("Patient ID", "patient_id"),
    ("Study date", "date"),
    ("Description", "description"),
    ("Modalities", "modality"),
    ("Accession", "accession"),
    ("Instances", "instances"),
)


def current_sort(query: QueryDict) -> str:
    """The sort in effect: the requested one when whitelisted, else the default."""
    value = query.get(SORT_PARAM, "")
    return value if value.lstrip("-") in SORT_KEYS else DEFAULT_SORT


def sort_columns(query: QueryDict) -> dict[str, SortColumn]:
    """Header links by sort key, keeping the other filters and going back to page 1."""
    now = current_sort(query)
    columns: dict[str, SortColumn] = {}
    for label, key in SORTABLE_COLUMNS:
        if now == key:
            state, target = AriaSort.ASCENDING, f"-{key}"
        elif now == f"-{key}":
            state, target = AriaSort.DESCENDING, key
        else:
            state, target = AriaSort.NONE, key
        params = query.copy()
        params.pop("page", None)
        params[SORT_PARAM] = target
        columns[key] = SortColumn(label, key, f"?{params.urlencode()}", state)
    return columns
