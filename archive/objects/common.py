"""What every creator of a new DICOM object shares: who and where the object belongs (its
``Identity``), the attributes every composite instance starts from, and writing it as a
Part 10 file.

A creator is a plain function ``(source(s), out_dir, options) -> FileConversion`` (see
``archive.conversions.outcome``): it builds a data set with ``start_dataset``, sets what its
content decides (pixel description, frame timing, the encapsulated document, its MIME type),
writes it with ``write_part10`` and never touches the archive index. A source it cannot use
(a truncated JPEG, a PDF that is not a PDF) raises ``ConversionFailed`` with the reason.

Precedence of attributes, lowest first: the creator's defaults, the template's attributes
(``Identity.attributes`` holds them merged with patient/study values), then what the content
decides (written last, so a template can never contradict the pixel data).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, generate_uid

from archive.conversions.outcome import OutputFile

MANUFACTURER = "DICOM console"
CHARACTER_SET = "ISO_IR 192"  # UTF-8: any name a form gives can be written


@dataclass(frozen=True)
class Identity:
    """The attributes a new instance starts from (patient, study and a template's, as a
    data set), its series and its number. One job gives all its outputs one series."""

    attributes: Dataset
    series_instance_uid: str
    series_number: int = 1
    instance_number: int = 1
    series_description: str = ""
    now: datetime = field(default_factory=datetime.now)

    def numbered(self, instance_number: int) -> Identity:
        """The same identity for the next instance of the series."""
        return replace(self, instance_number=instance_number)


def start_dataset(identity: Identity, sop_class_uid: str, modality: str,
                  template_modality: bool = False) -> Dataset:
    """A composite instance's common modules, filled: SOP Common, Patient, General Study,
    General Series, General Equipment, SC Equipment (ConversionType WSD), with the identity's
    attributes laid over the defaults. A new SOP Instance UID unless the template gave one.
    ``modality`` is the IOD's own (XC, ES, DOC…) over any template's, unless
    ``template_modality`` (Secondary Capture: the template may say what was captured)."""
    now = identity.now
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds = Dataset()
    ds.SpecificCharacterSet = CHARACTER_SET
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    ds.SOPClassUID = UID(sop_class_uid)
    ds.SOPInstanceUID = generate_uid()
    # Patient (Type 2 attributes present, empty when unknown)
    ds.PatientName = ""
    ds.PatientID = ""
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    # General Study
    ds.StudyInstanceUID = generate_uid()
    ds.StudyDate, ds.StudyTime = date, time
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    # General Series
    ds.Modality = modality
    ds.SeriesInstanceUID = identity.series_instance_uid
    ds.SeriesNumber = identity.series_number
    ds.SeriesDate, ds.SeriesTime = date, time
    if identity.series_description:
        ds.SeriesDescription = identity.series_description
    # General Equipment, SC Equipment
    ds.Manufacturer = MANUFACTURER
    ds.ConversionType = "WSD"  # workstation
    ds.InstanceNumber = identity.instance_number
    ds.ContentDate, ds.ContentTime = date, time
    for element in identity.attributes:
        ds[element.tag] = copy.deepcopy(element)
    # What the creator and the identity decide over any template: the SOP class, the series,
    # the number in it and (but for Secondary Capture) the modality.
    ds.SOPClassUID = UID(sop_class_uid)
    ds.SeriesInstanceUID = identity.series_instance_uid
    ds.InstanceNumber = identity.instance_number
    if not template_modality or not ds.get("Modality"):
        ds.Modality = modality
    return ds


def write_part10(ds: Dataset, path: Path, transfer_syntax: str) -> OutputFile:
    """Write ``ds`` as a Part 10 file with a file meta group for ``transfer_syntax``
    (encapsulated pixel data must already be encapsulated in ``ds``)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(transfer_syntax)
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return OutputFile(path=path, name=path.name, sop_instance_uid=str(ds.SOPInstanceUID))


def output_name(prefix: str, identity: Identity) -> str:
    """A file name for an output: "SC0001.dcm", "PDF0001.dcm"…"""
    return f"{prefix}{identity.instance_number:04d}.dcm"
