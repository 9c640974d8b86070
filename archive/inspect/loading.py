"""Reading a file for inspection: everything pydicom can make of it, with its warnings."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import config, dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from archive.dicomdict import register_newer_transfer_syntaxes

register_newer_transfer_syntaxes()


class Unreadable(Exception):
    pass


@dataclass
class LoadedFile:
    dataset: Dataset
    little_endian: bool
    implicit_vr: bool
    warnings: list[str] = field(default_factory=list)


# pydicom replaces an explicit UN with the dictionary VR while reading, through a global
# switch. Inspection shows the file as it is (as dcmdump and dcm2json do), so it reads with
# the switch off, converting every element before the switch is restored.
AS_STORED = threading.Lock()


def _convert_all(ds: Dataset) -> None:
    for tag in ds.keys():  # noqa: SIM118 - iterating a Dataset would read deferred values
        raw = ds.get_item(tag, keep_deferred=True)
        if isinstance(raw, RawDataElement) and raw.value is None and raw.length:
            continue  # deferred (a large value): read when it is asked for, if ever
        element = ds[tag]
        if element.VR == "SQ":
            for item in element.value or []:
                _convert_all(item)


UN_FALLBACK_WARNING = (
    "Elements stored with VR UN could not be read as stored (for example an unknown-VR "
    "Specific Character Set); they are shown with the VR of the DICOM dictionary."
)
TRUNCATED_WARNING = (
    "The file ends inside its pixel data: shown without the pixel data."
)


def _read(path: Path, as_stored: bool, stop_before_pixels: bool = False,
          defer_size: int | None = None) -> Dataset:
    with AS_STORED:
        previous = config.replace_un_with_known_vr
        config.replace_un_with_known_vr = not as_stored
        try:
            ds = dcmread(path, force=True, stop_before_pixels=stop_before_pixels,
                         defer_size=defer_size)
            _convert_all(ds)
        finally:
            config.replace_un_with_known_vr = previous
    return ds


def load(path: Path, defer_size: int | None = None) -> LoadedFile:
    """With ``defer_size``, values longer than that are read only when asked for (the
    metadata of a retrieve names them by BulkDataURI without reading them)."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            try:
                ds = _read(path, as_stored=True, defer_size=defer_size)
            except (TypeError, KeyError, LookupError):
                ds = _read(path, as_stored=False, defer_size=defer_size)
                notes.append(UN_FALLBACK_WARNING)
            if len(ds) == 0 and path.stat().st_size > 132:
                ds = _read(path, as_stored=True, stop_before_pixels=True)
                notes.append(TRUNCATED_WARNING)
        except Exception as exc:
            raise Unreadable(f"cannot be read as DICOM: {type(exc).__name__}: {exc}") from exc
        implicit, little = ds.original_encoding
    if implicit is None or len(ds) == 0:
        raise Unreadable("cannot be read as DICOM: no dataset found")
    found = list(dict.fromkeys(str(w.message) for w in caught))
    return LoadedFile(ds, bool(little), bool(implicit), notes + found)
