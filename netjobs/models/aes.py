"""Application Entities: the console's own (local) AEs and the peers it talks to (remote)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
)
from django.db import models
from django.db.models import Q
from django.urls import reverse

from netjobs.validators import normalize_ae_title, validate_ae_title, validate_host


class AEKind(models.TextChoices):
    LOCAL = "local", "Local (this console)"
    REMOTE = "remote", "Remote peer"


class ApplicationEntity(models.Model):
    kind = models.CharField(max_length=10, choices=AEKind.choices, default=AEKind.REMOTE)
    ae_title = models.CharField(
        "AE title",
        max_length=16,
        validators=[validate_ae_title],
        help_text="1–16 characters, no backslash or control characters.",
    )
    host = models.CharField(
        max_length=255,
        validators=[validate_host],
        help_text="Host name or IP address. For a local AE: the address peers use to reach it.",
    )
    port = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(65535)], help_text="TCP port, 1–65535."
    )
    description = models.CharField(
        max_length=200, blank=True, validators=[ProhibitNullCharactersValidator()]
    )
    max_pdu = models.PositiveIntegerField(
        "max PDU length",
        default=131072,
        validators=[MaxValueValidator(2**32 - 1)],
        help_text="Largest PDU this console accepts on associations with this AE (0 = unlimited).",
    )
    connect_timeout = models.PositiveIntegerField(
        "connection timeout (s)", default=10, validators=[MinValueValidator(1)]
    )
    acse_timeout = models.PositiveIntegerField(
        "association timeout (s)", default=30, validators=[MinValueValidator(1)]
    )
    dimse_timeout = models.PositiveIntegerField(
        "DIMSE timeout (s)", default=60, validators=[MinValueValidator(1)]
    )
    network_timeout = models.PositiveIntegerField(
        "network timeout (s)", default=60, validators=[MinValueValidator(1)]
    )
    accepts_move_destination = models.BooleanField(
        "accepts C-MOVE destination",
        default=False,
        help_text="This AE may be named as the destination of a C-MOVE.",
    )
    tls_enabled = models.BooleanField("use TLS", default=False)
    tls_ca_file = models.CharField(
        "TLS CA certificates",
        max_length=500,
        blank=True,
        validators=[ProhibitNullCharactersValidator()],
        help_text="PEM file of trusted CA certificates (under an allowed TLS folder). "
        "Empty: the system's trust store.",
    )
    tls_cert_file = models.CharField(
        "TLS certificate",
        max_length=500,
        blank=True,
        validators=[ProhibitNullCharactersValidator()],
        help_text="PEM certificate to present.",
    )
    tls_key_file = models.CharField(
        "TLS private key",
        max_length=500,
        blank=True,
        validators=[ProhibitNullCharactersValidator()],
        help_text="PEM key of that certificate.",
    )
    tls_verify_peer = models.BooleanField(
        "verify peer certificate",
        default=True,
        help_text="Check the peer's certificate chain and host name.",
    )
    identity_username = models.CharField(
        "user identity: username", max_length=200, blank=True,
        validators=[ProhibitNullCharactersValidator()],
        help_text="Sent in the association request (PS3.7 D.3.3.7) when set.",
    )
    identity_password = models.CharField(
        "user identity: password", max_length=200, blank=True,
        help_text="With the username: username and passcode. Never shown again.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "ae_title", "host", "port"]
        verbose_name = "application entity"
        verbose_name_plural = "application entities"
        constraints = [
            models.UniqueConstraint(
                fields=["ae_title", "host", "port"],
                name="ae_unique_title_host_port",
                violation_error_message="An AE with this AE title, host and port already exists.",
            ),
            models.UniqueConstraint(
                fields=["ae_title"],
                condition=Q(kind="local"),
                name="ae_unique_local_title",
                violation_error_message="A local AE with this AE title already exists.",
            ),
            models.CheckConstraint(
                condition=Q(port__gte=1) & Q(port__lte=65535),
                name="ae_port_range",
                violation_error_message="The port must be between 1 and 65535.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"

    def get_absolute_url(self) -> str:
        return reverse("netjobs:ae_detail", args=[self.pk])

    def clean(self) -> None:
        self.ae_title = normalize_ae_title(self.ae_title or "")
        self.host = (self.host or "").strip()
        if self.tls_enabled:
            from netjobs.dicom.tls import resolve_tls_file

            errors: dict[str, list[ValidationError]] = {}
            for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
                value = getattr(self, name)
                if value:
                    try:
                        resolve_tls_file(value)
                    except ValidationError as exc:
                        errors[name] = [exc]
            if bool(self.tls_cert_file) != bool(self.tls_key_file):
                errors.setdefault("tls_key_file", []).append(
                    ValidationError("Give both a certificate and its key, or neither.")
                )
            if errors:
                raise ValidationError(errors)

    @property
    def is_remote(self) -> bool:
        return self.kind == AEKind.REMOTE
