"""Choosing archived studies, series or instances in a form: a field that takes archive IDs
from the picker's search (or a pasted Study / Series / SOP Instance UID) and validates them
to model objects, a widget that shows what is chosen, and the summary each choice reads as
("CompressedSamples^MR2 · SHOULDER · 3 instances, 4.2 MB")."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django import forms
from django.db.models import Count, Model, QuerySet, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.utils.safestring import SafeString, mark_safe

from archive.models import Instance, Series, Study
from console.templatetags.console_format import format_size

UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)+$")
_SEPARATORS = re.compile(r"[\s,]+")
UPLOAD_PREFIX = "upload:"
MAX_REFS = 1000  # references one field takes (each is looked up)


class PickLevel(StrEnum):
    """The level of the DICOM information model a picker chooses at."""

    STUDY = "study"
    SERIES = "series"
    INSTANCE = "instance"

    @property
    def model(self) -> type[Model]:
        models: dict[PickLevel, type[Model]] = {PickLevel.STUDY: Study, PickLevel.SERIES: Series,
                                                PickLevel.INSTANCE: Instance}
        return models[self]

    def objects(self) -> QuerySet[Any]:
        return self.model._default_manager.all()

    @property
    def uid_field(self) -> str:
        return {PickLevel.STUDY: "study_instance_uid", PickLevel.SERIES: "series_instance_uid",
                PickLevel.INSTANCE: "sop_instance_uid"}[self]

    @property
    def uid_name(self) -> str:
        """The attribute's name in PS3.6: Study Instance UID, Series Instance UID…"""
        return {PickLevel.STUDY: "Study Instance UID", PickLevel.SERIES: "Series Instance UID",
                PickLevel.INSTANCE: "SOP Instance UID"}[self]

    @property
    def plural(self) -> str:
        return {PickLevel.STUDY: "studies", PickLevel.SERIES: "series",
                PickLevel.INSTANCE: "instances"}[self]


@dataclass(frozen=True)
class Choice:
    """One chosen (or found) object as the picker shows it."""

    value: str  # what the form submits: the archive ID, or upload:<token>
    summary: str  # patient name · description · n instances, size
    detail: str  # what tells it apart further: study date and description, UID

    def as_json(self) -> dict[str, str]:
        return {"value": self.value, "summary": self.summary, "detail": self.detail}


def instance_count(count: int) -> str:
    return f"{count} instance{'' if count == 1 else 's'}"


def _patient_name(study: Study) -> str:
    return study.patient.patient_name.strip() or study.patient.title


def _study_description(study: Study) -> str:
    return study.study_description or "/".join(study.modalities) or study.title


def _series_description(series: Series) -> str:
    words = [series.modality, series.series_description or series.body_part_examined]
    return " ".join(w for w in words if w) or series.title


def _annotated(level: PickLevel, pks: Iterable[int]) -> QuerySet[Any]:
    """The objects with their instance count and bytes (``n`` and ``size``) in one query."""
    if level is PickLevel.STUDY:
        return Study.objects.filter(pk__in=pks).select_related("patient").annotate(
            n=Count("series__instances"), size=Sum("series__instances__file_size"))
    if level is PickLevel.SERIES:
        return Series.objects.filter(pk__in=pks).select_related("study__patient").annotate(
            n=Count("instances"), size=Sum("instances__file_size"))
    return Instance.objects.filter(pk__in=pks).select_related("series__study__patient")


def describe(level: PickLevel, obj: Any) -> Choice:
    """The summary of an object from :func:`_annotated` (or an Instance)."""
    if level is PickLevel.STUDY:
        summary = [_patient_name(obj), _study_description(obj),
                   f"{instance_count(obj.n)}, {format_size(obj.size or 0)}"]
        detail = f"{obj.title} · {obj.study_instance_uid}"
    elif level is PickLevel.SERIES:
        summary = [_patient_name(obj.study), _series_description(obj),
                   f"{instance_count(obj.n)}, {format_size(obj.size or 0)}"]
        detail = f"{obj.title} · {obj.study.title}"
    else:
        series = obj.series
        summary = [_patient_name(series.study), _series_description(series),
                   f"{obj.title}, {format_size(obj.file_size)}"]
        detail = f"{series.title} · {series.study.title} · {obj.sop_instance_uid}"
    return Choice(str(obj.pk), " · ".join(summary), detail)


def choices_for(level: PickLevel, objects: Sequence[Model]) -> list[Choice]:
    """Summaries of the objects, in their order."""
    found = {o.pk: o for o in _annotated(level, [o.pk for o in objects])}
    return [describe(level, found[o.pk]) for o in objects if o.pk in found]


def _other_level(level: PickLevel, uid: str) -> PickLevel | None:
    for other in PickLevel:
        if other is not level and other.objects().filter(**{other.uid_field: uid}).exists():
            return other
    return None


def resolve(level: PickLevel, text: str) -> Model:
    """An archive ID ("12", "study:12") or a UID of ``level`` → the object, or a
    ValidationError that names what was given."""
    ref = text.strip().removeprefix(f"{level.value}:")
    if ref.isascii() and ref.isdecimal() and len(ref) <= 18:
        obj = level.objects().filter(pk=int(ref)).first()
        if obj is None:
            raise forms.ValidationError(f"No {level.value} with archive ID {ref}.", "unknown")
        return obj
    if not UID_PATTERN.match(ref) or len(ref) > 64:
        raise forms.ValidationError(
            f"“{ref[:80]}” is neither an archive ID nor a {level.uid_name}: search by patient "
            "name, ID, description or accession and choose from the list.", "invalid")
    obj = level.objects().filter(**{level.uid_field: ref}).first()
    if obj is not None:
        return obj
    other = _other_level(level, ref)
    if other is not None:
        raise forms.ValidationError(
            f"{ref} is a {other.uid_name}, not a {level.uid_name}: choose a {level.value}.",
            "wrong_level")
    raise forms.ValidationError(
        f"No {level.value} with {level.uid_name} {ref} in the archive.", "unknown")


def split_refs(values: Iterable[Any]) -> list[str]:
    """Submitted values (one per chip, or typed with spaces/commas) → the references."""
    refs: list[str] = []
    for value in values:
        if isinstance(value, Model):
            refs.append(str(value.pk))
        elif isinstance(value, list | tuple):
            refs += split_refs(value)
        elif value is not None:
            refs += [v for v in _SEPARATORS.split(str(value)) if v]
    return refs


class PickerWidget(forms.Widget):
    """A search box with a results list (picker.js) and the chosen objects as chips; without
    JavaScript the box is a plain text field that takes typed archive IDs or UIDs."""

    template_name = "_picker.html"

    def __init__(self, level: PickLevel, multiple: bool,
                 attrs: dict[str, Any] | None = None,
                 uploads: Mapping[str, str] | None = None) -> None:
        super().__init__(attrs)
        self.level, self.multiple = level, multiple
        self.uploads: Mapping[str, str] | None = uploads  # token → label, when allowed

    def use_required_attribute(self, initial: Any) -> bool:
        return False  # the chips carry the values: an empty search box is fine

    def value_from_datadict(self, data: Any, files: MultiValueDict[str, Any],
                            name: str) -> list[str]:
        raw = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return split_refs(raw)

    def value_omitted_from_data(self, data: Any, files: MultiValueDict[str, Any],
                                name: str) -> bool:
        return name not in data

    def format_value(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple | QuerySet):
            return split_refs(value)
        return split_refs([value])

    def _chips(self, refs: list[str]) -> tuple[list[Choice], list[str]]:
        """The references that resolve (as choices) and those that do not (kept as text)."""
        objects: list[Model] = []
        uploads: list[Choice] = []
        typed: list[str] = []
        for ref in refs:
            if self.uploads is not None and ref.startswith(UPLOAD_PREFIX):
                uploads.append(upload_choice(ref, self.uploads))
                continue
            try:
                objects.append(resolve(self.level, ref))
            except forms.ValidationError:
                typed.append(ref)
        return choices_for(self.level, objects) + uploads, typed

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None
                    ) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        chips, typed = self._chips(context["widget"]["value"])
        query = "?uploads=1" if self.uploads is not None else ""
        context["picker"] = {
            "chips": chips, "typed": " ".join(typed), "level": self.level,
            "multiple": self.multiple,
            "search_url": reverse("archive:pick", args=[self.level.value]) + query,
            "placeholder": ("Search to choose another" if chips and not self.multiple
                            else "Patient, description or UID")}
        return context

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> SafeString:
        # The project's templates folder, not the form renderer's own engine.
        return mark_safe(render_to_string(self.template_name,
                                          self.get_context(name, value, attrs)))


def upload_choice(ref: str, uploads: Mapping[str, str]) -> Choice:
    token = ref.removeprefix(UPLOAD_PREFIX)
    label = uploads.get(token, f"…{token[-8:]}")
    return Choice(ref, f"Uploaded file {label}", "a file uploaded for inspection")


class ArchiveObjectField(forms.Field):
    """Archive objects of one level, from the picker's archive IDs or pasted UIDs.

    ``multiple``: a list of distinct objects in the order chosen; else one object (or None).
    ``uploads``: also take ``upload:<token>`` references (left as strings for the caller to
    resolve against the user's own inspection files)."""

    def __init__(self, level: PickLevel | str, *, multiple: bool = False,
                 uploads: bool = False, **kwargs: Any) -> None:
        self.level, self.multiple = PickLevel(level), multiple
        self.allow_uploads = uploads
        kwargs.setdefault("widget", PickerWidget(self.level, multiple,
                                                 uploads={} if uploads else None))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[Any]:
        refs = split_refs(value if isinstance(value, list | tuple) else [value])
        if len(refs) > MAX_REFS:
            raise forms.ValidationError(
                f"At most {MAX_REFS} {self.level.plural} at a time ({len(refs)} given); "
                "choose a study or series instead.", "too_many")
        found: list[Any] = []
        errors: list[forms.ValidationError] = []
        for ref in refs:
            if self.allow_uploads and ref.startswith(UPLOAD_PREFIX):
                found.append(ref)
                continue
            try:
                obj = resolve(self.level, ref)
            except forms.ValidationError as exc:
                errors.append(exc)
            else:
                if obj not in found:
                    found.append(obj)
        if errors:
            raise forms.ValidationError(errors)
        return found

    def clean(self, value: Any) -> Any:
        found = self.to_python(value)
        if self.required and not found:
            raise forms.ValidationError(self.error_messages["required"], "required")
        if self.multiple:
            return found
        if len(found) > 1:
            raise forms.ValidationError(
                f"Choose one {self.level.value} ({len(found)} given).", "too_many")
        return found[0] if found else None

    def has_changed(self, initial: Any, data: Any) -> bool:
        return split_refs([initial] if not isinstance(initial, list) else initial) != \
            split_refs(data or [])
