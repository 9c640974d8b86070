"""Native DICOM Model XML (PS3.19 Annex A): writer and reader. pydicom has neither.

The writer walks the dataset as the DICOM JSON writer does (same binary and bulk data
rules) and keeps string values exactly as stored (DS/IS included). The reader turns such a
document back into a pydicom Dataset; BulkData references are resolved by a callback.
"""

from __future__ import annotations

import base64
import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from pydicom import config
from pydicom.datadict import dictionary_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.valuerep import PersonName

from archive.inspect.dicomjson import BINARY_VRS, UTF8, WORD_SIZE, encapsulated_vr, swap_words
from archive.inspect.loading import AS_STORED
from archive.inspect.paths import format_path

BulkUri = Callable[[str], str]
BulkLoader = Callable[[str], bytes]
PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
PN_PARTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
INT_VRS = {"US", "SS", "UL", "SL", "UV", "SV"}
FLOAT_VRS = {"FL", "FD"}


class InvalidNativeXml(ValueError):
    pass


# --- writer ------------------------------------------------------------------------------
def to_native_xml(ds: Dataset, *, bulk_uri: BulkUri | None = None, bulk_threshold: int = 1024,
                  little_endian: bool = True) -> bytes:
    root = ET.Element("NativeDicomModel", {"xml:space": "preserve"})
    _write_dataset(root, ds, [], bulk_uri, bulk_threshold, little_endian)
    ET.indent(root, space="")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _write_dataset(parent: ET.Element, ds: Dataset, prefix: list[int], bulk_uri: BulkUri | None,
                   threshold: int, little_endian: bool) -> None:
    for tag in ds.keys():  # noqa: SIM118 - keys() keeps explicit UN elements raw
        if tag.element == 0:
            continue
        raw = ds.get_item(tag)
        attrs = {"tag": _xml_tag(tag)}
        if isinstance(raw, RawDataElement) and raw.VR == "UN":
            attrs["vr"] = "UN"
            node = ET.SubElement(parent, "DicomAttribute", _named(attrs, ds, tag))
            _write_binary(node, bytes(raw.value or b""), "UN", [*prefix, int(tag)], bulk_uri,
                          threshold, True)
            continue
        element = ds[tag]
        attrs["vr"] = encapsulated_vr(element)
        node = ET.SubElement(parent, "DicomAttribute", _named(attrs, ds, tag))
        path = [*prefix, int(tag)]
        if element.VR == "SQ":
            for index, item in enumerate(element.value or []):
                child = ET.SubElement(node, "Item", {"number": str(index + 1)})
                _write_dataset(child, item, [*path, index], bulk_uri, threshold, little_endian)
        elif int(tag) == 0x00080005:
            ET.SubElement(node, "Value", {"number": "1"}).text = UTF8
        elif element.VR in BINARY_VRS or int(tag) in {0x7FE00010, 0x7FE00008, 0x7FE00009}:
            raw_value = element.value
            if isinstance(raw_value, bytes | bytearray) and raw_value:
                _write_binary(node, bytes(raw_value), element.VR, path, bulk_uri, threshold,
                              little_endian)
        else:
            _write_values(node, element)


def _xml_tag(tag: Any) -> str:
    """A private element's block number is written as 00, its creator named in the
    privateCreator attribute (PS3.19 A.1.1); Private Creator elements keep their tag."""
    tag = Tag(tag)
    if tag.is_private and tag.element >= 0x1000:
        return f"{tag.group:04X}00{tag.element & 0xFF:02X}"
    return f"{int(tag):08X}"


def _named(attrs: dict[str, str], ds: Dataset, tag: Any) -> dict[str, str]:
    tag = Tag(tag)
    if tag.is_private:
        if tag.element >= 0x1000:
            creator_tag = (tag.group << 16) | (tag.element >> 8)
            creator = ds.get(creator_tag)
            if creator is not None and isinstance(creator.value, str):
                attrs["privateCreator"] = creator.value.strip()
        return attrs
    with contextlib.suppress(KeyError):
        attrs["keyword"] = dictionary_keyword(tag)
    return attrs


def _write_binary(node: ET.Element, data: bytes, vr: str, path: list[int],
                  bulk_uri: BulkUri | None, threshold: int, little_endian: bool) -> None:
    if not data:
        return
    if bulk_uri is not None and len(data) > threshold:
        ET.SubElement(node, "BulkData", {"uri": bulk_uri(format_path(path))})
        return
    size = WORD_SIZE.get(vr)
    if not little_endian and size:
        data = swap_words(data, size)
    ET.SubElement(node, "InlineBinary").text = base64.b64encode(data).decode()


def _values(element: DataElement) -> list[Any]:
    value = element.value
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return list(value)
    return [value]


def _write_values(node: ET.Element, element: DataElement) -> None:
    for number, value in enumerate(_values(element), start=1):
        attrs = {"number": str(number)}
        if element.VR == "PN":
            _write_person_name(node, attrs, value)
            continue
        child = ET.SubElement(node, "Value", attrs)
        if value is None or value == "":
            continue
        if element.VR == "AT":
            child.text = f"{int(value):08X}"
        elif element.VR in FLOAT_VRS:
            child.text = repr(float(value))
        elif element.VR in {"LT", "ST", "UT"}:
            child.text = str(value).rstrip(" \x00")
        else:
            child.text = str(value).strip(" \x00")


def _write_person_name(node: ET.Element, attrs: dict[str, str], value: Any) -> None:
    person = ET.SubElement(node, "PersonName", attrs)
    groups = str(value).split("=")
    for group_name, text in zip(PN_GROUPS, groups, strict=False):
        parts = text.rstrip("^ ").split("^") if text.strip("^ ") else []
        if not parts:
            continue
        group = ET.SubElement(person, group_name)
        for part_name, part in zip(PN_PARTS, parts, strict=False):
            if part:
                ET.SubElement(group, part_name).text = part


# --- reader ------------------------------------------------------------------------------
def from_native_xml(document: bytes | str, bulk_loader: BulkLoader | None = None) -> Dataset:
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise InvalidNativeXml(f"not well-formed XML: {exc}") from exc
    if root.tag != "NativeDicomModel":
        raise InvalidNativeXml(f"the root element is {root.tag!r}, not NativeDicomModel")
    # An element the document calls UN stays UN: pydicom would otherwise give it the
    # dictionary's VR (and fail to make a sequence of its bytes).
    with AS_STORED:
        previous = config.replace_un_with_known_vr
        config.replace_un_with_known_vr = False
        try:
            return _read_dataset(root, bulk_loader)
        finally:
            config.replace_un_with_known_vr = previous


def _read_dataset(parent: ET.Element, bulk_loader: BulkLoader | None) -> Dataset:
    ds = Dataset()
    for node in parent.findall("DicomAttribute"):
        tag_text, vr = node.get("tag", ""), node.get("vr", "")
        try:
            tag = int(tag_text, 16)
        except ValueError as exc:
            raise InvalidNativeXml(f"bad tag {tag_text!r}") from exc
        if not vr:
            raise InvalidNativeXml(f"DicomAttribute {tag_text} has no vr")
        creator = node.get("privateCreator")
        if creator is not None and (tag >> 16) % 2:
            block = ds.private_block(tag >> 16, creator, create=True)
            tag = block.get_tag(tag & 0xFF)
        value = _read_value(node, vr, bulk_loader)
        try:
            ds.add(DataElement(tag, vr, value))
        except (TypeError, ValueError) as exc:
            raise InvalidNativeXml(f"DicomAttribute {tag_text} ({vr}): {exc}") from exc
    return ds


def _read_value(node: ET.Element, vr: str, bulk_loader: BulkLoader | None) -> Any:
    if vr == "SQ":
        return [_read_dataset(item, bulk_loader) for item in node.findall("Item")]
    inline = node.find("InlineBinary")
    if inline is not None:
        return base64.b64decode(inline.text or "")
    bulk = node.find("BulkData")
    if bulk is not None:
        uri = bulk.get("uri") or bulk.get("uuid") or ""
        if bulk_loader is None:
            raise InvalidNativeXml(f"BulkData {uri!r} cannot be resolved here")
        return bulk_loader(uri)
    if vr == "PN":
        values: list[Any] = [_read_person_name(p) for p in node.findall("PersonName")]
    else:
        values = [_convert(v.text, vr) for v in node.findall("Value")]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _convert(text: str | None, vr: str) -> Any:
    if text is None or text == "":
        return None if vr in INT_VRS | FLOAT_VRS | {"AT"} else ""
    if vr in INT_VRS:
        return int(text)
    if vr in FLOAT_VRS:
        return float(text)
    if vr == "AT":
        return Tag(int(text, 16))
    return text


def _read_person_name(node: ET.Element) -> PersonName:
    groups = []
    for group_name in PN_GROUPS:
        group = node.find(group_name)
        if group is None:
            groups.append("")
            continue
        parts = [(group.findtext(part) or "") for part in PN_PARTS]
        groups.append("^".join(parts).rstrip("^"))
    return PersonName("=".join(groups).rstrip("="))
