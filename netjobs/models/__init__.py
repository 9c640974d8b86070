"""Models of the network side: Application Entities, the job history and association records."""

from netjobs.models.aes import AEKind, ApplicationEntity
from netjobs.models.associations import (
    AbortSource,
    Association,
    AssociationOutcome,
    AssociationRole,
    ContextResult,
    DimseDirection,
    DimseMessage,
    PresentationContext,
)
from netjobs.models.items import ItemOutcome, JobItem
from netjobs.models.jobs import Job, JobLogEntry, JobStatus, LogLevel
from netjobs.models.listeners import CallingPolicy, DesiredState, Listener, ListenerStatus

__all__ = [
    "AEKind",
    "AbortSource",
    "ApplicationEntity",
    "Association",
    "AssociationOutcome",
    "AssociationRole",
    "CallingPolicy",
    "ContextResult",
    "DesiredState",
    "DimseDirection",
    "DimseMessage",
    "ItemOutcome",
    "Job",
    "JobItem",
    "JobLogEntry",
    "JobStatus",
    "Listener",
    "ListenerStatus",
    "LogLevel",
    "PresentationContext",
]
