"""Records of DICOM associations: negotiation, DIMSE traffic, and how each one ended."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.db import models
from pydicom.uid import UID

from netjobs.models.jobs import Job


class AssociationRole(models.TextChoices):
    REQUESTOR = "requestor", "Outbound (console called the peer)"
    ACCEPTOR = "acceptor", "Inbound (peer called the console)"


class AssociationOutcome(models.TextChoices):
    CONNECTING = "connecting", "Connecting"
    ESTABLISHED = "established", "Established"
    RELEASED = "released", "Released"
    REJECTED = "rejected", "Rejected"
    ABORTED = "aborted", "Aborted"
    CONNECTION_FAILED = "connection_failed", "Connection failed"


class AbortSource(models.TextChoices):
    LOCAL = "local", "This console"
    PEER = "peer", "The peer"
    NETWORK = "network", "The network (connection closed or timed out)"


class ContextResult(models.IntegerChoices):
    """Presentation context results, PS3.8 Table 9-18."""

    ACCEPTANCE = 0, "Accepted"
    USER_REJECTION = 1, "Rejected by the peer (user rejection)"
    NO_REASON = 2, "Rejected by the peer (no reason given)"
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3, "Abstract syntax not supported"
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4, "No proposed transfer syntax supported"


class DimseDirection(models.TextChoices):
    SENT = "sent", "Sent"
    RECEIVED = "received", "Received"


# A record with at least this many presentation contexts shows a summary that expands.
CONTEXT_SUMMARY_THRESHOLD = 100


@dataclass(frozen=True)
class ContextGroup:
    """Presentation contexts of one result and accepted transfer syntax, counted."""

    result: str
    accepted: bool
    transfer_syntax: str
    count: int


@dataclass(frozen=True)
class ContextSummary:
    total: int
    accepted: int
    rejected: int
    unanswered: int
    groups: list[ContextGroup]


def uid_name(uid: str) -> str:
    """The dictionary name of a UID, or the UID itself when unknown."""
    if not uid:
        return ""
    name = UID(uid).name
    return name if name and name != uid else uid


class Association(models.Model):
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="associations"
    )
    listener = models.ForeignKey(
        "netjobs.Listener", null=True, blank=True, on_delete=models.CASCADE,
        related_name="associations",
    )
    role = models.CharField(max_length=10, choices=AssociationRole.choices)
    outcome = models.CharField(
        max_length=20, choices=AssociationOutcome.choices, default=AssociationOutcome.CONNECTING
    )
    calling_ae_title = models.CharField(max_length=16)
    called_ae_title = models.CharField(max_length=16)
    peer_host = models.CharField(max_length=255)
    peer_port = models.PositiveIntegerField()
    tls = models.BooleanField(default=False)
    tcp_nodelay = models.BooleanField(null=True, help_text="TCP_NODELAY read back from the socket")
    local_max_pdu = models.PositiveIntegerField(null=True)
    peer_max_pdu = models.PositiveIntegerField(null=True)
    peer_implementation_class_uid = models.CharField(max_length=64, blank=True)
    peer_implementation_version_name = models.CharField(max_length=16, blank=True)
    rejection_result = models.PositiveSmallIntegerField(null=True)
    rejection_source = models.PositiveSmallIntegerField(null=True)
    rejection_reason = models.PositiveSmallIntegerField(null=True)
    rejection_text = models.CharField(max_length=300, blank=True)
    abort_source = models.CharField(max_length=10, choices=AbortSource.choices, blank=True)
    abort_reason = models.CharField(max_length=300, blank=True)
    explanation = models.TextField(
        blank=True, help_text="Plain-language cause and fix of a rejection, abort or failure"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    bytes_sent = models.BigIntegerField(default=0)
    bytes_received = models.BigIntegerField(default=0)
    dimse_messages_total = models.PositiveIntegerField(default=0)
    dimse_failures = models.PositiveIntegerField(
        default=0, help_text="DIMSE responses whose status is a failure"
    )

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [
            models.Index(fields=["-started_at", "-id"], name="association_started"),
            models.Index(fields=["listener", "-started_at", "-id"], name="association_listener"),
            models.Index(fields=["job", "-started_at", "-id"], name="association_job"),
            models.Index(fields=["role", "-started_at", "-id"], name="association_role"),
            models.Index(fields=["outcome", "-started_at", "-id"], name="association_outcome"),
            models.Index(fields=["calling_ae_title"], name="association_calling"),
            models.Index(fields=["called_ae_title"], name="association_called"),
        ]

    def __str__(self) -> str:
        return f"{self.calling_ae_title} → {self.called_ae_title}@{self.peer_host}:{self.peer_port}"

    @property
    def duration(self) -> timedelta | None:
        return None if self.ended_at is None else self.ended_at - self.started_at

    @property
    def bytes_total(self) -> int:
        return self.bytes_sent + self.bytes_received

    def context_summary(self) -> ContextSummary | None:
        """Counts by result and accepted transfer syntax when there are so many contexts that
        the full table is collapsed (``None`` otherwise)."""
        contexts = list(self.presentation_contexts.all())
        if len(contexts) < CONTEXT_SUMMARY_THRESHOLD:
            return None
        counts = Counter(
            ("No answer" if cx.result is None else cx.get_result_display(), cx.is_accepted,
             cx.accepted_transfer_syntax_name if cx.is_accepted else "")
            for cx in contexts)
        groups = [ContextGroup(result, accepted, syntax, n)
                  for (result, accepted, syntax), n in sorted(
                      counts.items(), key=lambda item: (not item[0][1], -item[1]))]
        accepted_count = sum(g.count for g in groups if g.accepted)
        unanswered = sum(1 for cx in contexts if cx.result is None)
        return ContextSummary(total=len(contexts), accepted=accepted_count,
                              rejected=len(contexts) - accepted_count - unanswered,
                              unanswered=unanswered, groups=groups)

    @property
    def is_failure(self) -> bool:
        return self.outcome in {
            AssociationOutcome.REJECTED,
            AssociationOutcome.ABORTED,
            AssociationOutcome.CONNECTION_FAILED,
        }


class PresentationContext(models.Model):
    association = models.ForeignKey(
        Association, on_delete=models.CASCADE, related_name="presentation_contexts"
    )
    context_id = models.PositiveSmallIntegerField()
    abstract_syntax = models.CharField(max_length=64)
    proposed_transfer_syntaxes = models.JSONField(default=list)
    result = models.PositiveSmallIntegerField(choices=ContextResult.choices, null=True)
    accepted_transfer_syntax = models.CharField(max_length=64, blank=True)
    scu_role = models.BooleanField(null=True)
    scp_role = models.BooleanField(null=True)

    class Meta:
        ordering = ["association", "context_id"]

    def __str__(self) -> str:
        return f"#{self.context_id} {self.abstract_syntax_name}"

    @property
    def abstract_syntax_name(self) -> str:
        return uid_name(self.abstract_syntax)

    @property
    def accepted_transfer_syntax_name(self) -> str:
        return uid_name(self.accepted_transfer_syntax)

    @property
    def proposed_transfer_syntax_names(self) -> list[str]:
        return [uid_name(uid) for uid in self.proposed_transfer_syntaxes]

    @property
    def is_accepted(self) -> bool:
        return self.result == ContextResult.ACCEPTANCE


class DimseMessage(models.Model):
    association = models.ForeignKey(
        Association, on_delete=models.CASCADE, related_name="dimse_messages"
    )
    at = models.DateTimeField()
    direction = models.CharField(max_length=8, choices=DimseDirection.choices)
    command = models.CharField(max_length=24, help_text="e.g. C-ECHO-RQ")
    message_id = models.PositiveIntegerField(null=True)
    context_id = models.PositiveSmallIntegerField(null=True)
    status = models.PositiveIntegerField(null=True)
    status_meaning = models.CharField(max_length=200, blank=True)
    affected_sop_class_uid = models.CharField(max_length=64, blank=True)
    affected_sop_instance_uid = models.CharField(max_length=64, blank=True)
    error_comment = models.CharField(
        max_length=1024, blank=True, help_text="Error Comment (0000,0902) of a response"
    )

    class Meta:
        ordering = ["association", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.direction} {self.command}"

    @property
    def status_hex(self) -> str:
        return "" if self.status is None else f"0x{self.status:04X}"
