"""Forms of the job kinds: what an operator fills in on /jobs/new/<kind>/."""

from __future__ import annotations

from typing import Any

from django import forms

from netjobs.models import AEKind, ApplicationEntity


class JobForm(forms.Form):
    """A kind's form. ``params()`` turns the cleaned data into the job's parameters, which
    the kind's schema validates again (so the API and the page accept the same things)."""

    def params(self) -> dict[str, Any]:
        raise NotImplementedError

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"


def remote_ae_field(label: str = "Remote AE", **kwargs: Any) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        ApplicationEntity.objects.filter(kind=AEKind.REMOTE).order_by("ae_title"),
        label=label, **kwargs)


def local_ae_field(**kwargs: Any) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        ApplicationEntity.objects.filter(kind=AEKind.LOCAL).order_by("ae_title"),
        label="Calling AE", required=False,
        help_text="Local AE to call from (default: the console's AE title).", **kwargs)
