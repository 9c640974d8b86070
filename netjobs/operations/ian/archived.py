"""The archive's view of a study, as the MPPS, IAN and storage commitment kinds reference
it: its series and instances (SOP class, SOP instance, file), the patient and study keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from archive.models import Instance, Study
from archive.storage import absolute_path


# --- the archive's view of a study --------------------------------------------------------
class StudyMissing(LookupError):
    pass


@dataclass(frozen=True)
class ArchivedInstance:
    sop_class_uid: str
    sop_instance_uid: str
    file_path: str  # relative to STORAGE_ROOT


@dataclass(frozen=True)
class ArchivedSeries:
    series_instance_uid: str
    modality: str
    description: str
    instances: tuple[ArchivedInstance, ...]


@dataclass(frozen=True)
class ArchivedStudy:
    pk: int
    study_instance_uid: str
    accession_number: str
    study_id: str
    description: str
    study_date: date | None
    study_time: time | None
    patient_name: str
    patient_id: str
    issuer_of_patient_id: str
    patient_birth_date: date | None
    patient_sex: str
    modalities: tuple[str, ...]
    series: tuple[ArchivedSeries, ...]

    @property
    def instances(self) -> list[ArchivedInstance]:
        return [instance for series in self.series for instance in series.instances]

    @property
    def folder(self) -> Path | None:
        """The study's folder in the storage (for command lines that scan files)."""
        instances = self.instances
        if not instances:
            return None
        try:
            return absolute_path(instances[0].file_path).parent.parent
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"study {self.study_instance_uid} ({self.patient_name or 'no name'})"


def archived_study(study_id: int) -> ArchivedStudy:
    """A study of the archive with its series and instances, in series and instance order."""
    study = Study.objects.select_related("patient").filter(pk=study_id).first()
    if study is None:
        raise StudyMissing(f"Study #{study_id} is not in the archive (any more).")
    rows = (Instance.objects.filter(series__study=study)
            .order_by("series__series_number", "series_id", "instance_number", "pk")
            .values_list("series_id", "sop_class_uid", "sop_instance_uid", "file_path"))
    by_series: dict[int, list[ArchivedInstance]] = {}
    for series_id, sop_class_uid, sop_instance_uid, file_path in rows:
        by_series.setdefault(series_id, []).append(
            ArchivedInstance(sop_class_uid, sop_instance_uid, file_path))
    series = tuple(
        ArchivedSeries(s.series_instance_uid, s.modality, s.series_description,
                       tuple(by_series[s.pk]))
        for s in study.series.order_by("series_number", "pk") if s.pk in by_series)
    patient = study.patient
    return ArchivedStudy(
        pk=study.pk, study_instance_uid=study.study_instance_uid,
        accession_number=study.accession_number, study_id=study.study_id,
        description=study.study_description, study_date=study.study_date,
        study_time=study.study_time, patient_name=patient.patient_name,
        patient_id=patient.patient_id, issuer_of_patient_id=patient.issuer_of_patient_id,
        patient_birth_date=patient.birth_date, patient_sex=patient.sex,
        modalities=tuple(study.modalities) or tuple(sorted({s.modality for s in series})),
        series=series,
    )


def study_with_instances(study_id: int) -> int:
    """Parameter check: the study is archived and has instances to reference."""
    if not Instance.objects.filter(series__study_id=study_id).exists():
        if Study.objects.filter(pk=study_id).exists():
            raise ValueError(f"study #{study_id} has no instance in the archive")
        raise ValueError(f"there is no study with id {study_id} in the archive")
    return study_id


def study_folders(study_ids: Sequence[int]) -> list[str]:
    folders = []
    for study_id in study_ids:
        try:
            folder = archived_study(study_id).folder
        except StudyMissing:
            folder = None
        folders.append(str(folder) if folder else f"<files of study #{study_id}>")
    return folders
