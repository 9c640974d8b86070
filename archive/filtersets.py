"""Study search: the filters of the archive browser and of GET /api/studies."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from archive.models import Study
from archive.search import wildcard_q


class StudyFilterSet(django_filters.FilterSet):
    patient_name = django_filters.CharFilter(
        method="by_patient_name", label="Patient name", help_text="* and ? wildcards"
    )
    patient_id = django_filters.CharFilter(method="by_patient_id", label="Patient ID")
    date_from = django_filters.DateFilter(field_name="study_date", lookup_expr="gte",
                                          label="Study date from")
    date_to = django_filters.DateFilter(field_name="study_date", lookup_expr="lte", label="to")
    modality = django_filters.CharFilter(method="by_modality", label="Modality")
    accession = django_filters.CharFilter(method="by_accession", label="Accession")
    description = django_filters.CharFilter(method="by_description", label="Description")
    sort = django_filters.OrderingFilter(
        fields=(
            ("study_date", "date"),
            ("patient__patient_name", "patient"),
            ("patient__patient_id", "patient_id"),
            ("accession_number", "accession"),
            ("study_description", "description"),
            ("modalities_in_study", "modality"),
            ("created_at", "received"),
        ),
        label="Sort",
        empty_label="study date, newest first",
    )

    class Meta:
        model = Study
        fields: list[str] = []

    def by_patient_name(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return qs.filter(wildcard_q("patient__patient_name_search", value.upper(),
                                    upper_field=True))

    def by_patient_id(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return qs.filter(wildcard_q("patient__patient_id", value))

    def by_accession(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return qs.filter(wildcard_q("accession_number", value))

    def by_description(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return qs.filter(wildcard_q("study_description", value))

    def by_modality(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        code = value.strip().upper()
        return qs.filter(
            Q(modalities_in_study=code)
            | Q(modalities_in_study__startswith=code + "\\")
            | Q(modalities_in_study__endswith="\\" + code)
            | Q(modalities_in_study__contains="\\" + code + "\\")
        )
