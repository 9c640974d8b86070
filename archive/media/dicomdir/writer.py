"""A Directory written as a DICOMDIR file (PS3.10 7.1, PS3.3 F.3), the way dcmmkdir lays it out.

Explicit VR Little Endian; records in one Directory Record Sequence of defined length, each
record an item of defined length, parents before their children (depth-first), so that the
offsets (0004,1200), (0004,1202), (0004,1400) and (0004,1420) are byte positions of item tags
counted from the first byte of the file (the preamble). Every record starts with its three
offset/flag elements at fixed places, so the records are encoded once and the offsets are
filled in afterwards.
"""

from __future__ import annotations

import itertools
import os
import struct
import tempfile
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

from archive.media.dicomdir.headers import as_explicit_little
from archive.media.dicomdir.model import Directory, Record

MEDIA_STORAGE_DIRECTORY_STORAGE = "1.2.840.10008.1.3.10"
IMPLEMENTATION_VERSION = f"PYDICOM {pydicom.__version__}"[:16]
IN_USE, INACTIVE = 0xFFFF, 0x0000
PREAMBLE = b"\x00" * 128 + b"DICM"
ITEM_HEADER = 8
# (0004,1400) UL, (0004,1410) US, (0004,1420) UL: 12 + 10 + 12 bytes at the start of a record
_PREFIX = struct.Struct("<HH2sHI HH2sHH HH2sHI")
_PREFIX_BYTES = _PREFIX.size
# record elements written from the Record's fields, never from its keys
RECORD_TAGS = frozenset({0x00041400, 0x00041410, 0x00041420, 0x00041430, 0x00041500,
                         0x00041504, 0x00041510, 0x00041511, 0x00041512, 0x00041600})


def _order(directory: Directory) -> list[Record]:
    """The records in file order: depth-first, each before the records below it."""
    return [record for _, record in directory.walk()]


def _element(tag: int, vr: bytes, text: str, pad: bytes) -> bytes:
    """A short-VR element (CS, UI) of ASCII text, padded to an even length."""
    value = text.encode("ascii", "replace")
    if len(value) % 2:
        value += pad
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def _tail(record: Record) -> bytes:
    """A record's elements from Directory Record Type (0004,1430) on, encoded: the record's
    own elements by hand (they are ASCII CS and UI), its keys by pydicom."""
    own = [_element(0x00041430, b"CS", str(record.record_type), b" ")]
    if record.file_id:
        own += [_element(0x00041500, b"CS", "\\".join(record.file_id), b" "),
                _element(0x00041510, b"UI", record.sop_class_uid, b"\0"),
                _element(0x00041511, b"UI", record.sop_instance_uid, b"\0"),
                _element(0x00041512, b"UI", record.transfer_syntax_uid, b"\0")]
    keys = record.keys
    if keys and min(keys.keys()) < 0x00050000:
        # group 0004 is the record's own, written above
        keys = Dataset({elem.tag: elem for elem in keys.elements() if elem.tag.group > 0x0004})
        if record.keys.original_encoding == (False, True):  # raw values written as they are
            as_explicit_little(keys)
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, keys)
    return b"".join(own) + fp.getvalue()


def _prefix(next_offset: int, in_use: bool, lower_offset: int) -> bytes:
    return _PREFIX.pack(0x0004, 0x1400, b"UL", 4, next_offset,
                        0x0004, 0x1410, b"US", 2, IN_USE if in_use else INACTIVE,
                        0x0004, 0x1420, b"UL", 4, lower_offset)


def _file_meta(directory: Directory) -> bytes:
    if not directory.media_storage_sop_instance_uid:
        directory.media_storage_sop_instance_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(MEDIA_STORAGE_DIRECTORY_STORAGE)
    meta.MediaStorageSOPInstanceUID = UID(directory.media_storage_sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_file_meta_info(fp, meta, enforce_standard=True)
    return PREAMBLE + fp.getvalue()


def _top(directory: Directory, first: int, last: int, sequence_length: int) -> bytes:
    """The File-set elements and the header of the Directory Record Sequence."""
    ds = Dataset()
    ds.add(DataElement(0x00041130, "CS", directory.fileset_id))
    if directory.descriptor_file_id:
        ds.add(DataElement(0x00041141, "CS", list(directory.descriptor_file_id)))
        if directory.descriptor_charset:
            ds.add(DataElement(0x00041142, "CS", directory.descriptor_charset))
    ds.add(DataElement(0x00041200, "UL", first))
    ds.add(DataElement(0x00041202, "UL", last))
    ds.add(DataElement(0x00041212, "US", directory.consistency_flag))
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    return fp.getvalue() + struct.pack("<HH2sHI", 0x0004, 0x1220, b"SQ", 0, sequence_length)


def encode_dicomdir(directory: Directory) -> bytes:
    """The DICOMDIR's bytes; every record's ``offset`` is set to where it was written."""
    records = _order(directory)
    tails = [_tail(record) for record in records]
    head = _file_meta(directory)
    sizes = [ITEM_HEADER + _PREFIX_BYTES + len(tail) for tail in tails]
    start = len(head) + len(_top(directory, 0, 0, 0))
    position = start
    for record, size in zip(records, sizes, strict=True):
        record.offset = position
        position += size
    roots = directory.roots
    first = roots[0].offset or 0 if roots else 0
    last = roots[-1].offset or 0 if roots else 0
    out = [head, _top(directory, first, last, position - start)]
    following = _next_offsets(directory)
    for record, tail in zip(records, tails, strict=True):
        lower = record.children[0].offset or 0 if record.children else 0
        out.append(struct.pack("<HHI", 0xFFFE, 0xE000, _PREFIX_BYTES + len(tail)))
        out.append(_prefix(following.get(id(record), 0), record.in_use, lower))
        out.append(tail)
    return b"".join(out)


def _next_offsets(directory: Directory) -> dict[int, int]:
    """Each record's next sibling's offset, by record identity."""
    found: dict[int, int] = {}
    levels = [directory.roots]
    while levels:
        siblings = levels.pop()
        for record, following in itertools.pairwise(siblings):
            found[id(record)] = following.offset or 0
        levels.extend(r.children for r in siblings if r.children)
    return found


def write_dicomdir(directory: Directory, path: Path) -> int:
    """Write the DICOMDIR at ``path`` atomically (a temporary file in the same folder, synced,
    then renamed over it); returns its size in bytes."""
    data = encode_dicomdir(directory)
    handle, temporary = tempfile.mkstemp(prefix=".DICOMDIR.", dir=path.parent)
    try:
        os.fchmod(handle, 0o644)  # readable like the medium's other files
        with os.fdopen(handle, "wb") as fp:
            fp.write(data)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return len(data)
