"""Helpers for the record-key tests: DCMTK dcmmkdir as the oracle, and test instances."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CORPUS = Path("/work/shared/dicom-corpus")
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
RECORD_GROUP = 0x0004
_MISSING = re.compile(r"required attribute (\w+) \([0-9a-f,]+\) missing")


def source_files() -> list[Path]:
    """Corpus files and pydicom's own test files (read-only sources)."""
    return sorted(CORPUS.glob("*.dcm")) + sorted(PYDICOM_FILES.glob("*.dcm"))


def copy_as(source: Path, folder: Path, index: int) -> Path:
    """Copy a source into folder with an 8-character uppercase name."""
    target = folder / f"F{index:07d}"
    shutil.copyfile(source, target)
    return target


@dataclass
class Oracle:
    """What dcmmkdir made of one run."""

    returncode: int
    log: str
    leaves: dict[str, list[tuple[str, Dataset]]] = field(default_factory=dict)

    def missing(self) -> list[str]:
        """Keywords dcmmkdir reported as required and missing."""
        return _MISSING.findall(self.log)


def dcmmkdir(folder: Path, names: list[str], *options: str) -> Oracle:
    """Run dcmmkdir in folder; map each referenced file name to its record chain."""
    dicomdir = folder / "DICOMDIR"
    dicomdir.unlink(missing_ok=True)
    run = subprocess.run(
        ["dcmmkdir", *options, "-nb", "+D", "DICOMDIR", *names],
        cwd=folder, capture_output=True, text=True, check=False,
    )
    oracle = Oracle(run.returncode, run.stdout + run.stderr)
    if dicomdir.exists():
        oracle.leaves = record_chains(dicomdir)
    return oracle


def record_chains(dicomdir: Path) -> dict[str, list[tuple[str, Dataset]]]:
    """File ID → [(record type, keys)] from the root record down to the referencing one."""
    ds = pydicom.dcmread(dicomdir)
    by_offset = {item.seq_item_tell: item for item in ds.DirectoryRecordSequence}
    chains: dict[str, list[tuple[str, Dataset]]] = {}

    def visit(offset: int, above: list[tuple[str, Dataset]]) -> None:
        while offset:
            item = by_offset[offset]
            chain = [*above, (str(item.DirectoryRecordType), keys_of(item))]
            if "ReferencedFileID" in item:
                file_id = item.ReferencedFileID
                name = "/".join(file_id) if isinstance(file_id, list | tuple) else str(file_id)
                chains[name] = chain
            visit(item.OffsetOfReferencedLowerLevelDirectoryEntity, chain)
            offset = item.OffsetOfTheNextDirectoryRecord

    visit(ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, [])
    return chains


def keys_of(record: Dataset) -> Dataset:
    """The record's attributes outside group 0004."""
    keys = Dataset()
    for elem in record:
        if elem.tag.group != RECORD_GROUP:
            keys.add(elem)
    return keys


def as_json(ds: Dataset) -> dict[str, Any]:
    """Comparable form of record keys (values and VRs, nested items included)."""
    return ds.to_json_dict(bulk_data_threshold=1 << 30)


def _identity(ds: Dataset, sop_class: str, modality: str, n: int) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = f"Made^Patient{n}"
    ds.PatientID = f"MADE{n}"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20240102", "101112", f"S{n}"
    ds.AccessionNumber = f"ACC{n}"
    ds.StudyDescription = "Made for record keys"
    ds.SeriesNumber = str(n)
    ds.InstanceNumber = str(n + 1)
    ds.ContentDate, ds.ContentTime = "20240103", "111213"


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def _referenced_series() -> list[Dataset]:
    image = Dataset()
    image.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    image.ReferencedSOPInstanceUID = generate_uid()
    series = Dataset()
    series.SeriesInstanceUID = generate_uid()
    series.ReferencedImageSequence = [image]
    return [series]


def made_instances() -> dict[str, Dataset]:
    """Instances of non-image classes the corpus lacks: KO, PR, PDF, RT, raw, registration."""
    made: dict[str, Dataset] = {}

    def new(name: str, sop_class: str, modality: str) -> Dataset:
        ds = Dataset()
        _identity(ds, sop_class, modality, len(made) + 1)
        made[name] = ds
        return ds

    ko = new("KO", "1.2.840.10008.5.1.4.1.1.88.59", "KO")
    ko.ConceptNameCodeSequence = [_code("113000", "Of Interest")]
    ko.ValueType, ko.ContinuityOfContent = "CONTAINER", "SEPARATE"
    pr = new("PR", "1.2.840.10008.5.1.4.1.1.11.1", "PR")
    pr.PresentationCreationDate, pr.PresentationCreationTime = "20240104", "121314"
    pr.ContentLabel, pr.ContentDescription, pr.ContentCreatorName = "LABEL", "Desc", "Doe^J"
    pr.ReferencedSeriesSequence = _referenced_series()
    pdf = new("PDF", "1.2.840.10008.5.1.4.1.1.104.1", "DOC")
    pdf.MIMETypeOfEncapsulatedDocument, pdf.DocumentTitle = "application/pdf", "A report"
    pdf.ConceptNameCodeSequence = [_code("18748-4", "Diagnostic imaging report")]
    pdf.BurnedInAnnotation = "NO"
    pdf.EncapsulatedDocument = b"%PDF-1.4\n%%EOF\n"
    rtss = new("RTSS", "1.2.840.10008.5.1.4.1.1.481.3", "RTSTRUCT")
    rtss.StructureSetLabel, rtss.StructureSetDate, rtss.StructureSetTime = "SS", "20240105", ""
    rtrec = new("RTREC", "1.2.840.10008.5.1.4.1.1.481.4", "RTRECORD")
    rtrec.TreatmentDate, rtrec.TreatmentTime = "20240106", "131415"
    raw = new("RAW", "1.2.840.10008.5.1.4.1.1.66", "OT")
    raw.ImageType = ["ORIGINAL", "PRIMARY"]
    reg = new("REG", "1.2.840.10008.5.1.4.1.1.66.1", "REG")
    reg.ContentLabel, reg.ContentDescription = "REG1", "Registration"
    rwv = new("RWV", "1.2.840.10008.5.1.4.1.1.67", "RWV")
    rwv.ContentLabel = "MAP"
    return made


def save(ds: Dataset, path: Path) -> Path:
    """Write a made instance as a Part 10 file in Explicit VR Little Endian."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def corpus_or_pydicom(name: str) -> Path:
    """A corpus file, else pydicom's test file of that name."""
    found = CORPUS / name
    if found.exists():
        return found
    from pydicom.data import get_testdata_file
    return Path(str(get_testdata_file(name)))


def dcmmkdir_medium(folder: Path, sources: list[str]) -> Path:
    """Copies of ``sources`` as F0000000, F0000001… in ``folder`` (made if absent) and the
    DICOMDIR dcmmkdir -Pgp +I builds over them; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"F{index:07d}" for index in range(len(sources))]
    for name, source in zip(names, sources, strict=True):
        shutil.copyfile(corpus_or_pydicom(source), folder / name)
    oracle = dcmmkdir(folder, names, "-Pgp", "+I")
    assert oracle.returncode == 0, oracle.log
    return folder
