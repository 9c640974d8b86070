"""The archive index: Patient → Study → Series → Instance, with the keys operators search
and the network services match on. Files live under STORAGE_ROOT (see archive.storage)."""

from django.db import models
from django.urls import reverse

# the de-identification projects and pseudonyms, and the media built, are archive models too
from archive.deid.models import DeidProject, Pseudonym, PseudonymOrigin  # noqa: F401
from archive.media.models import Medium, MediumFormat  # noqa: F401


class InstanceSource(models.TextChoices):
    UPLOAD = "upload", "Browser upload"
    PATH_IMPORT = "path", "Server path import"
    DICOM = "dicom", "Received from an AE"
    DICOMWEB = "dicomweb", "Received over DICOMweb"
    CONVERSION = "conversion", "Converted by a job"
    CREATED = "created", "Created by a job"
    EDIT = "edit", "Edited by a job"
    DEIDENTIFIED = "deid", "De-identified by a job"
    REIDENTIFIED = "reid", "Re-identified by a job"


class DuplicatePolicy(models.TextChoices):
    KEEP_FIRST = "keep", "Keep the first copy"
    REPLACE = "replace", "Replace with the new copy"
    REJECT = "reject", "Reject the new copy as an error"


class Patient(models.Model):
    patient_id = models.CharField("Patient ID", max_length=64, blank=True, db_index=True)
    issuer_of_patient_id = models.CharField(max_length=64, blank=True)
    patient_name = models.CharField(max_length=324, blank=True)
    # Upper-cased name for case-insensitive (wildcard) matching.
    patient_name_search = models.CharField(max_length=324, blank=True, db_index=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient_id", "issuer_of_patient_id"], name="patient_unique_id_issuer"
            )
        ]
        ordering = ["patient_name", "patient_id"]

    def __str__(self) -> str:
        return f"{self.patient_name or '(no name)'} [{self.patient_id}]"

    @property
    def title(self) -> str:
        """The patient as a person reads it: name and ID, or whichever of them exists."""
        name = self.patient_name.strip()
        if name and self.patient_id:
            return f"{name} · {self.patient_id}"
        if name:
            return name
        return f"Patient ID {self.patient_id}" if self.patient_id else "Patient without name or ID"


class Study(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="studies")
    study_instance_uid = models.CharField("Study Instance UID", max_length=64, unique=True)
    study_date = models.DateField(null=True, blank=True, db_index=True)
    study_time = models.TimeField(null=True, blank=True)
    accession_number = models.CharField(max_length=64, blank=True, db_index=True)
    study_id = models.CharField("Study ID", max_length=16, blank=True)
    study_description = models.CharField(max_length=256, blank=True)
    referring_physician_name = models.CharField(max_length=324, blank=True)
    modalities_in_study = models.CharField(
        max_length=128, blank=True, help_text="Backslash-separated, as in the DICOM attribute"
    )
    number_of_series = models.PositiveIntegerField(default=0)
    number_of_instances = models.PositiveIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-study_date", "-study_time", "-pk"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return f"{self.study_date or '?'} {self.study_description or self.study_instance_uid}"

    def get_absolute_url(self) -> str:
        return reverse("archive:study_detail", args=[self.pk])

    @property
    def modalities(self) -> list[str]:
        return [m for m in self.modalities_in_study.split("\\") if m]

    @property
    def title(self) -> str:
        """Date, description (or modalities, accession, Study ID) — what tells studies apart."""
        date = self.study_date.isoformat() if self.study_date else "undated"
        return f"{date} · {self.identity}"

    @property
    def identity(self) -> str:
        """The description, or else modalities, accession or Study ID (the title without its
        date, for lists that show the date in a column of its own)."""
        if self.study_description:
            return self.study_description
        parts = []
        if self.modalities:
            parts.append("/".join(self.modalities))
        if self.accession_number:
            parts.append(f"accession {self.accession_number}")
        elif self.study_id:
            parts.append(f"Study ID {self.study_id}")
        elif not self.modalities:
            parts.append(f"UID …{self.study_instance_uid[-12:]}")
        return " · ".join(parts)


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField("Series Instance UID", max_length=64, unique=True)
    modality = models.CharField(max_length=16, blank=True, db_index=True)
    series_number = models.IntegerField(null=True, blank=True)
    series_description = models.CharField(max_length=256, blank=True)
    body_part_examined = models.CharField(max_length=64, blank=True)
    number_of_instances = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series_number", "pk"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"{self.modality} #{self.series_number} {self.series_description}".strip()

    def get_absolute_url(self) -> str:
        return reverse("archive:series_detail", args=[self.pk])

    @property
    def title(self) -> str:
        """Series number, modality and description (or body part): "Series 3 · MR · T1 AX"."""
        number = f"Series {self.series_number}" if self.series_number is not None else "Series"
        parts = [number, self.modality or "no modality"]
        if self.series_description or self.body_part_examined:
            parts.append(self.series_description or self.body_part_examined)
        return " · ".join(parts)


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField("SOP Instance UID", max_length=64, unique=True)
    sop_class_uid = models.CharField("SOP Class UID", max_length=64, db_index=True)
    instance_number = models.IntegerField(null=True, blank=True)
    transfer_syntax_uid = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(null=True, blank=True)
    specific_character_set = models.CharField(max_length=128, blank=True)
    warnings = models.TextField(blank=True, help_text="Problems met while indexing the file")
    file_path = models.CharField(max_length=512, help_text="Relative to STORAGE_ROOT")
    file_size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    source = models.CharField(max_length=10, choices=InstanceSource.choices)
    source_detail = models.CharField(
        max_length=512, blank=True, help_text="Calling AE title, file name or path"
    )
    source_job = models.ForeignKey(
        "netjobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="instances"
    )
    received_association = models.ForeignKey(
        "netjobs.Association", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="received_instances",
        help_text="The inbound association a listener received this instance on",
    )
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived",
        help_text="The archived instance this one was converted from (transcode, split)",
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["instance_number", "pk"]

    def __str__(self) -> str:
        return f"#{self.instance_number} {self.sop_instance_uid}"

    def get_absolute_url(self) -> str:
        return reverse("archive:instance_detail", args=[self.pk])

    @property
    def title(self) -> str:
        """Instance number and SOP class: "Instance 12 · CT Image Storage"."""
        if self.instance_number is None:
            return f"Instance · {self.sop_class_name}"
        return f"Instance {self.instance_number} · {self.sop_class_name}"

    @property
    def sop_class_name(self) -> str:
        from netjobs.models.associations import uid_name

        return uid_name(self.sop_class_uid)

    @property
    def transfer_syntax_name(self) -> str:
        from netjobs.models.associations import uid_name

        return uid_name(self.transfer_syntax_uid)


class AttributeEdit(models.Model):
    """One instance's edit: which attributes changed, from what to what, by whom and when
    (the before/after record the instance and study pages show)."""

    job = models.ForeignKey("netjobs.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="attribute_edits")
    user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="Kept if the user goes")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    instance = models.ForeignKey(Instance, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="edits", help_text="The instance as edited")
    study = models.ForeignKey(Study, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="edits", help_text="The study it is in after the edit")
    sop_instance_uid_before = models.CharField(max_length=64, db_index=True)
    sop_instance_uid_after = models.CharField(max_length=64, db_index=True)
    originals_kept = models.BooleanField(default=False,
                                         help_text="The edit made a copy; the original stays")
    changes = models.JSONField(default=list, help_text="[{path, tag, keyword, action, old, new}]")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"edit of {self.sop_instance_uid_before} ({len(self.changes)} change(s))"
