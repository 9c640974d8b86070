"""The forms of the DICOMweb jobs on /jobs/new/<kind>/."""

from __future__ import annotations

from typing import Any

from django import forms

from archive.forms import SourceFields
from archive.models import DuplicatePolicy
from netjobs.jobs.forms import JobForm
from netjobs.models import DicomwebEndpoint
from netjobs.operations.dicomweb.qido import MAX_MATCHES, SearchLevel, check_key
from netjobs.operations.dicomweb.wado import WadoMode


def endpoint_field(label: str = "DICOMweb endpoint") -> forms.ModelChoiceField:
    return forms.ModelChoiceField(DicomwebEndpoint.objects.order_by("name"), label=label,
                                  empty_label="— choose an endpoint —")


def _uid_field(label: str, required: bool = False) -> forms.CharField:
    return forms.CharField(required=required, max_length=64, label=label)


def parse_matching(text: str) -> dict[str, str]:
    """``Keyword=value`` per line."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, value = line.partition("=")
        try:
            found[check_key(name.strip())] = value.strip()
        except ValueError as exc:
            raise forms.ValidationError(f"line {number}: {exc}") from None
    return found


class QidoForm(JobForm):
    endpoint = endpoint_field()
    level = forms.ChoiceField(choices=[(SearchLevel.STUDIES.value, "Studies"),
                                       (SearchLevel.SERIES.value, "Series"),
                                       (SearchLevel.INSTANCES.value, "Instances")],
                              initial=SearchLevel.STUDIES.value, label="Search for")
    study = _uid_field("Within study (UID)")
    series = _uid_field("Within series (UID)")
    patient_name = forms.CharField(required=False, max_length=324, label="Patient Name",
                                   help_text="Wildcards * and ?, e.g. DOE*")
    patient_id = forms.CharField(required=False, max_length=64, label="Patient ID")
    study_date = forms.CharField(required=False, max_length=40, label="Study Date",
                                 help_text="A date or range: 20240101-20240131")
    modality = forms.CharField(required=False, max_length=16, label="Modality",
                               help_text="ModalitiesInStudy for studies, Modality below")
    accession_number = forms.CharField(required=False, max_length=64,
                                       label="Accession Number")
    more_keys = forms.CharField(
        required=False, label="More matching keys", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One Keyword=value per line")
    includefield = forms.CharField(required=False, label="Include fields",
                                   help_text="Keywords separated by spaces, or all")
    fuzzymatching = forms.BooleanField(required=False, label="Fuzzy name matching")
    max_matches = forms.IntegerField(min_value=1, max_value=MAX_MATCHES, initial=1000)

    def clean_more_keys(self) -> dict[str, str]:
        return parse_matching(self.cleaned_data.get("more_keys") or "")

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        level = SearchLevel(data["level"])
        matching = {}
        for field, keyword in (("patient_name", "PatientName"), ("patient_id", "PatientID"),
                               ("study_date", "StudyDate"),
                               ("accession_number", "AccessionNumber")):
            if data.get(field):
                matching[keyword] = data[field]
        if data.get("modality"):
            matching["ModalitiesInStudy" if level == SearchLevel.STUDIES else "Modality"] = \
                data["modality"]
        matching.update(data.get("more_keys") or {})
        return {"endpoint": data["endpoint"].pk, "level": level.value,
                "study": data.get("study") or None, "series": data.get("series") or None,
                "matching": matching,
                "includefield": (data.get("includefield") or "").split(),
                "fuzzymatching": bool(data.get("fuzzymatching")),
                "max_matches": data["max_matches"]}


class WadoForm(JobForm):
    endpoint = endpoint_field("Retrieve from")
    study = _uid_field("Study Instance UID", required=True)
    series = _uid_field("Series Instance UID")
    instance = _uid_field("SOP Instance UID")
    mode = forms.ChoiceField(choices=[(WadoMode.ARCHIVE.value, "The instances, into the "
                                       "archive"),
                                      (WadoMode.METADATA.value, "Metadata only (DICOM JSON)")],
                             initial=WadoMode.ARCHIVE.value, label="Retrieve")
    transfer_syntax = forms.CharField(
        initial="*", max_length=64, label="Transfer syntax",
        help_text="* for as the server stores it, or a transfer syntax UID")
    duplicates = forms.ChoiceField(choices=DuplicatePolicy.choices,
                                   initial=DuplicatePolicy.KEEP_FIRST.value,
                                   label="Instances already archived")

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"endpoint": data["endpoint"].pk, "study": data["study"],
                "series": data.get("series") or None, "instance": data.get("instance") or None,
                "mode": data["mode"], "transfer_syntax": data["transfer_syntax"] or "*",
                "duplicates": data["duplicates"]}


class StowForm(JobForm, SourceFields):
    endpoint = endpoint_field("Store to")
    upload_help = "DICOM files to send (not archived)."
    into_study = forms.CharField(
        required=False, max_length=64, label="Into study (UID)",
        help_text="POST to /studies/{uid}: the server refuses other studies' instances.")
    batch_size = forms.IntegerField(min_value=1, max_value=1000, initial=50,
                                    help_text="Instances per STOW-RS request.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.check_one_source(data, "send")
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {"endpoint": data["endpoint"].pk,
                                  "study": data.get("into_study") or None,
                                  "batch_size": data["batch_size"]}
        values.update(self.source_params())
        return values


class CheckForm(JobForm):
    endpoint = endpoint_field()

    def params(self) -> dict[str, Any]:
        return {"endpoint": self.cleaned_data["endpoint"].pk}
