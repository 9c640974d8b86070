"""DICOMweb endpoints: the remote servers (PACS, VNA, Orthanc, another console) the console
searches, retrieves from and stores to over QIDO-RS, WADO-RS and STOW-RS."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from netjobs.validators import validate_host


class EndpointAuth(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "HTTP Basic (username and password)"
    BEARER = "bearer", "Bearer token"


def validate_base_url(value: str) -> None:
    """An http(s) URL without query or fragment, its host a host name (one label, like
    ``pacs``, is fine in a hospital network) or an IPv4/IPv6 address."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("Enter a URL starting with http:// or https://.",
                              code="url_scheme")
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        raise ValidationError("The port of the URL is not a number from 1 to 65535.",
                              code="url_port") from exc
    if parts.query or parts.fragment:
        raise ValidationError("The base URL has no query (?…) or fragment (#…).",
                              code="url_query")
    if parts.username or parts.password:
        raise ValidationError("Put credentials in the authentication fields, not the URL.",
                              code="url_credentials")
    validate_host((parts.hostname or "").strip("[]"))


class DicomwebEndpoint(models.Model):
    name = models.SlugField(
        max_length=64, unique=True,
        help_text="Short name used in job forms and the API (letters, digits, - and _).")
    base_url = models.CharField(
        "base URL", max_length=500, validators=[validate_base_url],
        help_text="The service root, e.g. http://pacs:8042/dicom-web or "
                  "https://vna.example.org/dcm4chee-arc/aets/DCM4CHEE/rs.")
    description = models.CharField(max_length=200, blank=True)
    auth = models.CharField("authentication", max_length=10, choices=EndpointAuth.choices,
                            default=EndpointAuth.NONE)
    username = models.CharField(max_length=200, blank=True)
    password = models.CharField(
        max_length=500, blank=True, help_text="For HTTP Basic. Never shown again.")
    token = models.CharField(
        "bearer token", max_length=4000, blank=True,
        help_text="Sent as 'Authorization: Bearer …'. Never shown again.")
    verify_tls = models.BooleanField(
        "verify TLS certificate", default=True,
        help_text="Check the server's certificate chain and host name (https only).")
    tls_ca_file = models.CharField(
        "TLS CA certificates", max_length=500, blank=True,
        help_text="PEM file of trusted CAs (under an allowed TLS folder). Empty: the "
                  "system's trust store.")
    connect_timeout = models.PositiveIntegerField(
        "connection timeout (s)", default=10,
        validators=[MinValueValidator(1), MaxValueValidator(600)])
    read_timeout = models.PositiveIntegerField(
        "read timeout (s)", default=120,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Longest wait for the next bytes of an answer.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "DICOMweb endpoint"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("netjobs:endpoint_detail", args=[self.pk])

    @property
    def root(self) -> str:
        """The base URL without a trailing slash."""
        return self.base_url.rstrip("/")

    def clean(self) -> None:
        self.base_url = (self.base_url or "").strip()
        errors: dict[str, list[ValidationError]] = {}
        if self.auth == EndpointAuth.BASIC and not self.username:
            errors["username"] = [ValidationError("HTTP Basic needs a username.")]
        if self.auth == EndpointAuth.BEARER and not self.token:
            errors["token"] = [ValidationError("Give the bearer token.")]
        if self.tls_ca_file:
            from netjobs.dicom.tls import resolve_tls_file

            try:
                resolve_tls_file(self.tls_ca_file)
            except ValidationError as exc:
                errors["tls_ca_file"] = [exc]
        if errors:
            raise ValidationError(errors)
