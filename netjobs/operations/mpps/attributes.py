"""The attribute lists of a Modality Performed Procedure Step (PS3.4 Table F.7.2-1) for an
archived study, filled the way dcm4che's mppsscu fills them from the study's files: the
patient and the scheduled step (study UID, accession, the Request Attributes Sequence of the
first instance) at N-CREATE, the Performed Series Sequence at the final N-SET."""

from __future__ import annotations

from datetime import datetime

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from archive.storage import absolute_path
from netjobs.operations.ian.archived import ArchivedInstance, ArchivedSeries, ArchivedStudy

IN_PROGRESS, COMPLETED, DISCONTINUED = "IN PROGRESS", "COMPLETED", "DISCONTINUED"
DEFAULT_PROTOCOL_NAME = "UNKNOWN"  # as dcm4che mppsscu --protocol
HEADER_TAGS = ["ProtocolName", "OperatorsName", "PerformingPhysicianName",
               "RequestAttributesSequence", "Modality"]


# --- the attributes (PS3.4 Table F.7.2-1) -------------------------------------------------
def first_header(instances: tuple[ArchivedInstance, ...] | list[ArchivedInstance]) -> Dataset:
    """The header elements mppsscu takes from the files, of the first readable instance;
    an empty dataset when no file can be read (the index then supplies what it has)."""
    for instance in instances[:3]:
        try:
            return dcmread(absolute_path(instance.file_path), stop_before_pixels=True,
                           specific_tags=HEADER_TAGS)
        except (OSError, ValueError, InvalidDicomError):
            continue
    return Dataset()


def _text(header: Dataset, keyword: str, default: str = "") -> str:
    value = header.get(keyword)
    return default if value in (None, "") else str(value)


def dicom_date(moment: datetime) -> tuple[str, str]:
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


def scheduled_steps(study: ArchivedStudy, header: Dataset) -> list[Dataset]:
    """Scheduled Step Attributes Sequence: one item per Request Attributes item of the
    images, or one from the study when they have none (as mppsscu)."""
    requests = list(header.get("RequestAttributesSequence") or []) or [Dataset()]
    items = []
    for request in requests:
        item = Dataset()
        item.StudyInstanceUID = study.study_instance_uid
        item.ReferencedStudySequence = []
        item.AccessionNumber = _text(request, "AccessionNumber", study.accession_number)
        item.RequestedProcedureID = _text(request, "RequestedProcedureID")
        item.RequestedProcedureDescription = _text(request, "RequestedProcedureDescription")
        item.ScheduledProcedureStepID = _text(request, "ScheduledProcedureStepID")
        item.ScheduledProcedureStepDescription = _text(request,
                                                       "ScheduledProcedureStepDescription")
        item.ScheduledProtocolCodeSequence = list(request.get("ScheduledProtocolCodeSequence")
                                                  or [])
        items.append(item)
    return items


def step_start(study: ArchivedStudy, now: datetime) -> tuple[str, str]:
    """Performed Procedure Step Start Date and Time: the study's, else now."""
    if study.study_date is None:
        return dicom_date(now)
    clock = study.study_time.strftime("%H%M%S") if study.study_time else "000000"
    return study.study_date.strftime("%Y%m%d"), clock


def step_in_progress(study: ArchivedStudy, station_ae_title: str, step_id: str,
                     now: datetime) -> Dataset:
    """The N-CREATE attribute list of a step IN PROGRESS for the study."""
    header = first_header(study.instances)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ScheduledStepAttributesSequence = scheduled_steps(study, header)
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    if study.issuer_of_patient_id:
        ds.IssuerOfPatientID = study.issuer_of_patient_id
    ds.PatientBirthDate = (study.patient_birth_date.strftime("%Y%m%d")
                           if study.patient_birth_date else "")
    ds.PatientSex = study.patient_sex[:16]
    ds.ReferencedPatientSequence = []
    ds.AdmissionID = ""
    ds.PerformedProcedureStepID = step_id
    ds.PerformedStationAETitle = station_ae_title
    ds.PerformedStationName = ""
    ds.PerformedLocation = ""
    ds.PerformedProcedureStepStartDate, ds.PerformedProcedureStepStartTime = step_start(
        study, now)
    ds.PerformedProcedureStepStatus = IN_PROGRESS
    ds.PerformedProcedureStepDescription = study.description
    ds.PerformedProcedureTypeDescription = ""
    ds.ProcedureCodeSequence = []
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.Modality = _text(header, "Modality", study.modalities[0] if study.modalities else "OT")
    ds.StudyID = study.study_id
    ds.PerformedProtocolCodeSequence = []
    ds.PerformedSeriesSequence = []
    return ds


def is_image(sop_class_uid: str) -> bool:
    """Images go into Referenced Image Sequence, other composite objects (SR, KO, PR,
    encapsulated documents, waveforms…) into Referenced Non-Image Composite SOP Instance
    Sequence: an image storage SOP class is named "... Image Storage" in PS3.6."""
    return "Image Storage" in UID(sop_class_uid).name


def _references(instances: list[ArchivedInstance]) -> list[Dataset]:
    items = []
    for instance in instances:
        item = Dataset()
        item.ReferencedSOPClassUID = instance.sop_class_uid
        item.ReferencedSOPInstanceUID = instance.sop_instance_uid
        items.append(item)
    return items


def performed_series(series: ArchivedSeries) -> Dataset:
    """One Performed Series Sequence item: the series and its instances."""
    header = first_header(series.instances)
    item = Dataset()
    item.PerformingPhysicianName = _text(header, "PerformingPhysicianName")
    item.ProtocolName = _text(header, "ProtocolName", DEFAULT_PROTOCOL_NAME)
    item.OperatorsName = _text(header, "OperatorsName")
    item.SeriesInstanceUID = series.series_instance_uid
    item.SeriesDescription = series.description
    item.RetrieveAETitle = ""
    item.ReferencedImageSequence = _references(
        [i for i in series.instances if is_image(i.sop_class_uid)])
    item.ReferencedNonImageCompositeSOPInstanceSequence = _references(
        [i for i in series.instances if not is_image(i.sop_class_uid)])
    return item


def step_end(status: str, study: ArchivedStudy | None, now: datetime) -> Dataset:
    """The N-SET modification list that ends the step: status, end date and time, and the
    series performed (empty when no study is given for a discontinued step)."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepEndDate, ds.PerformedProcedureStepEndTime = dicom_date(now)
    if status == DISCONTINUED:
        ds.PerformedProcedureStepDiscontinuationReasonCodeSequence = []
    ds.PerformedSeriesSequence = [performed_series(s) for s in study.series] if study else []
    return ds
