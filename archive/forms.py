"""Forms of the archive pages."""

from typing import Any

from django import forms

from archive.imports.roots import PathRefused, resolve_import_path
from archive.imports.uploads import stage_uploads
from archive.models import DuplicatePolicy
from archive.pickers import ArchiveObjectField, PickLevel


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


class SourceFields(forms.Form):
    """What a job works on: archive studies, series or instances, a server path under an
    import root, or files from the browser (store and conversion forms)."""

    studies = ArchiveObjectField(PickLevel.STUDY, multiple=True, required=False,
                                 label="Studies")
    series = ArchiveObjectField(PickLevel.SERIES, multiple=True, required=False,
                                label="Or series")
    instances = ArchiveObjectField(PickLevel.INSTANCE, multiple=True, required=False,
                                   label="Or instances")
    path = forms.CharField(required=False, label="Or a server path",
                           help_text="A file or folder under an import root.")
    upload = MultipleFileField(required=False, label="Or files from this computer")

    upload_help = "DICOM files (they are not archived)."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["upload"].help_text = self.upload_help

    def uploaded_files(self) -> list[Any]:
        return self.files.getlist("upload") if self.files else []

    def check_one_source(self, data: dict[str, Any], verb: str) -> None:
        """Exactly one source: archive objects, a server path or uploaded files."""
        chosen = [name for name in ("studies", "series", "instances") if data.get(name)]
        given = bool(chosen) + bool(data.get("path")) + bool(self.uploaded_files())
        if given == 0:
            raise forms.ValidationError(f"Choose what to {verb}: archive studies, series or "
                                        "instances, a server path, or files.")
        if given > 1:
            raise forms.ValidationError("Choose one source: archive objects, a server path "
                                        "or files — not several.")

    def source_params(self) -> dict[str, Any]:
        """The source as job parameters: a staged upload, the path, or the objects' IDs."""
        files = self.uploaded_files()
        if files:
            return {"upload": stage_uploads(files)}
        if self.cleaned_data.get("path"):
            return {"path": self.cleaned_data["path"]}
        return {name: [obj.pk for obj in self.cleaned_data.get(name) or []]
                for name in ("studies", "series", "instances")}


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
