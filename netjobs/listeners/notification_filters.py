"""Filters of the MPPS and IAN lists, shared by their pages and GET /api/mpps, /api/ian."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from netjobs.models import (
    AvailabilityNotification,
    Listener,
    PerformedProcedureStep,
    PerformedProcedureStepStatus,
)


def _study_or_accession(queryset: QuerySet, name: str, value: str) -> QuerySet:
    return queryset.filter(Q(study_instance_uids__icontains=value)
                           | Q(accession_numbers__icontains=value))


class PerformedProcedureStepFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PerformedProcedureStepStatus.choices,
                                         empty_label="any status")
    calling = django_filters.CharFilter(field_name="calling_ae_title", lookup_expr="icontains",
                                        label="Calling AE")
    patient = django_filters.CharFilter(method="patient_filter", label="Patient name or ID")
    study = django_filters.CharFilter(method=_study_or_accession,
                                      label="Study UID or accession")
    listener = django_filters.ModelChoiceFilter(queryset=Listener.objects.all(),
                                                empty_label="any listener")

    class Meta:
        model = PerformedProcedureStep
        fields = ["status", "calling", "patient", "study", "listener"]

    def patient_filter(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(patient_name__icontains=value) | Q(patient_id__icontains=value))


class AvailabilityNotificationFilterSet(django_filters.FilterSet):
    calling = django_filters.CharFilter(field_name="calling_ae_title", lookup_expr="icontains",
                                        label="Calling AE")
    study = django_filters.CharFilter(method=_study_or_accession,
                                      label="Study UID or accession")
    listener = django_filters.ModelChoiceFilter(queryset=Listener.objects.all(),
                                                empty_label="any listener")

    class Meta:
        model = AvailabilityNotification
        fields = ["calling", "study", "listener"]
