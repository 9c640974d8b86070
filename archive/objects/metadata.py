"""Where a created object belongs: an archived study (a new series in it), an archived
patient (a new study), or a new patient and study typed in a form — plus the attributes a
PS3.19 XML or PS3.18 JSON template supplies (like ``jpg2dcm -f metadata.xml``).

The archive's values win over a template's: an object attached to a study must not
contradict the study it joins. A template's values pass the checks an edit's values pass
(PS3.5 VR, length, repertoire, multiplicity): a bad one is refused naming the attribute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import generate_uid

from archive.inspect.nativexml import InvalidNativeXml, from_native_xml
from archive.models import Instance, Patient, Study
from archive.objects.edit.changes import EditRefused
from archive.objects.edit.paths import tag_text
from archive.objects.edit.values import check_text, text_of
from archive.storage import absolute_path

# Patient module and General Study module attributes copied from a study's own file.
PATIENT_KEYWORDS = (
    "PatientName", "PatientID", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "PatientBirthDate", "PatientBirthTime", "PatientSex", "OtherPatientIDsSequence",
    "PatientComments", "PatientSpeciesDescription", "PatientBreedDescription",
    "ResponsiblePerson", "ResponsibleOrganization", "PatientIdentityRemoved",
)
STUDY_KEYWORDS = (
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName",
    "ReferringPhysicianIdentificationSequence", "StudyID", "AccessionNumber",
    "IssuerOfAccessionNumberSequence", "StudyDescription", "ProcedureCodeSequence",
    "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy",
)
# What a template may not decide: the file meta group, what the content decides, and
# the character set (objects are written in UTF-8).
NOT_FROM_TEMPLATE = {
    "SOPClassUID", "SpecificCharacterSet", "PixelData", "FloatPixelData",
    "DoubleFloatPixelData", "EncapsulatedDocument", "EncapsulatedDocumentLength",
    "MIMETypeOfEncapsulatedDocument", "Rows", "Columns", "NumberOfFrames", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "SamplesPerPixel",
    "PhotometricInterpretation", "PlanarConfiguration", "FrameTime", "CineRate",
    "FrameIncrementPointer", "SeriesInstanceUID", "InstanceNumber",
}
TEMPLATE_LIMIT = 1024 * 1024  # bytes


class MetadataRefused(ValueError):
    """A template that is not PS3.19 XML or PS3.18 JSON, or an archive object that is gone."""


@dataclass(frozen=True)
class NewPatientStudy:
    """A new patient and study as a form gives them (empty: unknown, written empty)."""

    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: date | None = None
    patient_sex: str = ""
    study_description: str = ""
    accession_number: str = ""
    referring_physician_name: str = ""


def template_attributes(text: str) -> Dataset:
    """The attributes of a PS3.19 XML (``<NativeDicomModel>``) or PS3.18 JSON template,
    without those the content decides."""
    if len(text.encode()) > TEMPLATE_LIMIT:
        raise MetadataRefused(f"the template is larger than {TEMPLATE_LIMIT // 1024} KiB")
    stripped = text.lstrip()
    if stripped.startswith("<"):
        try:
            ds = from_native_xml(stripped.encode())
        except InvalidNativeXml as exc:
            raise MetadataRefused(f"the XML template is not PS3.19 native DICOM: {exc}") from None
    elif stripped.startswith(("{", "[")):
        ds = _from_json(stripped)
    else:
        raise MetadataRefused("the template is neither PS3.19 XML nor PS3.18 JSON")
    for element in list(ds):
        if element.tag.group == 0x0002 or element.keyword in NOT_FROM_TEMPLATE:
            del ds[element.tag]
    if "SOPInstanceUID" in ds and not ds.SOPInstanceUID:
        del ds.SOPInstanceUID  # empty: each object gets its own
    check_template_values(ds)
    return ds


def check_template_values(ds: Dataset, prefix: str = "") -> None:
    """Every value (inside sequence items too) valid for its VR as PS3.5 says — the checks an
    edit's values pass (``archive.objects.edit.values``); MetadataRefused naming the first
    attribute that is not."""
    for element in ds:
        name = f"{prefix}{element.keyword or tag_text(int(element.tag))}"
        if element.VR == "SQ":
            for index, item in enumerate(element.value or []):
                check_template_values(item, f"{name}[{index}].")
            continue
        try:
            check_text(str(element.VR), text_of(element), name, int(element.tag))
        except EditRefused as exc:
            reason = exc.message.replace("the edit gives", "the template gives")
            raise MetadataRefused(f"the template's {reason}") from None


def _from_json(text: str) -> Dataset:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetadataRefused(f"the JSON template is not valid JSON: {exc}") from None
    if isinstance(document, list):  # a QIDO/metadata response: one data set in a list
        if len(document) != 1:
            raise MetadataRefused("the JSON template holds a list of "
                                  f"{len(document)} data sets, not one")
        document = document[0]
    if not isinstance(document, dict):
        raise MetadataRefused("the JSON template is not a PS3.18 JSON data set object")
    try:
        return Dataset.from_json(document)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MetadataRefused(f"the JSON template is not PS3.18 DICOM JSON: {exc}") from None


def study_attributes(study: Study) -> Dataset:
    """The patient and study attributes of an archived study: read from one of its files
    (all of them, sequences included), the index's values where the file has none."""
    ds = index_attributes(study.patient, study)
    instance = Instance.objects.filter(series__study=study).order_by("pk").first()
    if instance is not None:
        source: Dataset
        try:
            source = dcmread(absolute_path(instance.file_path), stop_before_pixels=True,
                             specific_tags=[*PATIENT_KEYWORDS, *STUDY_KEYWORDS,
                                            "SpecificCharacterSet"])
        except (OSError, InvalidDicomError, ValueError):
            source = Dataset()
        for keyword in (*PATIENT_KEYWORDS, *STUDY_KEYWORDS):
            if keyword in source:
                ds[keyword] = source[keyword]
    ds.StudyInstanceUID = study.study_instance_uid
    return ds


def patient_attributes(patient: Patient, study_uid: str) -> Dataset:
    """The patient's attributes (from a file of one of their studies when there is one)
    and a new study."""
    ds = Dataset()
    study = patient.studies.order_by("pk").first()
    known = study_attributes(study) if study is not None else index_attributes(patient, None)
    for keyword in PATIENT_KEYWORDS:
        if keyword in known:
            ds[keyword] = known[keyword]
    ds.StudyInstanceUID = study_uid
    return ds


def new_patient_study(values: NewPatientStudy, study_uid: str) -> Dataset:
    """The typed values only: what the form leaves empty a template may give (and else
    ``start_dataset`` writes the Type 2 attributes empty)."""
    ds = Dataset()
    typed = {"PatientName": values.patient_name, "PatientID": values.patient_id,
             "PatientBirthDate": values.patient_birth_date.strftime("%Y%m%d")
             if values.patient_birth_date else "",
             "PatientSex": values.patient_sex, "StudyDescription": values.study_description,
             "AccessionNumber": values.accession_number,
             "ReferringPhysicianName": values.referring_physician_name}
    for keyword, value in typed.items():
        if value:
            setattr(ds, keyword, value)
    ds.StudyInstanceUID = study_uid
    return ds


def new_study_values(ds: Dataset, values: NewPatientStudy) -> Dataset:
    """An archived patient's new study: the typed study description and accession."""
    if values.study_description:
        ds.StudyDescription = values.study_description
    if values.accession_number:
        ds.AccessionNumber = values.accession_number
    if values.referring_physician_name:
        ds.ReferringPhysicianName = values.referring_physician_name
    return ds


def merged(template: Dataset | None, belongs: Dataset) -> Dataset:
    """The template's attributes with the patient/study values laid over them."""
    ds = Dataset()
    for source in (template or Dataset(), belongs):
        for element in source:
            ds[element.tag] = element
    return ds


def index_attributes(patient: Patient, study: Study | None) -> Dataset:
    """The patient (and study) attributes as the archive index holds them."""
    ds = Dataset()
    ds.PatientName = patient.patient_name
    ds.PatientID = patient.patient_id
    if patient.issuer_of_patient_id:
        ds.IssuerOfPatientID = patient.issuer_of_patient_id
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d") if patient.birth_date else ""
    ds.PatientSex = patient.sex
    if study is not None:
        ds.StudyInstanceUID = study.study_instance_uid
        ds.StudyDate = study.study_date.strftime("%Y%m%d") if study.study_date else ""
        ds.StudyTime = study.study_time.strftime("%H%M%S") if study.study_time else ""
        ds.ReferringPhysicianName = study.referring_physician_name
        ds.StudyID = study.study_id
        ds.AccessionNumber = study.accession_number
        if study.study_description:
            ds.StudyDescription = study.study_description
    return ds


def job_uid(job_id: int, purpose: str) -> str:
    """A UID that is the same each time for one job and purpose ("series", "study"): a job
    resumed or retried names the same new series."""
    return str(generate_uid(entropy_srcs=[f"dicom-console job {job_id} {purpose}"]))
