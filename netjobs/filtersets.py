"""Filters of the job history, shared by the Jobs page and GET /api/jobs."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from netjobs.association_filters import MomentFilter
from netjobs.jobs.registry import kind_choices
from netjobs.models import AEKind, ApplicationEntity, Job, JobStatus


class JobFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=kind_choices, empty_label="any kind")
    status = django_filters.ChoiceFilter(choices=JobStatus.choices, empty_label="any status")
    owner = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.order_by("username"),
        to_field_name="username",
        empty_label="anyone",
    )
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    since = MomentFilter(field_name="created_at", lookup_expr="gte", label="Since",
                         relative=True,
                         widget=forms.TextInput(attrs={"placeholder": "24h, 7d, date"}))
    q = django_filters.CharFilter(field_name="summary", lookup_expr="icontains", label="Search")

    class Meta:
        model = Job
        fields = ["kind", "status", "owner", "created_after", "created_before", "since", "q"]


class AEFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=AEKind.choices, empty_label="any kind")
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = ApplicationEntity
        fields = ["kind", "q"]

    def search(self, queryset: QuerySet[ApplicationEntity], name: str, value: str) -> QuerySet:
        from django.db.models import Q

        return queryset.filter(
            Q(ae_title__icontains=value)
            | Q(host__icontains=value)
            | Q(description__icontains=value)
        )
