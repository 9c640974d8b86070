"""The forms of ``create``, ``extract`` and ``edit``: the same parameters as
``POST /api/jobs``; the kind's schema validates them again."""

from __future__ import annotations

from typing import Any

from django import forms

from archive.conversions.jobs.forms import ConversionForm
from archive.conversions.jobs.params import OutputKind
from archive.conversions.syntaxes import TargetSyntax
from archive.models import Patient
from archive.objects.jobs.params import (
    TEXT_LIMIT,
    ChangeSource,
    ImageClass,
    Originals,
    UidPolicy,
    VideoClass,
)
from archive.objects.metadata import MetadataRefused, template_attributes
from archive.pickers import ArchiveObjectField, PickLevel

IMAGE_CLASS_LABELS = {ImageClass.SECONDARY_CAPTURE: "Secondary Capture",
                      ImageClass.VL_PHOTOGRAPHIC: "VL Photographic",
                      ImageClass.VL_ENDOSCOPIC: "VL Endoscopic"}
VIDEO_CLASS_LABELS = {VideoClass.ENDOSCOPIC: "Video Endoscopic",
                      VideoClass.PHOTOGRAPHIC: "Video Photographic",
                      VideoClass.MICROSCOPIC: "Video Microscopic"}
BELONGS_CHOICES = [("new", "A new patient and study"),
                   ("study", "A new series in an archived study"),
                   ("patient", "A new study of an archived patient")]
ARCHIVE_SOURCES = ("studies", "series", "instances")


def _text_file(upload: Any, what: str) -> str:
    """An uploaded template or change file as text (UTF-8), within the size limit."""
    if upload.size > TEXT_LIMIT:
        raise forms.ValidationError(f"The {what} is larger than {TEXT_LIMIT // 1024} KiB.")
    try:
        return str(upload.read().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise forms.ValidationError(f"The {what} is not UTF-8 text.") from None


class CreateForm(ConversionForm):
    upload_help = ("JPEG, PNG, BMP or TIFF images, MPEG-2 / H.264 / HEVC videos, PDF, CDA, "
                   "STL, OBJ or MTL files (raw pixels: POST /api/jobs with \"raw\").")
    belongs = forms.ChoiceField(choices=BELONGS_CHOICES, initial="new", label="They belong to",
                                widget=forms.RadioSelect)
    attach_study = ArchiveObjectField(PickLevel.STUDY, required=False, label="Archived study")
    attach_patient = forms.CharField(required=False, label="Archived patient's Patient ID",
                                     max_length=64)
    patient_name = forms.CharField(required=False, max_length=324, label="Patient name",
                                   help_text="Family^Given, as DICOM writes it.")
    patient_id = forms.CharField(required=False, max_length=64, label="Patient ID")
    patient_birth_date = forms.DateField(required=False, label="Birth date",
                                         widget=forms.DateInput(attrs={"type": "date"}))
    patient_sex = forms.ChoiceField(required=False, label="Sex",
                                    choices=[("", "—"), ("F", "F"), ("M", "M"), ("O", "O")])
    study_description = forms.CharField(required=False, max_length=64,
                                        label="Study description")
    accession_number = forms.CharField(required=False, max_length=16, label="Accession number")
    referring_physician_name = forms.CharField(required=False, max_length=324,
                                               label="Referring physician")
    series_description = forms.CharField(required=False, max_length=64,
                                         label="Series description")
    template_file = forms.FileField(required=False, label="Attribute template",
                                    help_text="PS3.19 XML or PS3.18 JSON attributes for every "
                                              "object (like jpg2dcm -f).")
    image_class = forms.ChoiceField(choices=[(c.value, IMAGE_CLASS_LABELS[c]) for c in ImageClass],
                                    initial=ImageClass.SECONDARY_CAPTURE.value,
                                    label="Images as")
    multi_frame = forms.BooleanField(required=False, label="All images into one multi-frame "
                                                           "instance")
    target = forms.ChoiceField(
        required=False, label="PNG, BMP, TIFF, raw written as",
        choices=[("", "Explicit VR Little Endian (uncompressed)"),
                 *[(t.value, t.label + (" — lossy" if t.is_lossy else ""))
                   for t in TargetSyntax if t.is_encapsulated]],
        help_text="JPEG files are always kept as they are, without re-encoding.")
    lossy = forms.BooleanField(required=False, label="I accept a lossy result")
    keep_app_segments = forms.BooleanField(required=False, initial=True,
                                           label="Keep the JPEG's APPn segments",
                                           help_text="Untick for jpg2dcm --no-app.")
    video_class = forms.ChoiceField(choices=[(c.value, VIDEO_CLASS_LABELS[c]) for c in VideoClass],
                                    initial=VideoClass.ENDOSCOPIC.value, label="Videos as")
    title = forms.CharField(required=False, max_length=64, label="Document title",
                            help_text="PDF, CDA, STL/OBJ/MTL; default: the document's own "
                                      "title or its file name.")

    option_fields = ("patient_name", "patient_id", "patient_birth_date", "patient_sex",
                     "study_description", "accession_number", "referring_physician_name",
                     "series_description",
                     "image_class", "multi_frame", "target", "lossy", "keep_app_segments",
                     "video_class", "title")
    shown_when = {**ConversionForm.shown_when, "attach_study": "belongs:study",
                  "attach_patient": "belongs:patient", "patient_name": "belongs:new",
                  "patient_id": "belongs:new", "patient_birth_date": "belongs:new",
                  "patient_sex": "belongs:new", "study_description": "belongs:new,patient",
                  "accession_number": "belongs:new,patient",
                  "referring_physician_name": "belongs:new,patient"}
    GROUPS = {"Files": ("path", "upload"),
              "They belong to": ("belongs", "attach_study", "attach_patient", "patient_name",
                                 "patient_id", "patient_birth_date", "patient_sex",
                                 "study_description", "accession_number",
                                 "referring_physician_name", "series_description",
                                 "template_file"),
              "Objects": ("image_class", "multi_frame", "target", "lossy",
                          "keep_app_segments", "video_class", "title"),
              "Results": ("output", "folder")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ARCHIVE_SOURCES:
            del self.fields[name]
        self.fields["output"].initial = OutputKind.ARCHIVE.value
        self.fields["path"].label = "A server path"
        self.fields["upload"].label = "Or files from this computer"

    def clean_attach_patient(self) -> Patient | None:
        value = (self.cleaned_data.get("attach_patient") or "").strip()
        if not value:
            return None
        patients = list(Patient.objects.filter(patient_id=value)[:2])
        if not patients:
            raise forms.ValidationError(f"No archived patient has Patient ID {value!r}.")
        if len(patients) > 1:
            raise forms.ValidationError(f"Several archived patients have Patient ID {value!r} "
                                        "(different issuers): attach to one of their studies.")
        return patients[0]

    def clean_template_file(self) -> str | None:
        upload = self.cleaned_data.get("template_file")
        if not upload:
            return None
        text = _text_file(upload, "template")
        try:
            template_attributes(text)
        except MetadataRefused as exc:
            reason = str(exc)
            raise forms.ValidationError(reason[:1].upper() + reason[1:]) from None
        return text

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        belongs = data.get("belongs")
        if belongs == "study" and not data.get("attach_study"):
            self.add_error("attach_study", "Choose the study the new series goes into.")
        if belongs == "patient" and not data.get("attach_patient") and \
                "attach_patient" not in self.errors:
            self.add_error("attach_patient", "Give the archived patient's Patient ID.")
        target = data.get("target")
        if target and TargetSyntax(target).is_lossy and not data.get("lossy"):
            self.add_error("lossy", f"{TargetSyntax(target).label} is lossy: tick this box to "
                                    "confirm, or choose a lossless syntax.")
        return data

    def params(self) -> dict[str, Any]:
        values = super().params()
        data = self.cleaned_data
        belongs = data.get("belongs")
        dropped = {"new": (), "patient": ("patient_name", "patient_id", "patient_birth_date",
                                          "patient_sex")}.get(str(belongs), (
            "patient_name", "patient_id", "patient_birth_date", "patient_sex",
            "study_description", "accession_number", "referring_physician_name"))
        for name in dropped:
            values.pop(name, None)
        if belongs == "study" and data.get("attach_study"):
            values["attach_study"] = data["attach_study"].pk
        if belongs == "patient" and data.get("attach_patient"):
            values["attach_patient"] = data["attach_patient"].pk
        if values.get("patient_birth_date"):
            values["patient_birth_date"] = values["patient_birth_date"].isoformat()
        if data.get("template_file"):
            values["template"] = data["template_file"]
        for name in ("multi_frame", "lossy", "keep_app_segments"):
            values[name] = bool(data.get(name))
        return values

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        bound = {b.name: b for b in self.visible_fields()}
        return [(legend, [bound[name] for name in names if name in bound])
                for legend, names in self.GROUPS.items()]


class ExtractForm(ConversionForm):
    upload_help = "DICOM files holding a PDF, CDA, 3D model, video or JPEG frames."
    frame = forms.IntegerField(required=False, min_value=1, label="Frame",
                               help_text="JPEG images: this frame only (default: every frame).")

    option_fields = ("frame",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["output"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(o.value, o.label) for o in OutputKind if o != OutputKind.ARCHIVE]


ACTION_CHOICES = [("insert", "Set (insert or overwrite)"), ("modify", "Modify (must exist)"),
                  ("remove", "Remove")]
CHANGE_ROWS = 6  # rows of the structured change table on the page


class EditForm(ConversionForm):
    upload_help = "DICOM files to edit (into a ZIP or a folder; they are not archived)."
    how = forms.ChoiceField(
        label="Changes given as", widget=forms.RadioSelect, initial=ChangeSource.FORM.value,
        choices=[(ChangeSource.FORM.value, "Rows below"),
                 (ChangeSource.DCMODIFY.value, "dcmodify-style lines"),
                 (ChangeSource.XML.value, "A PS3.19 XML file"),
                 (ChangeSource.JSON.value, "A PS3.18 JSON file")])
    dcmodify = forms.CharField(
        required=False, label="dcmodify-style lines", widget=forms.Textarea(attrs={"rows": 5}),
        help_text='One per line: -m "(0010,0010)=Doe^Jane", -i PatientID=123, '
                  '-e (0010,1000), paths like ReferencedStudySequence[0].ReferencedSOPInstanceUID.')
    update_file = forms.FileField(required=False, label="Update file",
                                  help_text="Its attributes are inserted or overwritten "
                                            "(xml2dcm's update with XML).")
    uids = forms.ChoiceField(label="UIDs", initial=UidPolicy.KEEP.value, widget=forms.RadioSelect,
                             choices=[(UidPolicy.KEEP.value, "Keep the UIDs"),
                                      (UidPolicy.NEW.value, "New Study, Series and SOP Instance "
                                                            "UIDs (references in the set follow)")])
    originals = forms.ChoiceField(
        label="Originals", initial=Originals.REPLACE.value, widget=forms.RadioSelect,
        choices=[(Originals.REPLACE.value, "Replace them (kept until the whole edit succeeds)"),
                 (Originals.KEEP.value, "Keep them beside the edited copies (needs new UIDs)")])

    option_fields = ("uids", "originals")
    shown_when = {**ConversionForm.shown_when, "dcmodify": "how:dcmodify",
                  "update_file": "how:xml,json"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["output"].initial = OutputKind.ARCHIVE.value
        for n in range(CHANGE_ROWS):
            self.fields[f"path_{n}"] = forms.CharField(
                required=False, max_length=512, label="Attribute" if n == 0 else "",
                widget=forms.TextInput(attrs={"placeholder": "PatientName or (0010,0010)",
                                              "data-when": "how:form"}))
            self.fields[f"action_{n}"] = forms.ChoiceField(
                choices=ACTION_CHOICES, required=False, label="Action" if n == 0 else "",
                widget=forms.Select(attrs={"data-when": "how:form"}))
            self.fields[f"value_{n}"] = forms.CharField(
                required=False, max_length=10000, label="Value" if n == 0 else "",
                widget=forms.TextInput(attrs={"data-when": "how:form"}))
            self.fields[f"vr_{n}"] = forms.CharField(
                required=False, max_length=2, label="VR" if n == 0 else "",
                widget=forms.TextInput(attrs={"placeholder": "auto", "size": 3,
                                              "data-when": "how:form"}))

    def clean_update_file(self) -> str | None:
        upload = self.cleaned_data.get("update_file")
        return _text_file(upload, "update file") if upload else None

    def change_rows(self) -> list[dict[str, Any]]:
        rows = []
        for n in range(CHANGE_ROWS):
            path = (self.cleaned_data.get(f"path_{n}") or "").strip()
            if path:
                rows.append({"path": path, "action": self.cleaned_data.get(f"action_{n}")
                             or "insert", "value": self.cleaned_data.get(f"value_{n}") or "",
                             "vr": (self.cleaned_data.get(f"vr_{n}") or "").strip().upper()
                             or None})
        return rows

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        how = data.get("how")
        if how == ChangeSource.FORM and not self.change_rows():
            self.add_error("path_0", "Give at least one attribute to change.")
        if how == ChangeSource.DCMODIFY and not (data.get("dcmodify") or "").strip():
            self.add_error("dcmodify", "Give at least one change.")
        if how in (ChangeSource.XML, ChangeSource.JSON) and not data.get("update_file"):
            self.add_error("update_file", "Choose the update file.")
        return data

    def params(self) -> dict[str, Any]:
        values = super().params()
        data, how = self.cleaned_data, self.cleaned_data.get("how")
        if how == ChangeSource.FORM:
            values["changes"] = self.change_rows()
        elif how == ChangeSource.DCMODIFY:
            values["dcmodify"] = data["dcmodify"]
        else:
            values["xml" if how == ChangeSource.XML else "json"] = data["update_file"]
        return values

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        bound = {b.name: b for b in self.visible_fields()}
        rows = [bound[f"{part}_{n}"] for n in range(CHANGE_ROWS)
                for part in ("path", "action", "value", "vr")]
        groups = {"What": ["studies", "series", "instances", "path", "upload"],
                  "Changes": ["how", "dcmodify", "update_file"],
                  "Options": ["uids", "originals"], "Results": ["output", "folder"]}
        sets = [(legend, [bound[name] for name in names if name in bound])
                for legend, names in groups.items()]
        sets.insert(2, ("Change rows", rows))
        return sets
