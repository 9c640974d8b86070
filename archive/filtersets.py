"""Study search: the filters of the archive browser and of GET /api/studies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from archive.models import Series, Study
from archive.search import wildcard_q

DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d")  # ISO (what <input type=date> sends) and DICOM DA
DATE_ERROR = "Enter a valid date: YYYY-MM-DD or DICOM YYYYMMDD (e.g. 20240301)."

# ?sort= keys (the whitelist) → model fields; a leading "-" sorts descending.
SORT_FIELDS: tuple[tuple[str, str], ...] = (
    ("study_date", "date"),
    ("patient__patient_name", "patient"),
    ("patient__patient_id", "patient_id"),
    ("accession_number", "accession"),
    ("study_description", "description"),
    ("modalities_in_study", "modality"),
    ("number_of_instances", "instances"),
    ("created_at", "received"),
)


def as_date(text: str) -> dt.date | None:
    for layout in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), layout).date()
        except ValueError:
            continue
    return None


class DicomDateInput(forms.DateInput):
    """A text box that takes a DICOM ``YYYYMMDD`` or an ISO date as typed; archive.js adds a
    calendar button beside it (a browser date picker that fills the box). A valid date is
    shown in ISO form; anything else is left as typed, for the error to name."""

    input_type = "text"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d", attrs={
            "class": "dicom-date", "inputmode": "numeric", "autocomplete": "off",
            "placeholder": "YYYYMMDD", "maxlength": "10",
            "pattern": r"\s*(\d{8}|\d{4}-\d{2}-\d{2})\s*",
            "title": "A DICOM date (20240301) or an ISO date (2024-03-01)"})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, str):
            parsed = as_date(value)
            return parsed.isoformat() if parsed else value
        return super().format_value(value)


class DicomDateField(forms.DateField):
    """A date typed as ISO 8601 or as a DICOM DA value, shown as a browser date picker."""

    widget = DicomDateInput
    input_formats = DATE_FORMATS
    default_error_messages = {"invalid": DATE_ERROR}

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, str):
            value = value.strip()
        return super().to_python(value)


class DicomDateFilter(django_filters.DateFilter):
    field_class = DicomDateField


def archive_modalities() -> list[str]:
    """The modality codes present in the archive, for the drop-down."""
    codes = Series.objects.exclude(modality="").values_list("modality", flat=True).distinct()
    return sorted(set(codes))


class StudyFilterSet(django_filters.FilterSet):
    patient_name = django_filters.CharFilter(
        method="by_patient_name", label="Patient name", help_text="* and ? wildcards",
        widget=forms.TextInput(attrs={"placeholder": "DOE^J*", "title": "* and ? wildcards"}),
    )
    patient_id = django_filters.CharFilter(method="by_patient_id", label="Patient ID")
    date_from = DicomDateFilter(field_name="study_date", lookup_expr="gte",
                                label="Study date from")
    date_to = DicomDateFilter(field_name="study_date", lookup_expr="lte",
                              label="Study date to")
    # A plain text value (the API takes any code, in any case) offered as a drop-down.
    modality = django_filters.CharFilter(method="by_modality", label="Modality",
                                         widget=forms.Select)
    accession = django_filters.CharFilter(method="by_accession", label="Accession")
    description = django_filters.CharFilter(method="by_description", label="Description")
    job = django_filters.NumberFilter(method="by_job", label="Imported or received by job",
                                      widget=forms.HiddenInput)
    sort = django_filters.OrderingFilter(
        fields=SORT_FIELDS,
        label="Sort",
        empty_label="study date, newest first",
        widget=forms.HiddenInput,
    )

    class Meta:
        model = Study
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "any"), *((code, code) for code in archive_modalities())]
        self.filters["modality"].extra["widget"] = forms.Select(choices=choices)

    def by_patient_name(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return qs.filter(wildcard_q("patient__patient_name_search", value.upper(),
                                    upper_field=True))

    def by_patient_id(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return qs.filter(wildcard_q("patient__patient_id", value))

    def by_accession(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return qs.filter(wildcard_q("accession_number", value))

    def by_description(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return qs.filter(wildcard_q("study_description", value))

    def by_job(self, qs: QuerySet[Study], name: str, value: int) -> QuerySet[Study]:
        return qs.filter(series__instances__source_job_id=value).distinct()

    def by_modality(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        code = value.strip().upper()
        return qs.filter(
            Q(modalities_in_study=code)
            | Q(modalities_in_study__startswith=code + "\\")
            | Q(modalities_in_study__endswith="\\" + code)
            | Q(modalities_in_study__contains="\\" + code + "\\")
        )
