"""Specific Character Set and edited text.

Decision: a value is never changed to fit the character set. When a new text value cannot
be encoded in the data set's Specific Character Set (say "Müller" into a data set without
one, i.e. ASCII), the data set is switched to ISO_IR 192 (UTF-8) and every text value in
it is re-encoded: the characters stay the same, their bytes follow the new set, and the
change of (0008,0005) is in the record. An edit that sets (0008,0005) itself re-encodes
the same way, and is refused when the set it names cannot hold a value the data set (or
the edit) has.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName

from archive.objects.edit.changes import AppliedChange, AttributeChange, EditAction, EditRefused
from archive.objects.edit.journal import Journal
from archive.objects.edit.paths import AttributePath
from archive.objects.edit.values import CHARSET_VRS, shown

CHARSET_TAG = 0x00080005
UTF8 = "ISO_IR 192"
ASCII_SETS = {"", "ISO_IR 6", "ISO 2022 IR 6"}


def charset_of(ds: Dataset) -> list[str]:
    element = ds.get(CHARSET_TAG)
    if element is None or element.value in (None, ""):
        return []
    value = element.value
    return [str(v or "") for v in value] if isinstance(value, list | tuple) or (
        type(value).__name__ == "MultiValue") else [str(value)]


def encodable(text: str, charset: list[str]) -> bool:
    """Whether ``text`` can be written in ``charset`` (a Specific Character Set value)."""
    if text.isascii():
        return True
    if not charset or all(term.strip() in ASCII_SETS for term in charset):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encodings = convert_encodings(charset)
    return all(any(_encodes(char, encoding) for encoding in encodings)
               for char in set(text))


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except (UnicodeError, LookupError):
        return False
    return True


def _top_level_charset_change(change: AttributeChange) -> bool:
    path = change.attribute_path
    return isinstance(path, AttributePath) and len(path.steps) == 1 and (
        path.leaf.element == CHARSET_TAG and path.leaf.item is None)


def prepare_charset(ds: Dataset, changes: list[AttributeChange]) -> list[str]:
    """The character set before the edit. When the edit may re-encode text (a non-ASCII
    value, or a change of (0008,0005)), every text value is decoded first, with the set
    it was written in."""
    before = charset_of(ds)
    if any(not (change.value or "").isascii() or _top_level_charset_change(change)
           for change in changes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.decode()
    return before


def settle_charset(ds: Dataset, before: list[str], journal: Journal) -> list[AppliedChange]:
    """Switch to UTF-8 when a new value needs it; re-encode the text when the set
    changed. Raises EditRefused when an explicitly chosen set cannot hold the text."""
    after = charset_of(ds)
    explicit = (id(ds), CHARSET_TAG) in journal.touched
    new_texts = [(touched.tag, str(v)) for touched in journal.touched.values()
                 if touched.tag in ds_tags(touched.container)
                 for v in _text_values(touched.container.get(touched.tag))]
    applied: list[AppliedChange] = []
    unencodable = [(tag, text) for tag, text in new_texts if not encodable(text, after)]
    if unencodable:
        tag, text = unencodable[0]
        if explicit:
            raise EditRefused(
                f"{text!r} ({_tag(tag)}) cannot be written in the character set "
                f"{chr(92).join(after) or 'ISO_IR 6 (ASCII)'}")
        old = shown(ds.get(CHARSET_TAG))
        element = DataElement(CHARSET_TAG, "CS", UTF8)
        journal.set(ds, element)
        applied.append(AppliedChange("(0008,0005)", "(0008,0005)", "SpecificCharacterSet",
                                     EditAction.INSERT, old, shown(element)))
        after = [UTF8]
    if [t.strip() for t in after] == [t.strip() for t in before]:
        return applied
    for element in _all_text(ds):
        for text in _text_values(element):
            if not encodable(str(text), after):
                raise EditRefused(
                    f"the character set {chr(92).join(after) or 'ISO_IR 6 (ASCII)'} cannot "
                    f"hold {str(text)!r} of {_tag(int(element.tag))}, which the data set has")
    journal.after_rollback(lambda: _reencode(ds, before))
    _reencode(ds, after)
    return applied


def ds_tags(container: Dataset) -> set[int]:
    return {int(tag) for tag in container.keys()}  # noqa: SIM118 - keys() does not decode


def _text_values(element: DataElement | None) -> Iterator[str]:
    if element is None or element.VR not in CHARSET_VRS or element.value in (None, ""):
        return
    value = element.value
    items = value if isinstance(value, list | tuple) or type(value).__name__ == (
        "MultiValue") else [value]
    for item in items:
        if isinstance(item, bytes | bytearray):
            continue
        yield str(item)


def _all_text(ds: Dataset) -> Iterator[DataElement]:
    for element in ds.iterall():
        if element.VR in CHARSET_VRS:
            yield element


def _reencode(ds: Dataset, charset: list[str]) -> None:
    """Person names drop the bytes they were read with; items learn the new set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encodings = convert_encodings(charset or ["ISO_IR 6"])
    for element in ds.iterall():
        if element.VR != "PN" or element.value in (None, ""):
            continue
        if element.VM > 1:
            element.value = [PersonName(str(v), encodings=encodings) for v in element.value]
        else:
            element.value = PersonName(str(element.value), encodings=encodings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.decode()


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
