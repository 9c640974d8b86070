"""Putting a file into the archive: durable copy first, then the index, with the duplicate
policy applied and the study/series counts kept right."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, QuerySet, Sum

from archive.models import DuplicatePolicy, Instance, InstanceSource, Patient, Series, Study
from archive.reading import FileRejected, IndexKeys, read_index_keys
from archive.storage import (
    WrittenFile,
    absolute_path,
    incoming_path,
    move_into_place,
    relative_path_for,
    remove_file,
    write_atomically,
    write_received,
)
from netjobs.models import Job


class StoreOutcome(StrEnum):
    STORED = "stored"
    REPLACED = "replaced"
    DUPLICATE_KEPT = "duplicate_kept"


class DuplicateRejected(FileRejected):
    pass


class SopClassMismatch(FileRejected):
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


@dataclass
class IndexCache:
    """Patient/study/series rows already written during one import, with the values they
    were written with, so that the instances of a series cost a few queries each."""

    patients: dict[tuple[str, str], tuple[int, tuple[object, ...]]] = field(default_factory=dict)
    studies: dict[str, tuple[int, tuple[object, ...]]] = field(default_factory=dict)
    series: dict[str, tuple[int, int, tuple[object, ...]]] = field(default_factory=dict)

    def clear(self) -> None:
        self.patients.clear()
        self.studies.clear()
        self.series.clear()


def store_received(
    data: bytes | bytearray | memoryview,
    *,
    source_detail: str,
    policy: DuplicatePolicy = DuplicatePolicy.KEEP_FIRST,
    cache: IndexCache | None = None,
    expected_sop_class: str | None = None,
    job: Job | None = None,
    association_id: int | None = None,
) -> StoreResult:
    """Archive bytes received over the network (a Part 10 stream), written as they came:
    durable in a temporary file, renamed into place, then indexed (linked to ``job`` when
    a job of the console retrieved them, and to the recorded association that brought
    them)."""
    temporary = incoming_path()
    try:
        written = write_received(data, temporary)
        return store_file(temporary, source=InstanceSource.DICOM, source_detail=source_detail,
                          policy=policy, cache=cache, received=written,
                          expected_sop_class=expected_sop_class, job=job,
                          association_id=association_id)
    finally:
        temporary.unlink(missing_ok=True)


def store_file(
    path: Path,
    *,
    source: InstanceSource,
    source_detail: str = "",
    policy: DuplicatePolicy = DuplicatePolicy.KEEP_FIRST,
    job: Job | None = None,
    cache: IndexCache | None = None,
    received: WrittenFile | None = None,
    expected_sop_class: str | None = None,
    association_id: int | None = None,
) -> StoreResult:
    """Archive one file. Raises FileRejected (not DICOM, corrupt, duplicate rejected) and
    OSError (the file could not be written: out of space, permissions).

    With ``received``, ``path`` is a durable temporary file inside the storage root with
    those size and checksum: it is renamed into place instead of copied."""
    parsed = read_index_keys(path)
    keys = parsed.keys
    if expected_sop_class and keys.sop_class_uid != expected_sop_class:
        raise SopClassMismatch(
            f"the data set is a {keys.sop_class_uid}, sent as a {expected_sop_class}"
        )
    existing = Instance.objects.filter(sop_instance_uid=keys.sop_instance_uid).first()
    if existing is not None:
        if policy == DuplicatePolicy.KEEP_FIRST:
            return StoreResult(StoreOutcome.DUPLICATE_KEPT, existing, keys.warnings)
        if policy == DuplicatePolicy.REJECT:
            raise DuplicateRejected(
                f"duplicate: SOP Instance UID {keys.sop_instance_uid} is already in the archive"
            )
    relative = relative_path_for(
        keys.study_instance_uid, keys.series_instance_uid, keys.sop_instance_uid,
        version=secrets.token_hex(4),
    )
    if received is not None and not parsed.part10_prefix:
        move_into_place(path, absolute_path(relative))
        written = received
    else:
        written = write_atomically(path, absolute_path(relative), parsed.part10_prefix)
    record = _InstanceRecord(relative, written.size, written.sha256, source, source_detail, job,
                             association_id)
    cache = cache if cache is not None else IndexCache()
    replace = policy == DuplicatePolicy.REPLACE
    try:
        instance, old_path = _index(keys, record, cache, replace)
    except (IntegrityError, _IndexedMeanwhile):
        return _settle_race(keys, record, cache, policy)
    except BaseException:
        remove_file(relative)  # never a file without its index row
        raise
    if old_path and old_path != relative:
        remove_file(old_path)
    outcome = StoreOutcome.STORED if old_path is None else StoreOutcome.REPLACED
    return StoreResult(outcome, instance, keys.warnings)


def _settle_race(keys: IndexKeys, record: _InstanceRecord, cache: IndexCache,
                 policy: DuplicatePolicy) -> StoreResult:
    """Indexing failed on a unique key: another writer got there first, or the cache named
    a patient/study/series that another process deleted meanwhile."""
    cache.clear()
    existing = Instance.objects.filter(sop_instance_uid=keys.sop_instance_uid).first()
    if existing is None or policy == DuplicatePolicy.REPLACE:
        try:
            instance, old_path = _index(keys, record, cache, replace=True)
        except BaseException:
            remove_file(record.relative)  # never a file without its index row
            raise
        if old_path and old_path != record.relative:
            remove_file(old_path)
        outcome = StoreOutcome.STORED if old_path is None else StoreOutcome.REPLACED
        return StoreResult(outcome, instance, keys.warnings)
    # The other writer's file is the current one; this copy goes, and the policy answers
    # as if it had come second.
    remove_file(record.relative)
    if policy == DuplicatePolicy.REJECT:
        raise DuplicateRejected(
            f"duplicate: SOP Instance UID {keys.sop_instance_uid} is already in the archive")
    return StoreResult(StoreOutcome.DUPLICATE_KEPT, existing, keys.warnings)


@dataclass(frozen=True)
class _InstanceRecord:
    relative: str
    size: int
    sha256: str
    source: InstanceSource
    source_detail: str
    job: Job | None
    association_id: int | None = None


def _patient(keys: IndexKeys, cache: IndexCache) -> int:
    key = (keys.patient_id, keys.issuer_of_patient_id)
    values = (keys.patient_name, keys.birth_date, keys.sex)
    cached = cache.patients.get(key)
    if cached is not None and cached[1] == values:
        return cached[0]
    patient, _ = Patient.objects.get_or_create(
        patient_id=keys.patient_id, issuer_of_patient_id=keys.issuer_of_patient_id
    )
    Patient.objects.filter(pk=patient.pk).update(
        patient_name=keys.patient_name, patient_name_search=keys.patient_name.upper(),
        birth_date=keys.birth_date, sex=keys.sex,
    )
    cache.patients[key] = (patient.pk, values)
    return patient.pk


def _study(keys: IndexKeys, patient_id: int, cache: IndexCache) -> int:
    values = (patient_id, keys.study_date, keys.study_time, keys.accession_number,
              keys.study_id, keys.study_description, keys.referring_physician_name)
    cached = cache.studies.get(keys.study_instance_uid)
    if cached is not None and cached[1] == values:
        return cached[0]
    study, _ = Study.objects.update_or_create(
        study_instance_uid=keys.study_instance_uid,
        defaults=dict(zip(("patient_id", "study_date", "study_time", "accession_number",
                           "study_id", "study_description", "referring_physician_name"),
                          values, strict=True)),
    )
    cache.studies[keys.study_instance_uid] = (study.pk, values)
    return study.pk


def _series(keys: IndexKeys, study_id: int, cache: IndexCache) -> tuple[int, bool]:
    """The series' pk, and whether this call created it."""
    values = (study_id, keys.modality, keys.series_number, keys.series_description,
              keys.body_part_examined)
    cached = cache.series.get(keys.series_instance_uid)
    if cached is not None and cached[2] == values:
        return cached[0], False
    series, created = Series.objects.update_or_create(
        series_instance_uid=keys.series_instance_uid,
        defaults=dict(zip(("study_id", "modality", "series_number", "series_description",
                           "body_part_examined"), values, strict=True)),
    )
    cache.series[keys.series_instance_uid] = (series.pk, study_id, values)
    return series.pk, created or cached is None


class _IndexedMeanwhile(Exception):
    """Another writer indexed the SOP instance after this one checked for it."""


def _index(keys: IndexKeys, record: _InstanceRecord, cache: IndexCache,
           replace: bool) -> tuple[Instance, str | None]:
    with transaction.atomic():
        study_id = _study(keys, _patient(keys, cache), cache)
        # The study row first, cached or not: then a store and delete_studies lock rows in
        # one order (patient, study, series, instance) and cannot deadlock.
        _lock(Study.objects.filter(pk=study_id))
        series_id, series_new = _series(keys, study_id, cache)
        previous = (
            Instance.objects.select_for_update()
            .filter(sop_instance_uid=keys.sop_instance_uid)
            .values("pk", "file_path", "series_id", "file_size")
            .first()
        )
        fields = {
            "series_id": series_id,
            "sop_class_uid": keys.sop_class_uid,
            "instance_number": keys.instance_number,
            "transfer_syntax_uid": keys.transfer_syntax_uid,
            "rows": keys.rows,
            "columns": keys.columns,
            "number_of_frames": keys.number_of_frames,
            "specific_character_set": keys.specific_character_set,
            "warnings": "\n".join(keys.warnings)[:10000],
            "file_path": record.relative,
            "file_size": record.size,
            "sha256": record.sha256,
            "source": record.source,
            "source_detail": record.source_detail[:512],
            "source_job": record.job,
            "received_association_id": record.association_id,
        }
        if previous is None:
            instance = Instance.objects.create(sop_instance_uid=keys.sop_instance_uid, **fields)
            Series.objects.filter(pk=series_id).update(
                number_of_instances=F("number_of_instances") + 1)
            Study.objects.filter(pk=study_id).update(
                number_of_instances=F("number_of_instances") + 1,
                size_bytes=F("size_bytes") + record.size)
            if series_new:
                _refresh_study(study_id)
            return instance, None
        if not replace:
            raise _IndexedMeanwhile
        Instance.objects.filter(pk=previous["pk"]).update(**fields)
        instance = Instance.objects.get(pk=previous["pk"])
        refresh_counts(instance.series)
        if previous["series_id"] != series_id:
            old = Series.objects.filter(pk=previous["series_id"]).first()
            if old is not None:
                refresh_counts(old)
            cache.clear()
        return instance, previous["file_path"]


def _refresh_study(study_id: int) -> None:
    series = Series.objects.filter(study_id=study_id)
    modalities = sorted({m for m in series.values_list("modality", flat=True) if m})
    Study.objects.filter(pk=study_id).update(
        number_of_series=series.count(), modalities_in_study="\\".join(modalities))


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


def _lock(rows: QuerySet[Any]) -> None:
    list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))


def delete_studies(studies: list[Study]) -> int:
    """Delete studies (their series, instances and files); returns the instances removed.
    Files go only after the index deletion has committed."""
    with transaction.atomic():
        ids = [study.pk for study in studies]
        patient_ids = set(Study.objects.filter(pk__in=ids).values_list("patient_id", flat=True))
        # Rows are locked in the order a store locks them (patient, study, series, instance:
        # see _index) so that a store racing this delete waits instead of deadlocking.
        _lock(Patient.objects.filter(pk__in=patient_ids))
        _lock(Study.objects.filter(pk__in=ids))
        _lock(Series.objects.filter(study_id__in=ids))
        paths = list(  # locked: a replace committing meanwhile cannot swap a file under us
            Instance.objects.select_for_update(of=("self",)).filter(series__study_id__in=ids)
            .order_by("pk").values_list("file_path", flat=True)
        )
        Study.objects.filter(pk__in=ids).delete()
        Patient.objects.filter(pk__in=patient_ids, studies__isnull=True).delete()
        transaction.on_commit(lambda: _remove_files(paths))
    return len(paths)
