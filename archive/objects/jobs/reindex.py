"""The index after an edit: an edited file replaces its instance's row (or, when its SOP
Instance UID changed, the old row goes and what pointed at it follows to the new one);
studies and series the edit emptied go, and so does a patient left without studies.

Until the whole edit is in, nothing of the originals is lost: an original whose row the
store replaced (same SOP Instance UID) keeps its file linked aside (``keep_aside``), and
the rows the edit may change are noted first (``IndexSnapshot``). Should the archive
refuse a file partway, ``roll_back`` puts every original file and row back and takes the
edited versions already stored out again."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Model, Q

from archive.indexing import refresh_counts
from archive.models import AttributeEdit, Instance, Patient, Series, Study
from archive.reading import IndexKeys
from archive.storage import absolute_path, remove_file

logger = logging.getLogger(__name__)


def retire_instance(old_pk: int, new_pk: int) -> None:
    """The instance ``old_pk`` became ``new_pk`` (a new SOP Instance UID): its history and
    the conversions derived from it point at the new one; its row and file go."""
    with transaction.atomic():
        old = Instance.objects.select_for_update().filter(pk=old_pk).first()
        if old is None:
            return
        AttributeEdit.objects.filter(instance_id=old_pk).update(instance_id=new_pk)
        Instance.objects.filter(derived_from_id=old_pk).update(derived_from_id=new_pk)
        path = old.file_path
        old.delete()
    transaction.on_commit(lambda: remove_file(path))


def tidy(study_ids: set[int], patient_ids: set[int]) -> None:
    """Recount the studies an edit touched (``refresh_counts`` for each of their series
    drops the series it emptied); drop studies left without series, and patients left
    without studies."""
    for study_id in study_ids:
        for series in Series.objects.filter(study_id=study_id):
            refresh_counts(series)
    Study.objects.filter(pk__in=study_ids, series__isnull=True).delete()
    Patient.objects.filter(pk__in=patient_ids, studies__isnull=True).delete()


# before the edit: what it may change ---------------------------------------------------------
Rows = dict[int, dict[str, Any]]  # pk → the row's column values


@dataclass
class IndexSnapshot:
    """The rows of the set's instances, of their series, studies and patients, and of the
    rows the edited files would be indexed under, as they were before the edit."""

    patients: Rows = field(default_factory=dict)
    studies: Rows = field(default_factory=dict)
    series: Rows = field(default_factory=dict)
    instances: Rows = field(default_factory=dict)

    @classmethod
    def take(cls, instance_ids: Iterable[int], edited: Iterable[IndexKeys]) -> IndexSnapshot:
        ids = list(instance_ids)
        keys = list(edited)
        instances = _rows(Instance.objects.filter(pk__in=ids))
        series = _rows(Series.objects.filter(
            Q(pk__in=[row["series_id"] for row in instances.values()])
            | Q(series_instance_uid__in={k.series_instance_uid for k in keys})))
        studies = _rows(Study.objects.filter(
            Q(pk__in=[row["study_id"] for row in series.values()])
            | Q(study_instance_uid__in={k.study_instance_uid for k in keys})))
        named = Q(pk__in=[row["patient_id"] for row in studies.values()])
        for key in {(k.patient_id, k.issuer_of_patient_id) for k in keys}:
            named |= Q(patient_id=key[0], issuer_of_patient_id=key[1])
        return cls(patients=_rows(Patient.objects.filter(named)), studies=studies,
                   series=series, instances=instances)


def _rows(query: Any) -> Rows:
    return {row["id"]: row for row in query.values()}


def keep_aside(instance_pk: int, folder: Path, name: str) -> Path:
    """A link to (or else a copy of) the instance's file in ``folder``: it stays when the
    store replaces the row and removes the file it named."""
    source = absolute_path(Instance.objects.values_list("file_path", flat=True).get(
        pk=instance_pk))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    _link_or_copy(source, target)
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, target)
        with open(target, "rb+") as fp:
            os.fsync(fp.fileno())


# after a failure partway: back as it was -----------------------------------------------------
@dataclass(frozen=True)
class StoredVersion:
    """An edited file the archive took: its row now, and the original's file kept aside
    when the store replaced the original's row (None: the original's row is untouched)."""

    instance_pk: int
    file_path: str
    original_pk: int | None
    kept_aside: Path | None


def roll_back(snapshot: IndexSnapshot, stored: list[StoredVersion]) -> dict[int, str]:
    """Undo the stores: the originals' files back in place first, then the rows as they
    were (in one transaction, no file I/O in it), then the edited files go. Returns the
    originals that could not be put back (their pk → why), for the job to say."""
    problems: dict[int, str] = {}
    restored: set[int] = set()
    for version in stored:
        if version.kept_aside is None or version.original_pk is None:
            continue
        row = snapshot.instances.get(version.original_pk)
        if row is None:
            continue
        try:
            _link_or_copy(version.kept_aside, absolute_path(row["file_path"]))
        except OSError as exc:
            logger.exception("putting back %s failed", row["file_path"])
            problems[version.original_pk] = (f"its original file could not be put back "
                                             f"({exc}); the edited version stays")
            continue
        restored.add(version.original_pk)
    replaced = {v.instance_pk for v in stored if v.instance_pk == v.original_pk}
    with transaction.atomic():
        Instance.objects.filter(
            pk__in=[v.instance_pk for v in stored if v.instance_pk not in replaced]).delete()
        _put_back(Patient, snapshot.patients)
        _put_back(Study, snapshot.studies)
        _put_back(Series, snapshot.series)
        _put_back(Instance, {pk: snapshot.instances[pk] for pk in restored})
    for version in stored:
        if version.instance_pk not in replaced or version.original_pk in restored:
            remove_file(version.file_path)
    return problems


def _put_back(model: type[Model], rows: Rows) -> None:
    """Rows updated to their noted values; a row the edit emptied and dropped (a series)
    is made again with its own primary key."""
    manager = model._default_manager
    for pk, row in rows.items():
        values = {name: value for name, value in row.items() if name != "id"}
        if not manager.filter(pk=pk).update(**values):
            manager.create(id=pk, **values)
            manager.filter(pk=pk).update(**values)  # its creation time too
