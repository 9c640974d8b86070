"""The forms of the conversion kinds: what to convert, how, and where the results go.

They give the same parameters as ``POST /api/jobs``; the kind's schema validates them again.
"""

from __future__ import annotations

from typing import Any

from django import forms

from archive.conversions.images import ImageFormat, WindowChoice, presets
from archive.conversions.jobs.params import OutputKind
from archive.conversions.syntaxes import TargetSyntax
from archive.forms import SourceFields
from netjobs.jobs.forms import JobForm

SOURCE_FIELDS = ("studies", "series", "instances", "path", "upload")
OUTPUT_FIELDS = ("output", "folder")


class TargetSelect(forms.Select):
    """Each target syntax option says whether it is lossy (the page shows the warning)."""

    def create_option(self, name: str, value: Any, label: Any, selected: Any, index: int,
                      subindex: int | None = None, attrs: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if value and TargetSyntax(str(value)).is_lossy:
            option["attrs"]["data-lossy"] = "true"
        return option


class ConversionForm(JobForm, SourceFields):
    upload_help = "DICOM files to convert (they are not archived)."
    output = forms.ChoiceField(
        choices=[(o.value, o.label) for o in OutputKind], initial=OutputKind.ZIP.value,
        widget=forms.RadioSelect, label="Results go to")
    folder = forms.CharField(required=False, label="Export folder",
                             help_text="With “a folder”: an absolute folder under an export "
                                       "root; it is created if needed.")

    option_fields: tuple[str, ...] = ()
    # field → "other field:values" for which it is shown (static/console/conversions.js)
    shown_when: dict[str, str] = {"folder": "output:folder"}

    class Media:
        js = ("console/conversions.js",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, rule in self.shown_when.items():
            self.fields[name].widget.attrs["data-when"] = rule

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.check_one_source(data, "convert")
        if data.get("output") == OutputKind.FOLDER and not data.get("folder"):
            self.add_error("folder", "Give the folder the results go to.")
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {"output": data["output"]}
        if data["output"] == OutputKind.FOLDER:
            values["folder"] = data["folder"]
        values.update(self.source_params())
        for name in self.option_fields:
            value = data.get(name)
            if value not in (None, ""):
                values[name] = value
        return values

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        groups: dict[str, list[forms.BoundField]] = {"What": [], "Conversion": [],
                                                     "Results": []}
        for bound in self.visible_fields():
            group = ("What" if bound.name in SOURCE_FIELDS else
                     "Results" if bound.name in OUTPUT_FIELDS else "Conversion")
            groups[group].append(bound)
        return [(legend, fields) for legend, fields in groups.items() if fields]


def _optional_int(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(required=False, **kwargs)


class TranscodeForm(ConversionForm):
    target = forms.ChoiceField(
        choices=[(t.value, t.label + (" — lossy" if t.is_lossy else "")) for t in TargetSyntax],
        initial=TargetSyntax.EXPLICIT_LE.value, widget=TargetSelect, label="Transfer syntax")
    lossy = forms.BooleanField(
        required=False, label="I accept a lossy result",
        help_text="A lossy target loses image information for good: the results get new SOP "
                  "Instance UIDs and Lossy Image Compression “01”.")
    quality = _optional_int(min_value=1, max_value=100, label="Quality (JPEG, HTJ2K)",
                            help_text="1–100; default 90.")
    near = forms.IntegerField(min_value=1, max_value=255, initial=2, required=False,
                              label="NEAR (JPEG-LS near-lossless)",
                              help_text="The largest difference allowed per pixel.")
    j2k_ratio = forms.FloatField(required=False, min_value=1.01, max_value=1000,
                                 label="Ratio (JPEG 2000 lossy)",
                                 help_text="E.g. 10 for 10:1; default 10.")
    j2k_psnr = forms.FloatField(required=False, min_value=1, max_value=200,
                                label="Or a PSNR target in dB (JPEG 2000 lossy)")
    new_uid = forms.BooleanField(required=False, label="New SOP Instance UIDs",
                                 help_text="Without it, the results keep their UIDs (into the "
                                           "archive: the converted file replaces the archived "
                                           "one). Lossy results always get new ones.")
    fragment_size = _optional_int(min_value=2, label="Fragment size (bytes)",
                                  help_text="Split each frame into fragments of at most this "
                                            "size (gdcmconv --split); default: one fragment "
                                            "per frame.")
    planar_configuration = forms.TypedChoiceField(
        choices=[("", "As it is"), ("0", "By pixel (RGBRGB…, 0)"),
                 ("1", "By plane (RR…GG…BB…, 1)")],
        coerce=int, empty_value=None, required=False, label="Planar configuration (colour)")

    option_fields = ("target", "lossy", "quality", "near", "j2k_ratio", "j2k_psnr", "new_uid",
                     "fragment_size", "planar_configuration")
    shown_when = {**ConversionForm.shown_when, "lossy": "lossy-target:",
                  "quality": "target:jpeg_baseline,jpeg_extended,htj2k_lossy",
                  "near": "target:jpeg_ls_near_lossless", "j2k_ratio": "target:j2k_lossy",
                  "j2k_psnr": "target:j2k_lossy",
                  "planar_configuration": "target:" + ",".join(
                      t.value for t in TargetSyntax if not t.is_encapsulated)}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        target = data.get("target")
        if target and TargetSyntax(target).is_lossy and not data.get("lossy"):
            self.add_error("lossy", f"{TargetSyntax(target).label} is lossy: tick this box to "
                                    "confirm, or choose a lossless target.")
        return data

    def params(self) -> dict[str, Any]:
        values = super().params()
        values["lossy"] = bool(self.cleaned_data.get("lossy"))
        values["new_uid"] = bool(self.cleaned_data.get("new_uid"))
        target = values.get("target", "")
        for name, rule in self.shown_when.items():  # options of other targets are left out
            other, _, wanted = rule.partition(":")
            if other == "target" and target not in wanted.split(","):
                values.pop(name, None)
        return values


class SplitForm(ConversionForm):
    frames = forms.CharField(required=False, label="Frames",
                             help_text="Frame numbers such as 1,20,120 or 1-10 (default: all).")

    option_fields = ("frames",)

    def clean_frames(self) -> list[int]:
        return parse_frame_numbers(self.cleaned_data.get("frames") or "")


def parse_frame_numbers(text: str) -> list[int]:
    """"1,20,120" or "1-10, 15" as 1-based frame numbers (emf2sf -f)."""
    numbers: list[int] = []
    for part in filter(None, (p.strip() for p in text.replace(" ", "").split(","))):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise forms.ValidationError(f"{part!r} is not a frame number or range") from None
        if first < 1 or last < first or last - first > 100_000:
            raise forms.ValidationError(f"{part!r} is not a range of frame numbers from 1")
        numbers.extend(range(first, last + 1))
    return sorted(set(numbers))


class SwapForm(ConversionForm):
    only_if_wrong = forms.BooleanField(
        required=False, initial=True, label="Only where the byte order looks wrong",
        help_text="Like swappxdata --if-big-endian: leave files whose pixel values already "
                  "look right untouched.")

    option_fields = ("only_if_wrong",)

    def params(self) -> dict[str, Any]:
        values = super().params()
        values["only_if_wrong"] = bool(self.cleaned_data.get("only_if_wrong"))
        return values


FORMAT_LABELS = {ImageFormat.PNG: "PNG, one per frame", ImageFormat.JPEG: "JPEG, one per frame",
                 ImageFormat.GIF: "Animated GIF of all frames"}
WINDOW_LABELS = {WindowChoice.FILE: "The file's window",
                 WindowChoice.MINMAX: "Each frame's minimum–maximum",
                 WindowChoice.PRESET: "A preset", WindowChoice.TYPED: "Typed center and width"}


class ExportImagesForm(ConversionForm):
    format = forms.ChoiceField(choices=[(f.value, FORMAT_LABELS[f]) for f in ImageFormat],
                               initial=ImageFormat.PNG.value, label="Image format")
    quality = forms.IntegerField(min_value=1, max_value=100, initial=90, required=False,
                                 label="JPEG quality")
    window = forms.ChoiceField(choices=[(w.value, WINDOW_LABELS[w]) for w in WindowChoice],
                               initial=WindowChoice.FILE.value, label="Window",
                               help_text="A file without a window gets its minimum–maximum "
                                         "(like dcm2jpg).")
    preset = forms.ChoiceField(choices=[("", "—"), *[(name, name.capitalize())
                                                     for name in presets()]],
                               required=False, label="Preset")
    center = forms.FloatField(required=False, label="Window center")
    width = forms.FloatField(required=False, min_value=1, label="Window width")
    frame_delay_ms = _optional_int(min_value=10, max_value=10000, label="GIF frame delay (ms)",
                                   help_text="Default: the file's frame time.")

    option_fields = ("format", "quality", "window", "preset", "center", "width",
                     "frame_delay_ms")
    shown_when = {**ConversionForm.shown_when, "quality": "format:jpeg",
                  "preset": "window:preset", "center": "window:typed", "width": "window:typed",
                  "frame_delay_ms": "format:gif"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["output"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(o.value, o.label) for o in OutputKind if o != OutputKind.ARCHIVE]
