"""Filters of the association monitor (/associations/): direction, AE, listener, job, result,
failed DIMSE responses and a time window. The GET parameters are a contract other pages link
to: direction, ae, listener, job, result, failures, since, until."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from netjobs.models import Association, AssociationOutcome, AssociationRole, Listener

_RELATIVE = re.compile(r"^\s*(\d{1,5})\s*(min|h|d)\s*$", re.IGNORECASE)
_UNIT = {"min": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"

    @property
    def role(self) -> AssociationRole:
        return AssociationRole.ACCEPTOR if self is Direction.INBOUND else AssociationRole.REQUESTOR


def parse_moment(text: str, *, relative: bool) -> datetime:
    """``24h`` / ``7d`` / ``30min`` (ago, when ``relative``) or an ISO date/time, aware."""
    match = _RELATIVE.match(text) if relative else None
    if match:
        return timezone.now() - int(match.group(1)) * _UNIT[match.group(2).lower()]
    moment = parse_datetime(text.strip().replace(" ", "T", 1))
    if moment is None:
        hint = "24h, 7d, 30min or " if relative else ""
        raise forms.ValidationError(
            f"Give {hint}a date and time such as 2024-03-01T08:00.", code="invalid")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class MomentField(forms.CharField):
    """A point in time typed as text; ``relative`` also takes "24h", "7d", "30min"."""

    def __init__(self, *args: Any, relative: bool = False, **kwargs: Any) -> None:
        self.relative = relative
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        text = super().to_python(value)
        try:
            return parse_moment(text, relative=self.relative) if text else None
        except ValueError as exc:  # an impossible date such as 2024-02-31
            raise forms.ValidationError(f"Not a valid date and time ({exc}).") from exc


class MomentFilter(django_filters.Filter):
    field_class = MomentField


class AssociationFilterSet(django_filters.FilterSet):
    direction = django_filters.ChoiceFilter(
        choices=[(d.value, d.value.capitalize()) for d in Direction], method="by_direction",
        empty_label="in and out", label="Direction")
    ae = django_filters.CharFilter(method="by_ae", label="AE title",
                                   help_text="Calling or called AE title")
    listener = django_filters.ModelChoiceFilter(queryset=Listener.objects.order_by("name"),
                                                empty_label="any listener", label="Listener")
    job = django_filters.NumberFilter(field_name="job_id", label="Job",
                                      widget=forms.NumberInput(attrs={"min": 1}))
    result = django_filters.ChoiceFilter(field_name="outcome", choices=AssociationOutcome.choices,
                                         empty_label="any result", label="Result")
    failures = django_filters.ChoiceFilter(
        choices=[("1", "with failed responses")], method="by_failures",
        empty_label="any DIMSE", label="DIMSE")
    since = MomentFilter(field_name="started_at", lookup_expr="gte", label="Since",
                         relative=True,
                         widget=forms.TextInput(attrs={"placeholder": "24h, 7d, date"}))
    until = MomentFilter(field_name="started_at", lookup_expr="lte", label="Until",
                         widget=forms.TextInput(attrs={"placeholder": "date and time"}))

    class Meta:
        model = Association
        fields = ["direction", "ae", "listener", "job", "result", "failures", "since", "until"]

    def by_direction(self, queryset: QuerySet[Association], name: str,
                     value: str) -> QuerySet[Association]:
        return queryset.filter(role=Direction(value).role)

    def by_ae(self, queryset: QuerySet[Association], name: str,
              value: str) -> QuerySet[Association]:
        title = value.strip()
        return queryset.filter(Q(calling_ae_title=title) | Q(called_ae_title=title))

    def by_failures(self, queryset: QuerySet[Association], name: str,
                    value: str) -> QuerySet[Association]:
        return queryset.filter(dimse_failures__gt=0)
