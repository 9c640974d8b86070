"""Forms of the archive pages."""

from typing import Any

from django import forms

from archive.imports.roots import PathRefused, resolve_import_path
from archive.models import DuplicatePolicy


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field, each validated as a FileField would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class UploadImportForm(forms.Form):
    upload = MultipleFileField(
        help_text="DICOM files, or ZIP files of them.",
        required=False,
    )
    duplicates = forms.ChoiceField(choices=DuplicatePolicy.choices,
                                   initial=DuplicatePolicy.KEEP_FIRST)


class PathImportForm(forms.Form):
    path = forms.CharField(
        max_length=4096,
        help_text="A file, folder, ZIP file or DICOMDIR under an allowed import folder.",
    )
    duplicates = forms.ChoiceField(choices=DuplicatePolicy.choices,
                                   initial=DuplicatePolicy.KEEP_FIRST)

    def clean_path(self) -> str:
        try:
            return str(resolve_import_path(self.cleaned_data["path"]))
        except PathRefused as exc:
            raise forms.ValidationError(str(exc)) from None
