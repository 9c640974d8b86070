"""Reading what the archive indexes from a DICOM file, and refusing what is not one.

Every problem becomes a ``FileRejected`` with a reason an operator can act on; character-set
trouble becomes a warning on an instance that is still indexed.
"""

from __future__ import annotations

import datetime as dt
import os
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from archive.dicomdict import register_newer_transfer_syntaxes

register_newer_transfer_syntaxes()

PREAMBLE_LENGTH = 128
MAGIC = b"DICM"
UNDEFINED_LENGTH = 0xFFFFFFFF
ITEM_TAG = (0xFFFE, 0xE000)
SEQUENCE_DELIMITER_TAG = (0xFFFE, 0xE0DD)
LONG_LENGTH_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR",
                   b"UT", b"UV"}


class FileRejected(Exception):
    """The file cannot enter the archive; the message says why."""


@dataclass
class IndexKeys:
    patient_id: str
    issuer_of_patient_id: str
    patient_name: str
    birth_date: dt.date | None
    sex: str
    study_instance_uid: str
    study_date: dt.date | None
    study_time: dt.time | None
    accession_number: str
    study_id: str
    study_description: str
    referring_physician_name: str
    series_instance_uid: str
    modality: str
    series_number: int | None
    series_description: str
    body_part_examined: str
    sop_class_uid: str
    sop_instance_uid: str
    instance_number: int | None
    transfer_syntax_uid: str
    rows: int | None
    columns: int | None
    number_of_frames: int | None
    specific_character_set: str
    warnings: list[str] = field(default_factory=list)


def parse_da(value: Any) -> dt.date | None:
    text = str(value or "").strip()
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


def parse_tm(value: Any) -> dt.time | None:
    text = str(value or "").strip().replace(":", "")
    digits = text.split(".")[0]
    if len(digits) < 2 or not (digits.isascii() and digits.isdecimal()):
        return None
    try:
        hour, minute, second = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
        return dt.time(hour, minute, min(second, 59))
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _text(ds: Dataset, keyword: str, limit: int) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        value = "\\".join(str(v) for v in value)
    return str(value).replace("\x00", "").strip()[:limit]


def check_elements_complete(ds: Dataset) -> None:
    """Every element read whole: a declared length past the end of the file means the file
    is truncated (pydicom reads what there is and says nothing)."""
    for tag in ds.keys():  # noqa: SIM118 - keys() keeps elements raw
        raw = ds.get_item(tag)
        if not isinstance(raw, RawDataElement) or raw.length == UNDEFINED_LENGTH:
            continue
        if isinstance(raw.value, bytes) and len(raw.value) < raw.length:
            raise FileRejected(
                f"truncated: element ({tag.group:04X},{tag.element:04X}) declares "
                f"{raw.length} bytes but only {len(raw.value)} remain in the file"
            )


def check_pixel_data_complete(fp: BinaryIO, size: int, transfer_syntax: UID) -> None:
    """After a stop_before_pixels read, ``fp`` is at the Pixel Data element (if any):
    check that its declared length, or its encapsulated fragments, fit in the file."""
    start = fp.tell()
    if start >= size or transfer_syntax == DeflatedExplicitVRLittleEndian:
        return
    little = transfer_syntax != "1.2.840.10008.1.2.2"
    order = "<" if little else ">"
    header = fp.read(8)
    if len(header) < 8:
        raise FileRejected("truncated: the file ends inside the Pixel Data element header")
    group, element = struct.unpack(order + "HH", header[:4])
    if (group, element) not in {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}:
        return  # trailing elements that are not pixel data: nothing to check here
    if transfer_syntax.is_implicit_VR:
        (length,) = struct.unpack(order + "L", header[4:8])
    elif header[4:6] in LONG_LENGTH_VRS:
        more = fp.read(4)
        if len(more) < 4:
            raise FileRejected("truncated: the file ends inside the Pixel Data element header")
        (length,) = struct.unpack(order + "L", more)
    else:
        (length,) = struct.unpack(order + "H", header[6:8])
    value_start = fp.tell()
    if length != UNDEFINED_LENGTH:
        if value_start + length > size:
            raise FileRejected(
                f"truncated: Pixel Data declares {length} bytes but only "
                f"{size - value_start} remain in the file"
            )
        return
    position = value_start
    while True:  # encapsulated fragments, each an item, up to the sequence delimiter
        fp.seek(position)
        item = fp.read(8)
        if len(item) < 8:
            raise FileRejected(
                "truncated: the encapsulated Pixel Data has no sequence delimiter "
                "(the file ends inside it)"
            )
        item_group, item_element, item_length = struct.unpack("<HHL", item)
        if (item_group, item_element) == SEQUENCE_DELIMITER_TAG:
            return
        if (item_group, item_element) != ITEM_TAG or item_length == UNDEFINED_LENGTH:
            raise FileRejected(
                f"corrupt encapsulated Pixel Data: unexpected tag "
                f"({item_group:04X},{item_element:04X}) at byte {position}"
            )
        position += 8 + item_length
        if position > size:
            raise FileRejected(
                f"truncated: a Pixel Data fragment at byte {position - item_length - 8} "
                f"declares {item_length} bytes, past the end of the file"
            )


@dataclass(frozen=True)
class ParsedFile:
    keys: IndexKeys
    # Bytes to put before the file's own bytes so that the stored copy is a Part 10 file:
    # empty for a Part 10 file; a preamble (and generated meta) for one without.
    part10_prefix: bytes = b""


NO_HEADER_WARNING = (
    "the file had no DICOM Part 10 header (128-byte preamble and 'DICM'); the archive "
    "stores it with one added and the dataset bytes unchanged"
)


def read_index_keys(path: Path) -> ParsedFile:
    """The keys the archive indexes. Raises FileRejected with the reason."""
    size = os.path.getsize(path)
    if size == 0:
        raise FileRejected("empty file (0 bytes)")
    with open(path, "rb") as fp:
        head = fp.read(PREAMBLE_LENGTH + len(MAGIC))
        has_header = head[PREAMBLE_LENGTH:] == MAGIC
        fp.seek(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                ds = dcmread(fp, stop_before_pixels=True, force=not has_header)
                if not has_header and not (ds.file_meta or ds.get("SOPClassUID")):
                    raise FileRejected(
                        "not a DICOM file: no Part 10 header, and what could be read as a "
                        "dataset has no SOP Class UID"
                    )
                transfer_syntax = _transfer_syntax(ds, has_header)
                check_elements_complete(ds)
                check_pixel_data_complete(fp, size, transfer_syntax)
                keys = _keys(ds, transfer_syntax)
            except FileRejected:
                raise
            except Exception as exc:  # pydicom raises many kinds on malformed input
                if not has_header:
                    raise FileRejected(
                        "not a DICOM file: no Part 10 header, and no dataset could be read "
                        f"({type(exc).__name__}: {exc})"
                    ) from exc
                raise FileRejected(f"cannot be parsed: {type(exc).__name__}: {exc}") from exc
    keys.warnings.extend(dict.fromkeys(str(w.message) for w in caught))
    prefix = b""
    if not has_header:
        keys.warnings.insert(0, NO_HEADER_WARNING)
        prefix = _part10_prefix(ds, keys, meta_present=head[:2] == b"\x02\x00")
    return ParsedFile(keys, prefix)


def _transfer_syntax(ds: Dataset, has_header: bool) -> UID:
    declared = ds.file_meta.get("TransferSyntaxUID") if ds.file_meta else None
    if declared:
        return UID(str(declared))
    if has_header:
        raise FileRejected("the file meta information has no Transfer Syntax UID")
    # A bare dataset: pydicom worked out its encoding while reading it.
    if ds.original_encoding[0]:
        return UID(ImplicitVRLittleEndian)
    return UID(ExplicitVRLittleEndian if ds.original_encoding[1] else ExplicitVRBigEndian)


def _part10_prefix(ds: Dataset, keys: IndexKeys, meta_present: bool) -> bytes:
    preamble = b"\x00" * PREAMBLE_LENGTH + MAGIC
    if meta_present:
        return preamble  # the file starts with its own meta group
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(keys.sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(keys.sop_instance_uid)
    meta.TransferSyntaxUID = UID(keys.transfer_syntax_uid)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    buffer = DicomBytesIO()
    write_file_meta_info(buffer, meta, enforce_standard=True)
    return preamble + buffer.getvalue()


def _keys(ds: Dataset, transfer_syntax: UID) -> IndexKeys:
    missing = [
        keyword
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        if not ds.get(keyword)
    ]
    sop_class = str(ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID") or "")
    if not sop_class:
        missing.append("SOPClassUID")
    if missing:
        raise FileRejected("missing required attribute(s): " + ", ".join(missing))
    charset = ds.get("SpecificCharacterSet", "")
    if not isinstance(charset, str):
        charset = "\\".join(str(c) for c in charset)
    return IndexKeys(
        patient_id=_text(ds, "PatientID", 64),
        issuer_of_patient_id=_text(ds, "IssuerOfPatientID", 64),
        patient_name=_text(ds, "PatientName", 324),
        birth_date=parse_da(ds.get("PatientBirthDate")),
        sex=_text(ds, "PatientSex", 16),
        study_instance_uid=str(ds.StudyInstanceUID).strip()[:64],
        study_date=parse_da(ds.get("StudyDate")),
        study_time=parse_tm(ds.get("StudyTime")),
        accession_number=_text(ds, "AccessionNumber", 64),
        study_id=_text(ds, "StudyID", 16),
        study_description=_text(ds, "StudyDescription", 256),
        referring_physician_name=_text(ds, "ReferringPhysicianName", 324),
        series_instance_uid=str(ds.SeriesInstanceUID).strip()[:64],
        modality=_text(ds, "Modality", 16),
        series_number=_int(ds.get("SeriesNumber")),
        series_description=_text(ds, "SeriesDescription", 256),
        body_part_examined=_text(ds, "BodyPartExamined", 64),
        sop_class_uid=sop_class.strip()[:64],
        sop_instance_uid=str(ds.SOPInstanceUID).strip()[:64],
        instance_number=_int(ds.get("InstanceNumber")),
        transfer_syntax_uid=str(transfer_syntax),
        rows=_int(ds.get("Rows")),
        columns=_int(ds.get("Columns")),
        number_of_frames=_int(ds.get("NumberOfFrames")),
        specific_character_set=str(charset)[:128],
    )
