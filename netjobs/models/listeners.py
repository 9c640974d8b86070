"""DICOM listeners (SCPs) the console offers, hosted by the listener worker."""

from __future__ import annotations

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
        "Query/Retrieve C-FIND", default=True,
        help_text="Patient Root and Study Root C-FIND over the archive.",
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
