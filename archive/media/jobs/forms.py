"""The forms of the media kinds; they give the same parameters as ``POST /api/jobs``."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from archive.forms import SourceFields
from archive.media.models import MediumFormat
from archive.media.profiles import MediaProfile
from netjobs.jobs.forms import JobForm

SOURCE_FIELDS = ("studies", "series", "instances", "path", "upload")
RECORD_FIELDS = ("profile", "transcode", "invent")
MEDIUM_FIELDS = ("medium", "folder", "fileset_id", "readme")


def record_fields() -> dict[str, forms.Field]:
    return {
        "profile": forms.ChoiceField(
            choices=[(p.value, f"{p.value}: {p.label}") for p in MediaProfile],
            initial=MediaProfile.STD_GEN_CD,
            label="Media profile", help_text="The PS3.11 profile: it sets the transfer "
                                             "syntaxes the medium may hold."),
        "transcode": forms.BooleanField(
            required=False, label="Transcode what the profile does not allow",
            help_text="Such files are written as Explicit VR Little Endian (lossless); "
                      "without it they fail, each with the reason."),
        "invent": forms.ChoiceField(
            choices=[("", "The file fails alone, with the keys it lacks"),
                     ("1", "Invent them, like dcmmkdir +I (listed per file)")],
            required=False, widget=forms.RadioSelect,
            initial="", label="A file lacks a key its record needs"),
    }


class _MediaForm(JobForm, SourceFields):
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    verb = "put on the medium"

    class Media:
        js = ("console/conversions.js",)  # shows a field only when its choice is made

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(record_fields())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.check_one_source(data, self.verb)
        return data

    def record_params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"profile": data["profile"], "transcode": bool(data.get("transcode")),
                "invent": data.get("invent") == "1", **self.source_params()}

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        placed = {name for _, names in self.groups for name in names}
        shown = {bound.name: bound for bound in self.visible_fields()}
        sets = [("What", [b for n, b in shown.items() if n in SOURCE_FIELDS])]
        sets += [(legend, [shown[n] for n in names if n in shown]) for legend, names in
                 self.groups]
        sets += [("Other", [b for n, b in shown.items()
                            if n not in placed and n not in SOURCE_FIELDS])]
        return [(legend, fields) for legend, fields in sets if fields]


class MkmediaForm(_MediaForm):
    upload_help = "DICOM files to put on the medium (they are not archived)."
    medium = forms.ChoiceField(choices=MediumFormat.choices, initial=MediumFormat.ZIP,
                               widget=forms.RadioSelect, label="The medium is")
    folder = forms.CharField(required=False, label="Export folder",
                             help_text="A new or empty folder under an export root.")
    fileset_id = forms.CharField(required=False, max_length=16, label="File-set ID",
                                 help_text="At most 16 of A–Z, 0–9, space, underscore "
                                           "(default CONSOLE<job ID>); also the ISO volume ID.")
    readme = forms.BooleanField(required=False, initial=True, label="README on the medium",
                                help_text="A plain-text list of what the medium holds, named "
                                          "in the DICOMDIR as its File-set descriptor.")
    groups = (("Records", RECORD_FIELDS), ("Medium", MEDIUM_FIELDS))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["folder"].widget.attrs["data-when"] = "medium:folder"

    def clean_fileset_id(self) -> str:
        value = (self.cleaned_data.get("fileset_id") or "").strip().upper()
        if not re.fullmatch(r"[A-Z0-9_ ]{0,16}", value):
            raise forms.ValidationError("Use at most 16 of A–Z, 0–9, space and underscore.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("medium") == MediumFormat.FOLDER and not data.get("folder"):
            self.add_error("folder", "Give the folder the medium is written to.")
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {**self.record_params(), "medium": data["medium"],
                  "readme": bool(data.get("readme"))}
        if data["medium"] == MediumFormat.FOLDER:
            values["folder"] = data["folder"]
        if data.get("fileset_id"):
            values["fileset_id"] = data["fileset_id"]
        return values


FILESET_HELP = "The File-set folder (or its DICOMDIR) under an export root."


class UpdateForm(_MediaForm):
    upload_help = "DICOM files to add (they are not archived)."
    verb = "add"
    fileset = forms.CharField(label="File-set", help_text=FILESET_HELP)
    groups = (("File-set", ("fileset",)), ("Records", RECORD_FIELDS))

    def params(self) -> dict[str, Any]:
        return {**self.record_params(), "fileset": self.cleaned_data["fileset"]}


def uid_lines(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text or "") if part]


class DeleteForm(JobForm):
    fileset = forms.CharField(label="File-set", help_text=FILESET_HELP)
    sop_instance_uids = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="SOP Instance UIDs",
        help_text="One per line: their records are marked inactive (dcmdir -d).")
    series_uids = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                  label="Series Instance UIDs",
                                  help_text="Every record of these series.")
    study_uids = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                 label="Study Instance UIDs")
    patient_ids = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                  label="Patient IDs")
    NAMES = ("sop_instance_uids", "series_uids", "study_uids", "patient_ids")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(uid_lines(data.get(name, "")) for name in self.NAMES):
            raise forms.ValidationError("Name at least one record to delete.")
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {"fileset": data["fileset"]}
        for name in self.NAMES:
            if uid_lines(data.get(name, "")):
                values[name] = uid_lines(data[name])
        return values


class CompactForm(JobForm):
    fileset = forms.CharField(label="File-set", help_text=FILESET_HELP)
    remove_files = forms.BooleanField(
        required=False, label="Also delete the files of inactive records",
        help_text="Only files no active record references, and only inside the File-set.")

    def params(self) -> dict[str, Any]:
        return {"fileset": self.cleaned_data["fileset"],
                "remove_files": bool(self.cleaned_data.get("remove_files"))}
