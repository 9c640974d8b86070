"""The index after an edit: an edited file replaces its instance's row (or, when its SOP
Instance UID changed, the old row goes and what pointed at it follows to the new one);
studies and series the edit emptied go, and so does a patient left without studies."""

from __future__ import annotations

from django.db import transaction

from archive.indexing import refresh_counts
from archive.models import AttributeEdit, Instance, Patient, Series, Study
from archive.storage import remove_file


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
