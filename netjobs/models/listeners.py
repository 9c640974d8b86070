"""DICOM listeners (SCPs) the console offers, hosted by the listener worker."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from netjobs.validators import validate_ae_title, validate_host


class ListenerStatus(models.TextChoices):
    STOPPED = "stopped", "Stopped"
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    FAILED = "failed", "Failed"


class DesiredState(models.TextChoices):
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"


class CallingPolicy(models.TextChoices):
    ANY = "any", "Any calling AE title"
    KNOWN = "known", "Only configured remote AEs"


class Listener(models.Model):
    name = models.CharField(max_length=100, unique=True)
    ae_title = models.CharField("AE title", max_length=16, validators=[validate_ae_title])
    bind_address = models.CharField(
        max_length=255, default="127.0.0.1", validators=[validate_host],
        help_text="Address to listen on (0.0.0.0 or :: for every interface).",
    )
    port = models.PositiveIntegerField(validators=[MinValueValidator(1),
                                                   MaxValueValidator(65535)])
    verification = models.BooleanField("Verification (C-ECHO)", default=True)
    storage = models.BooleanField("Storage (C-STORE)", default=True)
    query_retrieve = models.BooleanField(
        "Query/Retrieve (C-FIND, C-MOVE, C-GET)", default=True,
        help_text="Patient Root and Study Root query and retrieve over the archive.",
    )
    mpps = models.BooleanField(
        "Modality Performed Procedure Step", default=False,
        help_text="N-CREATE and N-SET of performed procedure steps.",
    )
    instance_availability = models.BooleanField(
        "Instance Availability Notification", default=False,
        help_text="N-CREATE of availability notifications.",
    )
    storage_commitment = models.BooleanField(
        "Storage Commitment (push model)", default=False,
        help_text="N-ACTION requests answered by an N-EVENT-REPORT.",
    )
    transfer_syntaxes = models.JSONField(
        default=dict, blank=True,
        help_text="Accepted transfer syntax UIDs per service; a service not listed takes "
                  "the defaults.",
    )
    tls_enabled = models.BooleanField("use TLS", default=False)
    tls_cert_file = models.CharField(
        "TLS certificate", max_length=500, blank=True,
        help_text="PEM certificate this listener presents (under an allowed TLS folder).",
    )
    tls_key_file = models.CharField("TLS private key", max_length=500, blank=True,
                                    help_text="PEM key of that certificate.")
    tls_ca_file = models.CharField(
        "TLS client CA certificates", max_length=500, blank=True,
        help_text="PEM file of the CAs whose client certificates are trusted.",
    )
    tls_require_client_certificate = models.BooleanField(
        "require a client certificate", default=False,
        help_text="Refuse TLS connections without a client certificate signed by those CAs.",
    )
    accept_private_sop_classes = models.BooleanField(
        default=False, help_text="Also accept storage SOP classes that are not in the standard."
    )
    calling_policy = models.CharField(max_length=8, choices=CallingPolicy.choices,
                                      default=CallingPolicy.ANY)
    require_called_ae_title = models.BooleanField(
        "called AE title must match", default=True,
        help_text="Reject associations addressed to another AE title.",
    )
    duplicate_policy = models.CharField(max_length=8, default="keep",
                                        choices=[("keep", "Keep the first copy"),
                                                 ("replace", "Replace with the new copy"),
                                                 ("reject", "Reject the new copy")])
    max_associations = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    max_pdu = models.PositiveIntegerField("max PDU length", default=131072)
    acse_timeout = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    dimse_timeout = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    network_timeout = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    enabled = models.BooleanField(default=True, help_text="Start with the listener worker.")
    desired_state = models.CharField(max_length=8, choices=DesiredState.choices,
                                     default=DesiredState.RUNNING)
    restart_requested_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ListenerStatus.choices,
                              default=ListenerStatus.STOPPED)
    last_error = models.TextField(blank=True)
    bound_address = models.CharField(max_length=300, blank=True)
    owner = models.CharField(max_length=200, blank=True, help_text="Worker hosting it")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["bind_address", "port"],
                                    name="listener_unique_address_port",
                                    violation_error_message="Another listener uses this "
                                                            "address and port."),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title} on {self.bind_address}:{self.port})"

    def get_absolute_url(self) -> str:
        return reverse("netjobs:listener_detail", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, list[ValidationError]] = {}
        if self.tls_enabled:
            from netjobs.dicom.tls import resolve_tls_file

            for name in ("tls_cert_file", "tls_key_file", "tls_ca_file"):
                value = getattr(self, name)
                if value:
                    try:
                        resolve_tls_file(value)
                    except ValidationError as exc:
                        errors.setdefault(name, []).append(exc)
            for name in ("tls_cert_file", "tls_key_file"):
                if not getattr(self, name):
                    errors.setdefault(name, []).append(
                        ValidationError("A TLS listener needs its certificate and key."))
            if self.tls_require_client_certificate and not self.tls_ca_file:
                errors.setdefault("tls_ca_file", []).append(ValidationError(
                    "Give the CA certificates that client certificates must be signed by."))
        problem = transfer_syntaxes_problem(self.transfer_syntaxes)
        if problem:
            errors.setdefault("transfer_syntaxes", []).append(ValidationError(problem))
        if errors:
            raise ValidationError(errors)


def transfer_syntaxes_problem(value: object) -> str:
    """What is wrong with a per-service transfer syntax setting, or an empty string."""
    from pydicom.uid import AllTransferSyntaxes

    services = {"verification", "storage", "query_retrieve", "mpps", "instance_availability",
                "storage_commitment"}
    known = {str(uid) for uid in AllTransferSyntaxes}
    if not isinstance(value, dict):
        return "Expected an object: service name to a list of transfer syntax UIDs."
    for service, uids in value.items():
        if service not in services:
            return f"Unknown service {service!r} (one of: {', '.join(sorted(services))})."
        if not isinstance(uids, list) or not uids:
            return f"{service}: give a non-empty list of transfer syntax UIDs."
        unknown = [uid for uid in uids if uid not in known]
        if unknown:
            return f"{service}: unknown transfer syntax UID(s) {', '.join(map(str, unknown))}."
    return ""
