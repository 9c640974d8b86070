"""The media the console built (mkmedia jobs): where each one is, its File-set ID and
profile, its size and what it holds, kept up to date by the jobs that change it."""

from __future__ import annotations

from pathlib import Path

from django.db import models
from django.urls import reverse


class MediumFormat(models.TextChoices):
    FOLDER = "folder", "A folder under an export root"
    ZIP = "zip", "A ZIP download"
    ISO = "iso", "An ISO 9660 image"


class Medium(models.Model):
    job = models.ForeignKey("netjobs.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="media", help_text="The mkmedia job that built it")
    last_job = models.ForeignKey(
        "netjobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The last job that changed it (update, delete, compact)")
    format = models.CharField(max_length=8, choices=MediumFormat.choices)
    location = models.CharField(max_length=1024,
                                help_text="The File-set folder, or the ZIP or ISO file")
    fileset_id = models.CharField("File-set ID", max_length=16, blank=True)
    profile = models.CharField(max_length=40, help_text="The media application profile")
    size_bytes = models.BigIntegerField(default=0)
    dicomdir_bytes = models.PositiveIntegerField(default=0)
    patients = models.PositiveIntegerField(default=0)
    studies = models.PositiveIntegerField(default=0)
    series = models.PositiveIntegerField(default=0)
    instances = models.PositiveIntegerField(default=0)
    contents = models.JSONField(default=list, blank=True,
                                help_text="Its studies: patient, date, description, count")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        app_label = "archive"
        verbose_name_plural = "media"

    def __str__(self) -> str:
        return self.fileset_id or f"medium {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("media:medium_detail", args=[self.pk])

    @property
    def path(self) -> Path:
        return Path(self.location)

    @property
    def is_present(self) -> bool:
        """Still on disk (a ZIP or ISO goes with its job's results after the retention time;
        a folder may have been removed by hand)."""
        path = self.path
        return path.is_dir() if self.format == MediumFormat.FOLDER else path.is_file()
