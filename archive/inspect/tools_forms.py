"""Forms of the multi-file tools: what to compare, scan or format, chosen with the archive
picker (archive.pickers) instead of typed database IDs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import User

from archive.inspect.sources import uploaded_files
from archive.pickers import ArchiveObjectField, PickerWidget, PickLevel

DEFAULT_TAGS = "PatientName PatientID StudyDate Modality SOPInstanceUID"
DEFAULT_PATTERN = "{0020000D,hash}/{0020000E,hash}/{00080018}"


class DiffForm(forms.Form):
    a = ArchiveObjectField(PickLevel.INSTANCE, uploads=True, label="First")
    b = ArchiveObjectField(PickLevel.INSTANCE, uploads=True, label="Second")
    truncate = forms.IntegerField(label="Truncate strings at", min_value=0, required=False,
                                  help_text="Characters (empty: whole values).")
    meta = forms.BooleanField(label="Compare file meta too", required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = {token: name for token, name, _size in uploaded_files(user)}
        for name in ("a", "b"):
            widget = self.fields[name].widget
            assert isinstance(widget, PickerWidget)
            widget.uploads = names


class ScannerForm(forms.Form):
    tags = forms.CharField(label="Tags or keywords", initial=DEFAULT_TAGS,
                           help_text="Keywords or tags such as 0008,0060, separated by spaces.")
    study = ArchiveObjectField(PickLevel.STUDY, required=False, label="Study")
    path = forms.CharField(label="Or a server folder", required=False)
    job = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roots = ", ".join(str(root) for root in settings.IMPORT_ROOTS)
        self.fields["path"].help_text = f"A folder or file under {roots}."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = [name for name in ("study", "path", "job") if data.get(name)]
        if len(given) > 1:
            raise forms.ValidationError("Scan a study, an import or a server folder: one of "
                                        "them.")
        if not given and not self.errors:
            raise forms.ValidationError("Choose a study, or give a server folder.")
        return data


class PatternForm(forms.Form):
    pattern = forms.CharField(initial=DEFAULT_PATTERN)
    set = forms.CharField(label="Attribute overrides", required=False,
                          widget=forms.Textarea(attrs={"rows": 2}),
                          help_text="One tag=value a line, applied before formatting.")
    study = ArchiveObjectField(PickLevel.STUDY, required=False, label="Study")
    series = ArchiveObjectField(PickLevel.SERIES, required=False, label="or a series")
    instance = ArchiveObjectField(PickLevel.INSTANCE, required=False, label="or an instance")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = [name for name in ("study", "series", "instance") if data.get(name)]
        if len(given) > 1:
            raise forms.ValidationError("Choose a study, a series or an instance: one of "
                                        "them.")
        if not given and not self.errors:
            raise forms.ValidationError("Choose a study, a series or an instance.")
        return data

    def chosen(self) -> Any:
        data = self.cleaned_data
        return data.get("instance") or data.get("series") or data.get("study")
