"""Putting a file into the archive: durable copy first, then the index, with the duplicate
policy applied and the study/series counts kept right."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum

from archive.models import DuplicatePolicy, Instance, InstanceSource, Patient, Series, Study
from archive.reading import FileRejected, IndexKeys, read_index_keys
from archive.storage import absolute_path, relative_path_for, remove_file, write_atomically
from netjobs.models import Job


class StoreOutcome(StrEnum):
    STORED = "stored"
    REPLACED = "replaced"
    DUPLICATE_KEPT = "duplicate_kept"


class DuplicateRejected(FileRejected):
    pass


@dataclass(frozen=True)
class StoreResult:
    outcome: StoreOutcome
    instance: Instance
    warnings: list[str]

    @property
    def message(self) -> str:
        if self.outcome == StoreOutcome.DUPLICATE_KEPT:
            return "already in the archive: the first copy is kept"
        if self.outcome == StoreOutcome.REPLACED:
            return "replaced the copy already in the archive"
        return "stored"


def store_file(
    path: Path,
    *,
    source: InstanceSource,
    source_detail: str = "",
    policy: DuplicatePolicy = DuplicatePolicy.KEEP_FIRST,
    job: Job | None = None,
) -> StoreResult:
    """Archive one file. Raises FileRejected (not DICOM, corrupt, duplicate rejected) and
    OSError (the file could not be written: out of space, permissions)."""
    parsed = read_index_keys(path)
    keys = parsed.keys
    existing = Instance.objects.filter(sop_instance_uid=keys.sop_instance_uid).first()
    if existing is not None:
        if policy == DuplicatePolicy.KEEP_FIRST:
            return StoreResult(StoreOutcome.DUPLICATE_KEPT, existing, keys.warnings)
        if policy == DuplicatePolicy.REJECT:
            raise DuplicateRejected(
                f"duplicate: SOP Instance UID {keys.sop_instance_uid} is already in the archive"
            )
    relative = relative_path_for(
        keys.study_instance_uid, keys.series_instance_uid, keys.sop_instance_uid
    )
    written = write_atomically(path, absolute_path(relative), parsed.part10_prefix)
    try:
        instance, old_path = _index(keys, relative, written.size, written.sha256,
                                    source, source_detail, job)
    except IntegrityError:
        # Another writer indexed the same instance meanwhile: apply the policy to it.
        existing = Instance.objects.get(sop_instance_uid=keys.sop_instance_uid)
        if policy == DuplicatePolicy.REJECT:
            raise DuplicateRejected(
                f"duplicate: SOP Instance UID {keys.sop_instance_uid} is already in the archive"
            ) from None
        return StoreResult(StoreOutcome.DUPLICATE_KEPT, existing, keys.warnings)
    if old_path and old_path != relative:
        remove_file(old_path)
    outcome = StoreOutcome.REPLACED if existing is not None else StoreOutcome.STORED
    return StoreResult(outcome, instance, keys.warnings)


def _index(
    keys: IndexKeys,
    relative: str,
    size: int,
    sha256: str,
    source: InstanceSource,
    source_detail: str,
    job: Job | None,
) -> tuple[Instance, str | None]:
    with transaction.atomic():
        patient, _ = Patient.objects.get_or_create(
            patient_id=keys.patient_id, issuer_of_patient_id=keys.issuer_of_patient_id
        )
        patient.patient_name = keys.patient_name
        patient.patient_name_search = keys.patient_name.upper()
        patient.birth_date = keys.birth_date
        patient.sex = keys.sex
        patient.save()
        study, _ = Study.objects.update_or_create(
            study_instance_uid=keys.study_instance_uid,
            defaults={
                "patient": patient,
                "study_date": keys.study_date,
                "study_time": keys.study_time,
                "accession_number": keys.accession_number,
                "study_id": keys.study_id,
                "study_description": keys.study_description,
                "referring_physician_name": keys.referring_physician_name,
            },
        )
        series, _ = Series.objects.update_or_create(
            series_instance_uid=keys.series_instance_uid,
            defaults={
                "study": study,
                "modality": keys.modality,
                "series_number": keys.series_number,
                "series_description": keys.series_description,
                "body_part_examined": keys.body_part_examined,
            },
        )
        previous = (
            Instance.objects.select_for_update()
            .filter(sop_instance_uid=keys.sop_instance_uid)
            .select_related("series__study")
            .first()
        )
        old_path = previous.file_path if previous else None
        old_series = previous.series if previous else None
        instance, _ = Instance.objects.update_or_create(
            sop_instance_uid=keys.sop_instance_uid,
            defaults={
                "series": series,
                "sop_class_uid": keys.sop_class_uid,
                "instance_number": keys.instance_number,
                "transfer_syntax_uid": keys.transfer_syntax_uid,
                "rows": keys.rows,
                "columns": keys.columns,
                "number_of_frames": keys.number_of_frames,
                "specific_character_set": keys.specific_character_set,
                "warnings": "\n".join(keys.warnings)[:10000],
                "file_path": relative,
                "file_size": size,
                "sha256": sha256,
                "source": source,
                "source_detail": source_detail[:512],
                "source_job": job,
            },
        )
        refresh_counts(series)
        if old_series is not None and old_series.pk != series.pk:
            refresh_counts(old_series)
    return instance, old_path


def refresh_counts(series: Series) -> None:
    """Recount a series and its study (and drop them if they became empty)."""
    Series.objects.filter(pk=series.pk).update(
        number_of_instances=Instance.objects.filter(series_id=series.pk).count()
    )
    study = Study.objects.get(pk=series.study_id)
    Series.objects.filter(study=study, number_of_instances=0).delete()
    totals = Instance.objects.filter(series__study=study).aggregate(
        n=Count("pk"), size=Sum("file_size")
    )
    modalities = sorted(
        {m for m in Series.objects.filter(study=study).values_list("modality", flat=True) if m}
    )
    Study.objects.filter(pk=study.pk).update(
        number_of_series=Series.objects.filter(study=study).count(),
        number_of_instances=totals["n"] or 0,
        size_bytes=totals["size"] or 0,
        modalities_in_study="\\".join(modalities),
    )


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        remove_file(path)


def delete_studies(studies: list[Study]) -> int:
    """Delete studies (their series, instances and files); returns the instances removed.
    Files go only after the index deletion has committed."""
    with transaction.atomic():
        ids = [study.pk for study in studies]
        paths = list(
            Instance.objects.filter(series__study_id__in=ids).values_list("file_path", flat=True)
        )
        patient_ids = set(Study.objects.filter(pk__in=ids).values_list("patient_id", flat=True))
        Study.objects.filter(pk__in=ids).delete()
        Patient.objects.filter(pk__in=patient_ids, studies__isnull=True).delete()
        transaction.on_commit(lambda: _remove_files(paths))
    return len(paths)
