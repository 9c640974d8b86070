"""A Key Object Selection document (PS3.3 A.35.4) flagging instances of a study, as dcm4che's
modality tool makes at the end of its workflow."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom.sop_class import KeyObjectSelectionDocumentStorage  # type: ignore[attr-defined]

from archive.models import Instance, Study
from archive.objects.metadata import index_attributes

# Document titles of CID 7010 the operator may choose from.
DOCUMENT_TITLES = {
    "113000": "Of Interest",
    "113001": "Rejected for Quality Reasons",
    "113003": "For Teaching",
    "113013": "Best In Set",
}


def _code(value: str, meaning: str, scheme: str = "DCM") -> Dataset:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value, scheme, meaning
    return code


def key_object_selection(study: Study, instances: list[Instance], title: str = "113000",
                         description: str = "", now: datetime | None = None) -> Dataset:
    """The KOS data set: patient and study as in the archive, a new series, one IMAGE (or
    COMPOSITE) content item per referenced instance."""
    now = now or datetime.now()
    patient = study.patient
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = KeyObjectSelectionDocumentStorage
    ds.SOPInstanceUID = generate_uid()
    ds.update(index_attributes(patient, study))
    ds.Modality = "KO"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 999
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.Manufacturer = "DICOM console"
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_code(title, DOCUMENT_TITLES[title])])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "2010"
    ds.ContentTemplateSequence = Sequence([template])
    items = []
    if description:
        text = Dataset()
        text.RelationshipType, text.ValueType = "CONTAINS", "TEXT"
        text.ConceptNameCodeSequence = Sequence([_code("113012", "Key Object Description")])
        text.TextValue = description[:1024]
        items.append(text)
    for instance in instances:
        reference = Dataset()
        reference.ReferencedSOPClassUID = instance.sop_class_uid
        reference.ReferencedSOPInstanceUID = instance.sop_instance_uid
        item = Dataset()
        item.RelationshipType = "CONTAINS"
        item.ValueType = "IMAGE" if instance.rows else "COMPOSITE"
        item.ReferencedSOPSequence = Sequence([reference])
        items.append(item)
    ds.ContentSequence = Sequence(items)
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([_evidence(study, instances)])
    return ds


def _evidence(study: Study, instances: list[Instance]) -> Dataset:
    by_series: dict[str, list[Instance]] = {}
    for instance in instances:
        by_series.setdefault(instance.series.series_instance_uid, []).append(instance)
    evidence = Dataset()
    evidence.StudyInstanceUID = study.study_instance_uid
    series_items = []
    for series_uid, members in by_series.items():
        series = Dataset()
        series.SeriesInstanceUID = series_uid
        references = []
        for instance in members:
            reference = Dataset()
            reference.ReferencedSOPClassUID = instance.sop_class_uid
            reference.ReferencedSOPInstanceUID = instance.sop_instance_uid
            references.append(reference)
        series.ReferencedSOPSequence = Sequence(references)
        series_items.append(series)
    evidence.ReferencedSeriesSequence = Sequence(series_items)
    return evidence


def write_part10(ds: Dataset, folder: Path) -> Path:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / f"KO.{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path
