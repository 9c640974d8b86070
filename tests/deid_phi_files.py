"""Held-back test files full of PHI in odd places, for the de-identification tests.

``phi_laden_files`` makes, from corpus files (their pixel data as it is) and one SR built
here, a small set of instances of one patient — one name, one ID — with identifying values
planted where a de-identifier may not look: private elements under a private creator, a
private sequence, an SR's nested Content Sequence (PNAME, DATE, DATETIME and TEXT items),
Overlay Comments, the file meta's Source Application Entity Title, Other Patient IDs
Sequence, Request Attributes Sequence, a person name inside Contributing Equipment Sequence,
the patient's address, telephone and comments, and a file name holding the patient ID.
``phi_of`` lists the values planted, as the oracle of what no output may hold.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ComprehensiveSRStorage, ExplicitVRLittleEndian, generate_uid

from archive.deid.phi import PhiValue

CORPUS = Path("/work/shared/dicom-corpus")

PATIENT_NAME = "Whitfield^Margaret^Rose"
PATIENT_ID = "STM-4471920"
OTHER_PATIENT_ID = "NHS9434765919"
BIRTH_DATE = "19630214"
ACCESSION = "ACC20240117A"
INSTITUTION = "St Mary's Hospital Kingsport"
INSTITUTION_ADDRESS = "12 Harbour Road, Kingsport KP4 7QT"
PATIENT_ADDRESS = "27 Lark Lane, Kingsport KP2 9XD"
PATIENT_PHONE = "+44 1632 960431"
HOSPITAL_AE = "STMARYS_CT"
SENDING_AE = "STMARYS_PACS"
BIRTH_NAME = "Hartley^Margaret"
MOTHER_BIRTH_NAME = "Pemberton^Edith"
UID_ROOT = "1.2.826.0.1.3680043.10.1138"  # a UID with the study date and a patient number in it
REFERRING = "Okafor^Chidi"
PERFORMING = "Lindqvist^Sven"
OPERATOR = "Brennan^Aoife"
READING = "Castellano^Lucia"
STUDY_DATE = "20240117"
PPS_DATE = "20240116"
REPORT_DATE = "20231204"
ACQUISITION_DATETIME = "20240117093015"
PRIVATE_CREATOR = "STMARYS PRIVATE"

PLANTED = {
    "PatientName": PATIENT_NAME, "family name": "Whitfield", "given name": "Margaret",
    "middle name": "Rose", "PatientID": PATIENT_ID, "OtherPatientIDsSequence": OTHER_PATIENT_ID,
    "PatientBirthDate": BIRTH_DATE, "AccessionNumber": ACCESSION, "InstitutionName": INSTITUTION,
    "InstitutionAddress": INSTITUTION_ADDRESS, "PatientAddress": PATIENT_ADDRESS,
    "PatientTelephoneNumbers": PATIENT_PHONE, "SourceApplicationEntityTitle": HOSPITAL_AE,
    "SendingApplicationEntityTitle": SENDING_AE, "PatientBirthName": BIRTH_NAME,
    "PatientMotherBirthName": MOTHER_BIRTH_NAME,
    "ReferringPhysicianName": REFERRING, "PerformingPhysicianName": PERFORMING,
    "OperatorsName": OPERATOR, "NameOfPhysiciansReadingStudy": READING,
    "StudyDate": STUDY_DATE, "PerformedProcedureStepStartDate": PPS_DATE,
    "ContentDate": REPORT_DATE, "AcquisitionDateTime": ACQUISITION_DATETIME[:8],
}
"""What each planted value is (the label becomes the PhiValue's source)."""

DATE_LABELS = frozenset({"StudyDate", "PerformedProcedureStepStartDate", "ContentDate",
                         "AcquisitionDateTime"})
"""The planted dates other than the birth date: what Retain Full Dates may keep."""


FILE_NAMES = (f"{PATIENT_ID}_ct.dcm", "mr-overlay.dcm", "us-burned-in.dcm",
              "nm-jpeg-lossless.dcm", "sr-nested.dcm")
"""The names ``phi_laden_files`` gives its files, in its order (for test ids)."""


def phi_laden_files(out_dir: Path) -> list[Path]:
    """Write the held-back files into ``out_dir`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    study_uid = generate_uid()
    made = (_ct_with_private_tags(study_uid), _mr_with_overlay_comments(study_uid),
            _us_with_burned_in_annotation(), _nm_compressed(),
            _sr_with_nested_content(study_uid))
    return [_write(ds, out_dir / name) for ds, name in zip(made, FILE_NAMES, strict=True)]


def phi_of(files: Seq[Path]) -> list[PhiValue]:
    """The values planted in ``files`` (each made by ``phi_laden_files``), one PhiValue per
    value, ``source`` saying what it is; also the file names' patient ID."""
    values = [PhiValue(f"planted {label}", text) for label, text in PLANTED.items()]
    values += [PhiValue("planted file name", PATIENT_ID) for f in files if PATIENT_ID in f.name]
    return values


def _write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def _from_corpus(name: str) -> Dataset:
    """A corpus file with this patient's identity, study and institution in it."""
    ds = dcmread(CORPUS / name)
    for keyword in ("PatientIdentityRemoved", "DeidentificationMethod",
                    "DeidentificationMethodCodeSequence"):
        ds.pop(keyword, None)  # an input full of PHI does not claim to be de-identified
    ds.file_meta.SourceApplicationEntityTitle = HOSPITAL_AE
    ds.file_meta.SendingApplicationEntityTitle = SENDING_AE
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = PATIENT_NAME, PATIENT_ID, BIRTH_DATE
    ds.PatientBirthName, ds.PatientMotherBirthName = BIRTH_NAME, MOTHER_BIRTH_NAME
    ds.PatientSex = "F"
    ds.AccessionNumber, ds.StudyDate, ds.ContentDate = ACCESSION, STUDY_DATE, REPORT_DATE
    ds.InstitutionName, ds.InstitutionAddress = INSTITUTION, INSTITUTION_ADDRESS
    ds.ReferringPhysicianName, ds.PerformingPhysicianName = REFERRING, PERFORMING
    ds.OperatorsName, ds.NameOfPhysiciansReadingStudy = OPERATOR, READING
    ds.PatientAddress, ds.PatientTelephoneNumbers = PATIENT_ADDRESS, PATIENT_PHONE
    ds.PatientComments = "Margaret Whitfield asked for a copy on CD"
    ds.PerformedProcedureStepStartDate = PPS_DATE
    ds.AcquisitionDateTime = ACQUISITION_DATETIME
    other = Dataset()
    other.PatientID, other.TypeOfPatientID = OTHER_PATIENT_ID, "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    request = Dataset()
    request.AccessionNumber, request.RequestedProcedureID = ACCESSION, f"RP-{PATIENT_ID}"
    ds.RequestAttributesSequence = Sequence([request])
    patient = Dataset()
    patient.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.1.4"  # Detached Patient Management
    patient.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedPatientSequence = Sequence([patient])
    return ds


def _ct_with_private_tags(study_uid: str) -> Dataset:
    """A CT with the name and ID under a private creator, also inside a private sequence and
    inside an item of a standard sequence; the file meta's Private Information holding the
    ID; a Series Instance UID made of the study date and the patient number; a Requesting
    Physician stored with VR UN."""
    ds = _from_corpus("693_UNCI.dcm")
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = f"{UID_ROOT}.{ACQUISITION_DATETIME}.4471920"
    ds.file_meta.PrivateInformationCreatorUID = UID(f"{UID_ROOT}.1")
    ds.file_meta.PrivateInformation = f"{PATIENT_ID} {PATIENT_NAME}".encode()
    ds.add_new(0x00321032, "UN", REFERRING.encode())
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management
    study.ReferencedSOPInstanceUID = study_uid
    inner = study.private_block(0x0031, PRIVATE_CREATOR, create=True)
    inner.add_new(0x01, "LO", PATIENT_NAME)
    ds.ReferencedStudySequence = Sequence([study])
    block = ds.private_block(0x0029, PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "LO", PATIENT_NAME.replace("^", " "))
    block.add_new(0x11, "SH", PATIENT_ID)
    item = Dataset()
    item.add_new(0x00291020, "LO", f"{PATIENT_ID} {INSTITUTION}")
    item.add_new(0x00290010, "LO", PRIVATE_CREATOR)
    block.add_new(0x12, "SQ", Sequence([item]))
    return ds


def _mr_with_overlay_comments(study_uid: str) -> Dataset:
    """An MR whose overlay (group 6000) comments name the patient, with a person name and
    the institution inside Contributing Equipment Sequence."""
    ds = _from_corpus("MR-SIEMENS-DICOM-WithOverlays.dcm")
    ds.StudyInstanceUID = study_uid
    ds.add_new(0x60004000, "LT", "Overlay drawn for Mrs Margaret Whitfield (STM-4471920)")
    equipment = Dataset()
    equipment.Manufacturer, equipment.InstitutionName = "Console", INSTITUTION
    equipment.OperatorsName = OPERATOR
    equipment.ContributionDateTime = ACQUISITION_DATETIME
    ds.ContributingEquipmentSequence = Sequence([equipment])
    return ds


def _us_with_burned_in_annotation() -> Dataset:
    ds = _from_corpus("color-pl.dcm")
    ds.BurnedInAnnotation = "YES"
    return ds


def _nm_compressed() -> Dataset:
    """An NM with its JPEG Lossless frames as they are (encapsulated pixel data)."""
    ds = _from_corpus("JPEG-LL.dcm")
    ds.PatientComments = f"{PATIENT_NAME.replace('^', ' ')}, ID {PATIENT_ID}"
    return ds


def _item(value_type: str, meaning: str, relationship: str = "CONTAINS") -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = relationship, value_type
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121106", "DCM", meaning
    item.ConceptNameCodeSequence = Sequence([code])
    return item


def _sr_with_nested_content(study_uid: str) -> Dataset:
    """A Comprehensive SR (the corpus has none) whose content tree holds the patient in
    PNAME, DATE, DATETIME and TEXT items, the deepest three containers down."""
    ds = _from_corpus("SC_rgb.dcm")
    for tag in [t for t in list(ds.keys()) if t.group in (0x0028, 0x7FE0)]:
        del ds[tag]
    ds.file_meta = _sr_meta(ds.file_meta)
    ds.SOPClassUID = ComprehensiveSRStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "SR", 99, 1
    ds.ContentDate, ds.ContentTime = REPORT_DATE, "101500"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName, observer.VerifyingOrganization = READING, INSTITUTION
    observer.VerificationDateTime = f"{REPORT_DATE}110000"
    observer.VerifyingObserverIdentificationCodeSequence = Sequence()
    ds.VerifyingObserverSequence = Sequence([observer])
    person = _item("PNAME", "Subject name", "HAS OBS CONTEXT")
    person.PersonName = PATIENT_NAME
    when = _item("DATE", "Date of birth")
    when.Date = BIRTH_DATE
    stamp = _item("DATETIME", "Procedure datetime")
    stamp.DateTime = ACQUISITION_DATETIME
    text = _item("TEXT", "Finding")
    text.TextValue = f"Mrs Whitfield (MRN {PATIENT_ID}), seen by Dr Okafor on 04.12.2023."
    deepest = _item("CONTAINER", "Findings")
    deepest.ContinuityOfContent = "SEPARATE"
    deepest.ContentSequence = Sequence([text, stamp])
    middle = _item("CONTAINER", "Section")
    middle.ContinuityOfContent = "SEPARATE"
    middle.ContentSequence = Sequence([when, deepest])
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = _item("CONTAINER", "Report").ConceptNameCodeSequence
    ds.ContentSequence = Sequence([person, middle])
    return ds


def _sr_meta(old: FileMetaDataset) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComprehensiveSRStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = old.get("SourceApplicationEntityTitle", HOSPITAL_AE)
    meta.SendingApplicationEntityTitle = old.get("SendingApplicationEntityTitle", SENDING_AE)
    return meta
