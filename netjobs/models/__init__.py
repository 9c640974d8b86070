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
from netjobs.models.endpoints import DicomwebEndpoint, EndpointAuth
from netjobs.models.items import ItemOutcome, JobItem
from netjobs.models.jobs import Job, JobLogEntry, JobStatus, LogLevel
from netjobs.models.listeners import CallingPolicy, DesiredState, Listener, ListenerStatus
from netjobs.models.notifications import (
    AvailabilityNotification,
    CommitmentRequest,
    CommitmentStatus,
    PerformedProcedureStep,
    PerformedProcedureStepStatus,
    ReportRoute,
)

__all__ = [
    "AEKind",
    "AbortSource",
    "ApplicationEntity",
    "Association",
    "AssociationOutcome",
    "AssociationRole",
    "AvailabilityNotification",
    "CallingPolicy",
    "CommitmentRequest",
    "CommitmentStatus",
    "ContextResult",
    "DesiredState",
    "DicomwebEndpoint",
    "DimseDirection",
    "DimseMessage",
    "EndpointAuth",
    "ItemOutcome",
    "Job",
    "JobItem",
    "JobLogEntry",
    "JobStatus",
    "Listener",
    "ListenerStatus",
    "LogLevel",
    "PerformedProcedureStep",
    "PerformedProcedureStepStatus",
    "PresentationContext",
    "ReportRoute",
]
