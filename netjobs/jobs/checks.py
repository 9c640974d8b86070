"""The latest connectivity check (an echo or connectivity job) of remote AEs, for the AE
pages and the dashboard: one query for any number of AEs."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from netjobs.models import ApplicationEntity, Job

CHECK_KINDS = ("echo", "connectivity")  # jobs that tell whether a remote AE answers


def with_last_check_id(aes: QuerySet[ApplicationEntity]) -> QuerySet[ApplicationEntity]:
    """``aes`` annotated with ``last_check_id``: the pk of each AE's latest check job."""
    latest = (Job.objects.filter(kind__in=CHECK_KINDS)
              .annotate(ae_id=Cast(KT("params__ae"), IntegerField()))
              .filter(ae_id=OuterRef("pk")).order_by("-created_at", "-pk"))
    return aes.annotate(last_check_id=Subquery(latest.values("pk")[:1]))


def last_checks(aes: Iterable[ApplicationEntity]) -> dict[int, Job]:
    """AE pk → its latest check job, for AEs annotated by :func:`with_last_check_id`."""
    chosen = {ae.pk: getattr(ae, "last_check_id", None) for ae in aes}
    jobs = Job.objects.select_related("owner").in_bulk(
        [pk for pk in chosen.values() if pk is not None])
    return {ae_pk: jobs[job_pk] for ae_pk, job_pk in chosen.items() if job_pk in jobs}


def last_check(ae: ApplicationEntity) -> Job | None:
    """One AE's latest check job, found as :func:`last_checks` finds them for a list."""
    annotated = with_last_check_id(ApplicationEntity.objects.filter(pk=ae.pk))
    return last_checks(annotated).get(ae.pk)
