"""Helpers for archive tests: corpus files, import folders under the allowed root."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


def _corpus_folder() -> Path:
    """The shared test corpus: $DICOM_CORPUS, or ../shared/dicom-corpus beside the checkout
    (the workspace layout), or the workspace's own when the checkout is a clone elsewhere."""
    candidates: list[str | Path] = [os.environ.get("DICOM_CORPUS", ""),
                  Path(__file__).resolve().parent.parent.parent / "shared" / "dicom-corpus",
                  "/work/shared/dicom-corpus"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "INDEX.tsv").is_file():
            return Path(candidate)
    return Path(candidates[1])


CORPUS = _corpus_folder()
# Part 10 files with all the UIDs the archive needs, across transfer syntaxes.
GOOD = [
    "693_UNCI.dcm", "693_J2KR.dcm", "MR2_J2KR.dcm", "MR2_UNCI.dcm", "OBXXXX1A_expb.dcm",
    "RG3_J2KR.dcm", "gdcm-US-ALOKA-16.dcm", "liver_deflate.dcm", "JPEG-LL.dcm",
    "SC_rgb_expb_16bit_2frame.dcm",
]


def corpus(name: str) -> Path:
    path = CORPUS / name
    assert path.is_file(), f"missing corpus file {path}"
    return path


@contextmanager
def import_folder() -> Iterator[Path]:
    """A fresh folder under the first allowed import root, removed afterwards."""
    root = Path(settings.IMPORT_ROOTS[0])
    folder = root / f"t-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_corpus(folder: Path, names: list[str]) -> list[Path]:
    copies = []
    for name in names:
        target = folder / name
        shutil.copyfile(corpus(name), target)
        copies.append(target)
    return copies


def make_object(folder: Path, *, patient_name: str, patient_id: str, study_date: str,
                modality: str, accession: str = "", description: str = "",
                study_uid: str | None = None, series_uid: str | None = None,
                rows: int = 16) -> Path:
    """A small valid secondary-capture object with the given keys and a gradient image."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = study_date
    ds.StudyTime = "101500"
    ds.AccessionNumber = accession
    ds.StudyDescription = description
    ds.Modality = modality
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = rows
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = (np.arange(rows * rows, dtype=np.uint16) * 7).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path
