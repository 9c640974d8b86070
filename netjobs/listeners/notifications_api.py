"""Read-only REST endpoints of the performed procedure steps (MPPS) and instance
availability notifications (IAN) the listeners received (mounted under /api/; Viewer).

No `from __future__ import annotations`: django-ninja resolves Query[...] at runtime."""

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import ModelSchema, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from netjobs.listeners.notification_filters import (
    AvailabilityNotificationFilterSet,
    PerformedProcedureStepFilterSet,
)
from netjobs.models import AvailabilityNotification, PerformedProcedureStep

router = Router(tags=["notifications"])

STEP_FIELDS = ["id", "sop_instance_uid", "listener", "calling_ae_title", "status",
               "patient_id", "patient_name", "modality", "procedure_step_id", "description",
               "station_ae_title", "started_at", "ended_at", "study_instance_uids",
               "accession_numbers", "created_at", "updated_at"]
NOTIFICATION_FIELDS = ["id", "sop_instance_uid", "listener", "calling_ae_title",
                       "study_instance_uids", "accession_numbers", "instance_count",
                       "received_at"]


class StepOut(ModelSchema):
    class Meta:
        model = PerformedProcedureStep
        fields = STEP_FIELDS


class StepDetailOut(ModelSchema):
    class Meta:
        model = PerformedProcedureStep
        fields = [*STEP_FIELDS, "dataset", "events"]


class NotificationOut(ModelSchema):
    class Meta:
        model = AvailabilityNotification
        fields = NOTIFICATION_FIELDS


class NotificationDetailOut(ModelSchema):
    class Meta:
        model = AvailabilityNotification
        fields = [*NOTIFICATION_FIELDS, "instances", "dataset"]


class StepFilters(Schema):
    status: str | None = None
    calling: str | None = None
    patient: str | None = None
    study: str | None = None
    listener: int | None = None


class NotificationFilters(Schema):
    calling: str | None = None
    study: str | None = None
    listener: int | None = None


def _filtered(filterset_class: Any, filters: Schema, queryset: Any) -> Any:
    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        raise HttpError(422, "; ".join(f"{k}: {' '.join(v)}"
                                       for k, v in filterset.errors.items()))
    return filterset.qs


@router.get("/mpps", response=list[StepOut])
@paginate(LimitOffsetPagination)
def list_steps(request: HttpRequest, filters: Query[StepFilters]) -> Any:
    """Performed procedure steps, newest first; filters as on the Notifications page."""
    return _filtered(PerformedProcedureStepFilterSet, filters,
                     PerformedProcedureStep.objects.all())


@router.get("/mpps/{step_id}", response=StepDetailOut)
def get_step(request: HttpRequest, step_id: int) -> PerformedProcedureStep:
    """One step with its attributes (DICOM JSON) and the requests that made it."""
    return get_object_or_404(PerformedProcedureStep, pk=step_id)


@router.get("/ian", response=list[NotificationOut])
@paginate(LimitOffsetPagination)
def list_notifications(request: HttpRequest, filters: Query[NotificationFilters]) -> Any:
    """Instance availability notifications, newest first."""
    return _filtered(AvailabilityNotificationFilterSet, filters,
                     AvailabilityNotification.objects.all())


@router.get("/ian/{notification_id}", response=NotificationDetailOut)
def get_notification(request: HttpRequest, notification_id: int) -> AvailabilityNotification:
    """One notification with its referenced instances and attributes (DICOM JSON)."""
    return get_object_or_404(AvailabilityNotification, pk=notification_id)
