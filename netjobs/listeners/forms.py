"""The listener form: its settings in fieldsets, with units, and one checkbox list of
accepted transfer syntaxes per service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django import forms

from netjobs.listeners.services import (
    ListenerService,
    accepted_syntaxes,
    default_syntaxes,
    syntax_choices,
)
from netjobs.models import Listener

# The model fields of the form, by fieldset (legend, field names, a line of help).
FIELDSETS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Identity", ("name", "ae_title", "enabled"), ""),
    ("Network", ("bind_address", "port", "calling_policy", "require_called_ae_title"),
     "Where the listener accepts associations, and from whom."),
    ("Services", ("verification", "storage", "query_retrieve", "mpps",
                  "instance_availability", "storage_commitment", "accept_private_sop_classes",
                  "duplicate_policy"),
     "The DICOM services offered to peers."),
    ("Security (TLS)", ("tls_enabled", "tls_cert_file", "tls_key_file", "tls_ca_file",
                        "tls_require_client_certificate"), ""),
    ("Limits", ("max_associations", "max_pdu", "acse_timeout", "dimse_timeout",
                "network_timeout"), ""),
)
FIELDS = [name for _, names, _ in FIELDSETS for name in names]
SYNTAXES_LEGEND = "Transfer syntaxes"

# Labels and help with units, where the model's are terse.
LABELS = {
    "accept_private_sop_classes": "Accept private SOP classes",
    "max_associations": "Simultaneous associations",
    "max_pdu": "Max PDU length (bytes)",
    "acse_timeout": "Association (ACSE) timeout (seconds)",
    "dimse_timeout": "DIMSE timeout (seconds)",
    "network_timeout": "Network timeout (seconds)",
}
HELP = {
    "max_associations": "Associations served at once; further peers are rejected.",
    "max_pdu": "Largest PDU the listener accepts from a peer, in bytes.",
    "acse_timeout": "Seconds to wait for association negotiation messages.",
    "dimse_timeout": "Seconds to wait for the peer's next DIMSE message.",
    "network_timeout": "Seconds of silence after which the connection is closed.",
    "port": "TCP port, 1 to 65535 (104 and 11112 are the usual DICOM ports).",
}


def syntax_field_name(service: ListenerService) -> str:
    return f"syntaxes_{service.value}"


@dataclass(frozen=True)
class Fieldset:
    legend: str
    help: str
    fields: list[forms.BoundField]


class ListenerForm(forms.ModelForm):
    """The listener's settings, with one transfer syntax list per service."""

    class Meta:
        model = Listener
        fields = FIELDS
        labels = LABELS
        help_texts = HELP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for service in ListenerService:
            self.fields[syntax_field_name(service)] = forms.MultipleChoiceField(
                label=f"{service.label}: accepted transfer syntaxes",
                choices=syntax_choices(), required=True,
                initial=accepted_syntaxes(self.instance, service),
                widget=forms.CheckboxSelectMultiple(attrs={"class": "syntax-choices"}),
                help_text="Default: "
                          + ("every syntax the archive can store."
                             if service == ListenerService.STORAGE
                             else "the uncompressed syntaxes."),
            )

    def fieldsets(self) -> Iterator[Fieldset]:
        for legend, names, text in FIELDSETS:
            yield Fieldset(legend, text, [self[name] for name in names])
        yield Fieldset(SYNTAXES_LEGEND, "What each service accepts; only a choice that "
                       "differs from the default is stored.",
                       [self[syntax_field_name(service)] for service in ListenerService])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chosen: dict[str, list[str]] = {}
        for service in ListenerService:
            uids = cleaned.get(syntax_field_name(service))
            if uids and sorted(uids) != sorted(default_syntaxes(service)):
                chosen[service.value] = list(uids)
        self.instance.transfer_syntaxes = chosen
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"
