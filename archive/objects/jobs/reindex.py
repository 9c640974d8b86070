"""The index after an edit: an edited file replaces its instance's row (or, when its SOP
Instance UID changed, the old row goes and what pointed at it follows to the new one);
studies and series the edit emptied go, and so does a patient left without studies."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Sum

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
    """Recount the studies an edit touched; drop empty series and studies, and patients
    left without a study."""
    for study_id in study_ids:
        Series.objects.filter(study_id=study_id).exclude(
            pk__in=Instance.objects.values("series_id")).delete()
        for series in Series.objects.filter(study_id=study_id):
            Series.objects.filter(pk=series.pk).update(
                number_of_instances=Instance.objects.filter(series=series).count())
        totals = Instance.objects.filter(series__study_id=study_id).aggregate(
            n=Count("pk"), size=Sum("file_size"))
        if not totals["n"]:
            Study.objects.filter(pk=study_id).delete()
            continue
        modalities = sorted({m for m in Series.objects.filter(study_id=study_id)
                            .values_list("modality", flat=True) if m})
        Study.objects.filter(pk=study_id).update(
            number_of_series=Series.objects.filter(study_id=study_id).count(),
            number_of_instances=totals["n"], size_bytes=totals["size"] or 0,
            modalities_in_study="\\".join(modalities))
    Patient.objects.filter(pk__in=patient_ids).annotate(n=Count("studies")).filter(
        n=0).delete()
