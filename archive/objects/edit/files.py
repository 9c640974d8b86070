"""Editing a Part 10 file: read, apply (validated, all or nothing), write the destination
atomically (a temporary file in its folder, then a rename).

The file keeps its transfer syntax and its file meta as they were (bar what the edit
changed): implicit VR, big endian and deflated data sets are written back the same way;
elements the edit does not touch, Pixel Data above all, are written from the bytes read.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.filewriter import dcmwrite
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from archive.objects.edit.apply import apply_changes
from archive.objects.edit.changes import AppliedChange, AttributeChange, EditRefused
from archive.objects.edit.uids import UidMap

DEFER_BYTES = 1024 * 1024


def read_for_edit(source: Path) -> FileDataset:
    """The file with large values left on disk (read again when written)."""
    try:
        meta = read_file_meta_info(source)  # the header only, to see the syntax
        deflated = meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
        return dcmread(source, defer_size=None if deflated else DEFER_BYTES)
    except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
        raise EditRefused(f"{source.name} cannot be read as DICOM: {exc}") from exc


def edit_file(source: Path, destination: Path, changes: Iterable[AttributeChange],
              uid_map: UidMap | None = None) -> list[AppliedChange]:
    """Apply ``changes`` (then ``uid_map``) to ``source`` and write ``destination``;
    EditRefused leaves ``destination`` untouched (and unwritten)."""
    ds = read_for_edit(source)
    applied = apply_changes(ds, changes)
    if uid_map is not None:
        applied += uid_map.remap(ds)
    write_like_source(ds, destination)
    return applied


def write_like_source(ds: Dataset, destination: Path) -> None:
    implicit, little = _encoding(ds)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".edit-", suffix=".tmp", dir=destination.parent)
    os.close(handle)
    try:
        syntax = getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID")
        known = syntax is not None and UID(str(syntax)).is_transfer_syntax
        if known:
            dcmwrite(temporary, ds, enforce_file_format=False)
        else:  # a transfer syntax pydicom does not know: the encoding it was read with
            dcmwrite(temporary, ds, implicit_vr=implicit, little_endian=little,
                     force_encoding=True)
        with open(temporary, "rb+") as fp:
            os.fsync(fp.fileno())
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _encoding(ds: Dataset) -> tuple[bool, bool]:
    implicit, little = ds.original_encoding
    return (bool(implicit), little is not False)
