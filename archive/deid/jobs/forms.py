"""The forms of ``deidentify`` and ``reidentify``: the same parameters as ``POST /api/jobs``."""

from __future__ import annotations

from typing import Any

from django import forms

from archive.conversions.jobs.forms import OUTPUT_FIELDS, SOURCE_FIELDS, ConversionForm
from archive.deid.models import DeidProject
from archive.deid.profile import ProfileOption
from netjobs.models import AEKind, ApplicationEntity

PROFILE_FIELDS = ("project", "options", "reversible", "hold_back")
DUMB_FIELDS = ("dumb", "empty", "remove", "replace")
OPTION_HELP = {
    ProfileOption.CLEAN_PIXEL_DATA: "the console does not alter pixels: files that may show "
                                    "burned-in text are held back for review either way",
}


def lines_of(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class DeidentifyForm(ConversionForm):
    upload_help = "DICOM files to de-identify (they are not archived)."
    project = forms.ModelChoiceField(
        queryset=DeidProject.objects.all(), to_field_name="name", empty_label=None,
        label="Project", help_text="Its key gives the same UIDs, date shifts and pseudonyms "
                                   "to every delivery of the same patient.")
    options = forms.MultipleChoiceField(
        choices=[(o.value, o.label) for o in ProfileOption if o != ProfileOption.CLEAN_PIXEL_DATA],
        required=False, widget=forms.CheckboxSelectMultiple,
        label="Options (PS3.15 Annex E)",
        help_text="Without options: the Basic Application Level Confidentiality Profile.")
    reversible = forms.BooleanField(
        required=False, label="Reversible",
        help_text="The replaced values go into an Encrypted Attributes Sequence for the "
                  "project's certificate (gdcmanon -c); its private key re-identifies.")
    hold_back = forms.BooleanField(
        required=False, initial=True, label="Hold back possible burned-in text",
        help_text="Files with Burned In Annotation YES, or of a modality that burns text in "
                  "(US, ES, XC, SC…) without NO, wait in the job's review folder.")
    dumb = forms.BooleanField(required=False, label="Dumb mode (gdcmanon --dumb)",
                              help_text="Only the lists below, no profile: for sites with "
                                        "their own rules.")
    empty = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                            label="Tags to empty", help_text="One per line: 10,10 or "
                                                             "(0010,0010) or PatientName.")
    remove = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             label="Tags to remove")
    replace = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              label="Tags to replace", help_text="One per line: tag,value "
                                                                 "(10,1030,10).")
    send_to = forms.ModelChoiceField(
        queryset=ApplicationEntity.objects.filter(kind=AEKind.REMOTE), required=False,
        empty_label="No remote AE", label="Also send to",
        help_text="A store job sends the released files to this AE.")

    shown_when = {**ConversionForm.shown_when, "empty": "dumb:on", "remove": "dumb:on",
                  "replace": "dumb:on"}

    def params(self) -> dict[str, Any]:
        values = super().params()
        data = self.cleaned_data
        values["project"] = data["project"].name
        values["hold_back"] = bool(data.get("hold_back"))
        if data.get("dumb"):
            values.update(dumb=True, empty=lines_of(data.get("empty", "")),
                          remove=lines_of(data.get("remove", "")),
                          replace=lines_of(data.get("replace", "")))
        else:
            values.update(options=list(data.get("options") or []),
                          reversible=bool(data.get("reversible")))
        if data.get("send_to") is not None:
            values["send_to"] = data["send_to"].pk
        return values

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        groups: dict[str, list[forms.BoundField]] = {
            "What": [], "Profile": [], "Dumb mode": [], "Results": []}
        for bound in self.visible_fields():
            group = ("What" if bound.name in SOURCE_FIELDS else
                     "Profile" if bound.name in PROFILE_FIELDS else
                     "Dumb mode" if bound.name in DUMB_FIELDS else
                     "Results" if bound.name in (*OUTPUT_FIELDS, "send_to") else "Profile")
            groups[group].append(bound)
        return [(legend, fields) for legend, fields in groups.items() if fields]


class ReidentifyForm(ConversionForm):
    upload_help = "De-identified DICOM files with an Encrypted Attributes Sequence."
    private_key = forms.FileField(label="Private key (PEM)",
                                  help_text="The key of the project's certificate; it is kept "
                                            "only while the job runs.")
    password = forms.CharField(required=False, widget=forms.PasswordInput,
                               label="Key password")

    def clean_private_key(self) -> str:
        upload = self.cleaned_data["private_key"]
        if upload.size > 64 * 1024:
            raise forms.ValidationError("That is too large for a private key.")
        text = upload.read().decode("ascii", "replace")
        if "PRIVATE KEY-----" not in text:
            raise forms.ValidationError("Not a PEM private key (-----BEGIN … PRIVATE KEY-----).")
        return text

    def params(self) -> dict[str, Any]:
        values = super().params()
        values["private_key"] = self.cleaned_data["private_key"]
        if self.cleaned_data.get("password"):
            values["password"] = self.cleaned_data["password"]
        return values

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        sets = super().fieldsets()
        return [("Key" if legend == "Conversion" else legend, fields) for legend, fields in sets]
