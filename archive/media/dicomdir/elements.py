"""Element values as records need them, read from raw elements without decoding them.

Record keys and header data sets hold pydicom RawDataElements (see headers.py); decoding one
costs far more than looking at its bytes. These helpers answer "has it a value?" and "its
text" from the bytes where that is safe (ASCII text), and through pydicom otherwise, with
the same answer either way.
"""

from __future__ import annotations

from functools import cache

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag

TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST",
                      "TM", "UC", "UI", "UR", "UT"})

Element = DataElement | RawDataElement


def has_value(ds: Dataset, elem: Element) -> bool:
    """True when the element of ``ds`` holds a value (VM above 0): raw text that is not only
    padding, any raw binary value, a sequence with items."""
    if isinstance(elem, RawDataElement):
        value = elem.value
        if not value:
            return False
        if elem.VR in TEXT_VRS:
            return bool(value.strip(b" \x00"))
        if elem.VR != "SQ":
            return True
        elem = ds[elem.tag]
    return elem.VM > 0 and elem.value is not None


def valued(ds: Dataset, tag: BaseTag) -> Element | None:
    """The element of ``ds`` at ``tag`` when it holds a value (else None), undecoded."""
    elem = ds.get_item(tag)
    return elem if elem is not None and has_value(ds, elem) else None


def text(ds: Dataset, tag: BaseTag) -> str:
    """The element's value as text ("" when absent or empty); values joined by a backslash."""
    elem = ds.get_item(tag)
    if elem is None:
        return ""
    if isinstance(elem, RawDataElement) and elem.VR in TEXT_VRS and elem.value is not None \
            and elem.value.isascii():
        return elem.value.decode("ascii").strip(" \x00")
    value = ds[tag].value
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(part) for part in value).strip()
    return str(value).strip()


@cache
def keyword_tag(keyword: str) -> BaseTag:
    """The tag of a dictionary keyword (ValueError for an unknown one)."""
    number = tag_for_keyword(keyword)
    if number is None:
        raise ValueError(f"no such attribute keyword: {keyword}")
    return BaseTag(number)
