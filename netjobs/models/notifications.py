"""What peers tell a listener: performed procedure steps (MPPS), instance availability
notifications (IAN) and storage commitment requests with their reports."""

from __future__ import annotations

from django.db import models

from netjobs.models.associations import Association
from netjobs.models.listeners import Listener


class PerformedProcedureStepStatus(models.TextChoices):
    """(0040,0252) Performed Procedure Step Status (PS3.3 C.4.14)."""

    IN_PROGRESS = "IN PROGRESS", "In progress"
    COMPLETED = "COMPLETED", "Completed"
    DISCONTINUED = "DISCONTINUED", "Discontinued"


class PerformedProcedureStep(models.Model):
    """One Modality Performed Procedure Step SOP instance, created by N-CREATE and updated
    by N-SET."""

    sop_instance_uid = models.CharField("SOP Instance UID", max_length=64, unique=True)
    listener = models.ForeignKey(Listener, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="performed_procedure_steps")
    calling_ae_title = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=12, choices=PerformedProcedureStepStatus.choices)
    patient_id = models.CharField(max_length=64, blank=True, db_index=True)
    patient_name = models.CharField(max_length=200, blank=True)
    modality = models.CharField(max_length=16, blank=True)
    procedure_step_id = models.CharField("performed procedure step ID", max_length=16,
                                         blank=True)
    description = models.CharField(max_length=200, blank=True)
    station_ae_title = models.CharField("performed station AE title", max_length=16,
                                        blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    study_instance_uids = models.JSONField(default=list, blank=True)
    accession_numbers = models.JSONField(default=list, blank=True)
    dataset = models.JSONField(default=dict, blank=True,
                               help_text="The step's attributes as DICOM JSON")
    events = models.JSONField(default=list, blank=True,
                              help_text="N-CREATE and N-SET requests received, in order")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "performed procedure step"

    def __str__(self) -> str:
        return f"MPPS {self.sop_instance_uid} ({self.status})"


class AvailabilityNotification(models.Model):
    """One Instance Availability Notification received by N-CREATE."""

    sop_instance_uid = models.CharField("SOP Instance UID", max_length=64, unique=True)
    listener = models.ForeignKey(Listener, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="availability_notifications")
    calling_ae_title = models.CharField(max_length=16, blank=True)
    study_instance_uids = models.JSONField(default=list, blank=True)
    accession_numbers = models.JSONField(default=list, blank=True)
    instances = models.JSONField(
        default=list, blank=True,
        help_text="Referenced instances: series, SOP class and instance, availability, "
                  "retrieve AE titles",
    )
    instance_count = models.PositiveIntegerField(default=0)
    dataset = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"IAN {self.sop_instance_uid}"


class CommitmentStatus(models.TextChoices):
    PENDING = "pending", "Checking"
    REPORTED = "reported", "Report sent"
    REPORT_FAILED = "report_failed", "Report could not be sent"


class ReportRoute(models.TextChoices):
    SAME_ASSOCIATION = "same", "On the request's association"
    NEW_ASSOCIATION = "new", "On a new association to the requester"


class CommitmentRequest(models.Model):
    """A Storage Commitment Push Model N-ACTION received, and the N-EVENT-REPORT sent."""

    transaction_uid = models.CharField("Transaction UID", max_length=64, db_index=True)
    listener = models.ForeignKey(Listener, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="commitment_requests")
    calling_ae_title = models.CharField(max_length=16, blank=True)
    references = models.JSONField(default=list, blank=True,
                                  help_text="Referenced SOP class and instance UIDs")
    committed = models.JSONField(default=list, blank=True)
    failed = models.JSONField(default=list, blank=True,
                              help_text="With the failure reason of each")
    status = models.CharField(max_length=14, choices=CommitmentStatus.choices,
                              default=CommitmentStatus.PENDING)
    route = models.CharField(max_length=4, choices=ReportRoute.choices, blank=True)
    report_record = models.ForeignKey(Association, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+",
                                      help_text="The association that carried the report")
    report_status = models.PositiveIntegerField(null=True, blank=True,
                                                help_text="DIMSE status of the report")
    report_error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Storage commitment {self.transaction_uid}"
