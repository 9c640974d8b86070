"""Forms of the network pages."""


from django import forms

from netjobs.models import ApplicationEntity

AE_FIELDSETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Identity", ("kind", "ae_title", "host", "port", "description")),
    (
        "Association",
        (
            "max_pdu",
            "connect_timeout",
            "acse_timeout",
            "dimse_timeout",
            "network_timeout",
            "accepts_move_destination",
        ),
    ),
    ("TLS", ("tls_enabled", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_verify_peer")),
    ("User identity", ("identity_username", "identity_password")),
)


class MarkedInvalidForm(forms.ModelForm):
    """A model form whose fields with errors carry aria-invalid (styled and announced)."""

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"


class AEForm(MarkedInvalidForm):
    class Meta:
        model = ApplicationEntity
        fields = [name for _, names in AE_FIELDSETS for name in names]
        widgets = {"ae_title": forms.TextInput(attrs={"autocomplete": "off", "maxlength": 16}),
                   "identity_password": forms.PasswordInput(render_value=False,
                                                            attrs={"autocomplete": "off"})}

    def clean_identity_password(self) -> str:
        """Left empty on an edit: the stored password stays (it is never shown again)."""
        value: str = self.cleaned_data.get("identity_password") or ""
        if not value and self.instance.pk and self.data.get("identity_username"):
            return self.instance.identity_password
        return value

    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in AE_FIELDSETS]
