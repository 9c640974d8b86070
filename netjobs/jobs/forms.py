"""Forms of the job kinds: what an operator fills in on /jobs/new/<kind>/."""

from __future__ import annotations

from typing import Any

from django import forms

from netjobs.models import AEKind, ApplicationEntity

# How the job form is laid out: fields by name in fieldsets; every other field is "What".
PEER_FIELDS = ("ae", "calling_ae", "destination", "retrieve_listener", "endpoint")
OPTION_FIELDS = ("repeat", "interval", "timeout", "associations", "decompress", "duplicates",
                 "report_on", "move_test", "transfer_syntaxes", "max_matches", "batch_size",
                 "transfer_syntax", "fuzzymatching", "includefield", "into_study")
SECONDS_FIELDS = ("interval", "timeout")  # their label gets the unit "(s)"


class JobForm(forms.Form):
    """A kind's form. ``params()`` turns the cleaned data into the job's parameters, which
    the kind's schema validates again (so the API and the page accept the same things)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECONDS_FIELDS:
            field = self.fields.get(name)
            if field is None:
                continue
            text = str(field.label or name.replace("_", " ").capitalize())
            if not text.endswith("(s)"):
                field.label = f"{text} (s)"
            field.widget.attrs.setdefault("step", "any")
            field.widget.attrs.setdefault("inputmode", "decimal")

    def params(self) -> dict[str, Any]:
        raise NotImplementedError

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        """(legend, fields) for the template: the peer, what the job works on, options."""
        groups: dict[str, list[forms.BoundField]] = {"Peer": [], "What": [], "Options": []}
        for bound in self.visible_fields():
            group = ("Peer" if bound.name in PEER_FIELDS else
                     "Options" if bound.name in OPTION_FIELDS else "What")
            groups[group].append(bound)
        return [(legend, fields) for legend, fields in groups.items() if fields]

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"


def remote_ae_field(label: str = "Remote AE", **kwargs: Any) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        ApplicationEntity.objects.filter(kind=AEKind.REMOTE).order_by("ae_title"),
        label=label, empty_label="— choose a remote AE —", **kwargs)


def local_ae_field(**kwargs: Any) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        ApplicationEntity.objects.filter(kind=AEKind.LOCAL).order_by("ae_title"),
        label="Calling AE", required=False, empty_label="the console's AE title",
        help_text="Local AE to call from (default: the console's AE title).", **kwargs)
