"""Per-item results of a job: each file imported, instance sent, or object checked."""

from django.db import models
from django.utils import timezone

from netjobs.models.jobs import Job


class ItemOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    WARNING = "warning", "Warning"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class JobItem(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    at = models.DateTimeField(default=timezone.now)
    name = models.CharField(max_length=512, help_text="File name, path or SOP Instance UID")
    outcome = models.CharField(max_length=10, choices=ItemOutcome.choices)
    message = models.TextField(blank=True)
    status = models.PositiveIntegerField(null=True, blank=True, help_text="DIMSE status")
    sop_instance_uid = models.CharField(max_length=64, blank=True)
    input_bytes = models.BigIntegerField(null=True, blank=True, help_text="Size read")
    output_bytes = models.BigIntegerField(null=True, blank=True, help_text="Size written")

    class Meta:
        ordering = ["job", "pk"]
        indexes = [models.Index(fields=["job", "outcome"])]

    def __str__(self) -> str:
        return f"{self.outcome} {self.name}"
