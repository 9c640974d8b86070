"""The forms of the find, move and get jobs (/jobs/new/<kind>/), prefilled from the query
string when started from a find result."""

from __future__ import annotations

from typing import Any

from django import forms

from archive.models import DuplicatePolicy
from netjobs.jobs.forms import JobForm, local_ae_field, remote_ae_field
from netjobs.models import ApplicationEntity, Listener
from netjobs.operations.qr.identifiers import InvalidKey, check_value, parse_key
from netjobs.operations.qr.information_models import (
    LEVEL_ORDER,
    RETRIEVE_MODELS,
    QueryLevel,
    QueryModel,
)
from netjobs.validators import validate_ae_title

WORKLIST_DATE = "ScheduledProcedureStepSequence/ScheduledProcedureStepStartDate"
WORKLIST_MODALITY = "ScheduledProcedureStepSequence/Modality"
LEVEL_CHOICES = [(level.value, level.value) for level in LEVEL_ORDER]


def move_destinations() -> list[tuple[str, str]]:
    """The AE titles a C-MOVE may name: the console's storage listeners (the peer sends to
    the console), then the AEs marked as accepting C-MOVE destinations."""
    choices: dict[str, str] = {}
    for listener in Listener.objects.filter(storage=True).order_by("name"):
        choices.setdefault(listener.ae_title,
                           f"{listener.ae_title} · console listener {listener.name}")
    for ae in ApplicationEntity.objects.filter(accepts_move_destination=True).order_by(
            "ae_title", "host", "port"):
        described = f" · {ae.description}" if ae.description else ""
        choices.setdefault(ae.ae_title, f"{ae.ae_title} ({ae.host}:{ae.port}){described}")
    return list(choices.items())


def parse_key_lines(text: str) -> dict[str, str]:
    """``Keyword=value`` per line (``Keyword`` or ``Keyword=`` alone: universal matching)."""
    keys: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, value = line.partition("=")
        try:
            path = parse_key(name)
            keys[path.text] = check_value(path, value.strip())
        except InvalidKey as exc:
            raise forms.ValidationError(f"line {number}: {exc}") from None
    return keys


def parse_key_list(text: str) -> list[str]:
    names = [name for name in text.replace(",", " ").split() if name]
    try:
        return [parse_key(name).text for name in names]
    except InvalidKey as exc:
        raise forms.ValidationError(str(exc)) from None


class FindForm(JobForm):
    ae = remote_ae_field()
    calling_ae = local_ae_field()
    model = forms.ChoiceField(choices=[(m.value, m.label) for m in QueryModel],
                              initial=QueryModel.STUDY_ROOT.value, label="Information model")
    level = forms.ChoiceField(choices=[("", "— (none: worklist)"), *LEVEL_CHOICES],
                              required=False, initial=QueryLevel.STUDY.value,
                              label="Query/Retrieve Level")
    patient_name = forms.CharField(required=False, max_length=324, label="Patient Name",
                                   help_text="Wildcards * and ? as typed, e.g. DOE^*")
    patient_id = forms.CharField(required=False, max_length=64, label="Patient ID")
    study_date_from = forms.DateField(required=False, label="Date from",
                                      widget=forms.DateInput(attrs={"type": "date"}),
                                      help_text="Study Date (worklist: scheduled start date)")
    study_date_to = forms.DateField(required=False, label="Date to",
                                    widget=forms.DateInput(attrs={"type": "date"}))
    accession_number = forms.CharField(required=False, max_length=64, label="Accession Number")
    modality = forms.CharField(required=False, max_length=64, label="Modality",
                               help_text="Modalities in Study at the STUDY level, Modality "
                                         "below, the scheduled modality in a worklist")
    study_instance_uid = forms.CharField(required=False, max_length=1024,
                                         label="Study Instance UID")
    series_instance_uid = forms.CharField(required=False, max_length=1024,
                                          label="Series Instance UID")
    more_keys = forms.CharField(
        required=False, label="More matching keys", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One Keyword=value per line; Sequence/Keyword=value inside a sequence")
    return_keys = forms.CharField(
        required=False, label="Return keys", widget=forms.TextInput(),
        help_text="Keywords separated by spaces (default: the usual keys of the level)")

    def clean_more_keys(self) -> dict[str, str]:
        return parse_key_lines(self.cleaned_data.get("more_keys") or "")

    def clean_return_keys(self) -> list[str] | None:
        return parse_key_list(self.cleaned_data.get("return_keys") or "") or None

    def _date_range(self) -> str:
        """A DA value or range (PS3.4 C.2.2.2.5) from the two dates."""
        start = self.cleaned_data.get("study_date_from")
        end = self.cleaned_data.get("study_date_to")
        low = f"{start:%Y%m%d}" if start else ""
        high = f"{end:%Y%m%d}" if end else ""
        return low if start == end else f"{low}-{high}"

    def matching_keys(self) -> dict[str, str]:
        data = self.cleaned_data
        worklist = data["model"] == QueryModel.MODALITY_WORKLIST
        level = data.get("level") or ""
        modality_key = (WORKLIST_MODALITY if worklist else "ModalitiesInStudy"
                        if level in ("PATIENT", "STUDY") else "Modality")
        typed = {"PatientName": data["patient_name"], "PatientID": data["patient_id"],
                 WORKLIST_DATE if worklist else "StudyDate": self._date_range(),
                 "AccessionNumber": data["accession_number"], modality_key: data["modality"],
                 "StudyInstanceUID": data["study_instance_uid"],
                 "SeriesInstanceUID": data["series_instance_uid"]}
        keys = {key: value.strip() for key, value in typed.items() if value and value.strip()}
        return {**keys, **data.get("more_keys", {})}

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        worklist = data["model"] == QueryModel.MODALITY_WORKLIST
        return {"ae": data["ae"].pk,
                "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
                "model": data["model"], "level": None if worklist else data["level"] or None,
                "matching_keys": self.matching_keys(), "return_keys": data["return_keys"]}


class RetrieveForm(JobForm):
    ae = remote_ae_field(label="Retrieve from")
    calling_ae = local_ae_field()
    model = forms.ChoiceField(choices=[(m.value, m.label) for m in RETRIEVE_MODELS],
                              initial=QueryModel.STUDY_ROOT.value, label="Information model")
    level = forms.ChoiceField(choices=LEVEL_CHOICES, initial=QueryLevel.STUDY.value,
                              label="Query/Retrieve Level")
    patient_id = forms.CharField(required=False, max_length=64, label="Patient ID",
                                 help_text="Patient Root only")
    study_instance_uid = forms.CharField(required=False, max_length=4096,
                                         label="Study Instance UID")
    series_instance_uid = forms.CharField(required=False, max_length=4096,
                                          label="Series Instance UID")
    sop_instance_uid = forms.CharField(required=False, max_length=4096,
                                       label="SOP Instance UID",
                                       help_text="Several UIDs: separate them with \\")

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"ae": data["ae"].pk,
                "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
                "model": data["model"], "level": data["level"],
                **{name: data[name].strip() for name in ("patient_id", "study_instance_uid",
                                                         "series_instance_uid",
                                                         "sop_instance_uid")}}


class MoveForm(RetrieveForm):
    destination = forms.ChoiceField(
        label="Move destination", choices=(),
        help_text="Where the peer sends the instances: a console listener with storage, or "
                  "an AE marked as accepting C-MOVE destinations (mark it on its AE page). "
                  "The peer must know that AE title's host and port.")
    field_order = ["ae", "calling_ae", "destination"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = move_destinations()
        field = self.fields["destination"]
        field.choices = [("", "— choose a destination —"), *choices]  # type: ignore[attr-defined]
        if not choices:
            field.help_text = ("No destination yet: add a listener with storage, or mark an "
                               "AE as accepting C-MOVE destinations.")
        if not self.initial.get("destination") and choices:
            self.initial["destination"] = choices[0][0]

    def clean_destination(self) -> str:
        title = (self.cleaned_data.get("destination") or "").strip()
        validate_ae_title(title)
        return title

    def params(self) -> dict[str, Any]:
        return {**super().params(), "destination": self.cleaned_data["destination"]}


class GetForm(RetrieveForm):
    duplicates = forms.ChoiceField(choices=DuplicatePolicy.choices,
                                   initial=DuplicatePolicy.KEEP_FIRST.value,
                                   label="Instances already in the archive")

    def params(self) -> dict[str, Any]:
        return {**super().params(), "duplicates": self.cleaned_data["duplicates"]}
