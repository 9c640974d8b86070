"""DICOM JSON (PS3.18 Annex F) of a dataset, with BulkDataURI for large binary values.

pydicom encodes each element; this walk adds what PS3.18 asks beyond it: UTF-8 declared as
the character set, group lengths left out, null for empty values of a multi-valued string,
insignificant padding removed, and binary values of big-endian files sent little-endian.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from pydicom.datadict import dictionary_has_tag, dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

from archive.inspect.paths import format_path

BulkUri = Callable[[str], str]
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
WORD_SIZE = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
TEXT_VRS = {"LT", "ST", "UT"}  # leading spaces significant: only trailing ones go
STRING_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "PN", "SH", "TM", "UC", "UI",
              "UR"}
UTF8 = "ISO_IR 192"
UNDEFINED_LENGTH = 0xFFFFFFFF


def to_dicom_json(
    ds: Dataset,
    *,
    bulk_uri: BulkUri | None = None,
    bulk_threshold: int = 1024,
    little_endian: bool = True,
) -> dict[str, Any]:
    """``bulk_uri(path)`` gives the URI of a binary value longer than ``bulk_threshold``;
    without it every value is inline."""
    return _dataset(ds, [], bulk_uri, bulk_threshold, little_endian)


def _dataset(ds: Dataset, prefix: list[int], bulk_uri: BulkUri | None, threshold: int,
             little_endian: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag in ds.keys():  # noqa: SIM118 - iterating a Dataset converts; keys() does not
        if tag.element == 0:  # group length
            continue
        raw = ds.get_item(tag, keep_deferred=True)
        path = [*prefix, int(tag)]
        deferred = deferred_binary_vr(raw)
        if deferred is not None and bulk_uri is not None:
            out[f"{tag:08X}"] = {"vr": deferred, "BulkDataURI": bulk_uri(format_path(path))}
            continue
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement) and raw.VR == "UN":
            # Explicitly encoded as UN in the file: reported as stored, not as the
            # dictionary would have it (pydicom converts such elements when accessed).
            out[f"{tag:08X}"] = _unknown(raw, path, bulk_uri, threshold)
            continue
        out[f"{tag:08X}"] = _element(ds[tag], path, bulk_uri, threshold, little_endian)
    return out


def _unknown(raw: RawDataElement, path: list[int], bulk_uri: BulkUri | None,
             threshold: int) -> dict[str, Any]:
    value = raw.value or b""
    if not value:
        return {"vr": "UN"}
    if bulk_uri is not None and len(value) > threshold:
        return {"vr": "UN", "BulkDataURI": bulk_uri(format_path(path))}
    return {"vr": "UN", "InlineBinary": base64.b64encode(bytes(value)).decode()}


def _element(element: DataElement, path: list[int], bulk_uri: BulkUri | None, threshold: int,
             little_endian: bool) -> dict[str, Any]:
    vr = element.VR
    if vr == "SQ":
        items = [
            _dataset(item, [*path, index], bulk_uri, threshold, little_endian)
            for index, item in enumerate(element.value or [])
        ]
        return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
    if element.tag == 0x00080005:
        return {"vr": vr, "Value": [UTF8]}
    if vr in BINARY_VRS or element.tag in {0x7FE00010, 0x7FE00008, 0x7FE00009}:
        return _binary(element, path, bulk_uri, threshold, little_endian)
    encoded = element.to_json_dict(None, 10**12)
    values = encoded.get("Value")
    if values is None:
        return encoded
    if vr == "PN":
        encoded["Value"] = [_person_name(v) for v in values]
    elif vr in STRING_VRS or vr in TEXT_VRS:
        encoded["Value"] = [_string(v, vr) for v in values]
    return encoded


def _string(value: Any, vr: str) -> Any:
    if not isinstance(value, str):
        return value
    text = value.rstrip(" \x00") if vr in TEXT_VRS else value.strip(" \x00")
    return text if text else None


def _person_name(value: Any) -> Any:
    if not isinstance(value, dict):
        return None if value in ("", None) else value
    cleaned = {group: text.rstrip("^ ") for group, text in value.items() if text}
    cleaned = {group: text for group, text in cleaned.items() if text}
    return cleaned or None


def deferred_binary_vr(raw: DataElement | RawDataElement) -> str | None:
    """The VR of a binary value pydicom has not read yet (a file read with ``defer_size``),
    so that it can be named by a BulkDataURI without being read; None for anything else."""
    if not isinstance(raw, RawDataElement) or raw.value is not None or not raw.length:
        return None
    if int(raw.tag) == 0x7FE00010 and raw.length == UNDEFINED_LENGTH:
        return "OB"
    vr = raw.VR or (dictionary_VR(raw.tag) if dictionary_has_tag(raw.tag) else "UN")
    if " or " in vr:  # implicit VR: OB or OW values are OW (PS3.5 A.1), US or SS or OW too
        vr = "OW" if "OW" in vr else vr
    return vr if vr in BINARY_VRS else None


def encapsulated_vr(element: DataElement) -> str:
    """Encapsulated pixel data is OB (PS3.5 A.4) whatever VR the file's header declares."""
    if int(element.tag) == 0x7FE00010 and element.is_undefined_length:
        return "OB"
    return str(element.VR)


def _binary(element: DataElement, path: list[int], bulk_uri: BulkUri | None, threshold: int,
            little_endian: bool) -> dict[str, Any]:
    vr = encapsulated_vr(element)
    raw = element.value
    if raw is None or raw == b"":
        return {"vr": vr}
    if not isinstance(raw, bytes | bytearray):
        raw = element.to_json_dict(None, 10**12).get("InlineBinary", "")
        raw = base64.b64decode(raw)
    if bulk_uri is not None and len(raw) > threshold:
        return {"vr": vr, "BulkDataURI": bulk_uri(format_path(path))}
    size = WORD_SIZE.get(vr)
    if not little_endian and size:
        raw = swap_words(bytes(raw), size)
    return {"vr": vr, "InlineBinary": base64.b64encode(bytes(raw)).decode()}


def swap_words(data: bytes, size: int) -> bytes:
    """Big-endian words to little-endian (or back)."""
    import numpy as np

    dtype = {2: ">u2", 4: ">u4", 8: ">u8"}[size]
    usable = len(data) - len(data) % size
    swapped = np.frombuffer(data[:usable], dtype=dtype).astype(dtype.replace(">", "<")).tobytes()
    return swapped + data[usable:]
