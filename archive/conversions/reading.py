"""Reading a source file's data set for a converter, with the pixel data left on disk."""

from __future__ import annotations

import warnings
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset

from archive.conversions.outcome import ConversionFailed


def read_deferred(source: Path, defer_size: int) -> Dataset:
    """The data set with values over ``defer_size`` bytes left in the file; a file pydicom
    cannot read, or of which it could read no element, fails with the reason."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = dcmread(source, defer_size=defer_size, force=True)
        except Exception as exc:
            raise ConversionFailed(f"not a readable DICOM file: {exc}") from exc
    if len(ds) == 0:  # pydicom gives up on the whole dataset when it ends mid-element
        said = "; ".join(str(w.message) for w in caught)[:300]
        raise ConversionFailed(f"no data element could be read: {said or 'empty dataset'}")
    return ds
