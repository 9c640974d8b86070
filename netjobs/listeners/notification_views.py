"""Pages of what peers notify the listeners of: performed procedure steps (MPPS) and
instance availability notifications (IAN), each linked to the archived studies and
instances it refers to."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.views.generic import DetailView
from django_filters.views import FilterView
from pydicom.datadict import keyword_for_tag
from pydicom.uid import UID

from archive.models import Instance, Study
from console.roles import Role, RoleRequiredMixin
from netjobs.dicom.status import describe_status
from netjobs.listeners.ian import referenced_step_uids
from netjobs.listeners.notification_filters import (
    AvailabilityNotificationFilterSet,
    PerformedProcedureStepFilterSet,
)
from netjobs.models import (
    AvailabilityNotification,
    PerformedProcedureStep,
    PerformedProcedureStepStatus,
)

PAGE_SIZE = 50
STATUS_BADGES: dict[str, str] = {
    PerformedProcedureStepStatus.IN_PROGRESS: "running",
    PerformedProcedureStepStatus.COMPLETED: "succeeded",
    PerformedProcedureStepStatus.DISCONTINUED: "cancelled",
}
_IN_CHUNK = 500  # UIDs per IN (...) query


# --- links into the archive ---------------------------------------------------------------
@dataclass(frozen=True)
class StudyLink:
    study_instance_uid: str
    study: Study | None  # None: not in the archive


def archived_studies(uids: Iterable[str]) -> dict[str, Study]:
    wanted = sorted(set(uids))
    studies: dict[str, Study] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start:start + _IN_CHUNK]
        studies.update((s.study_instance_uid, s)
                       for s in Study.objects.filter(study_instance_uid__in=chunk))
    return studies


def archived_instances(uids: Iterable[str]) -> dict[str, Instance]:
    wanted = sorted(set(uids))
    instances: dict[str, Instance] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start:start + _IN_CHUNK]
        instances.update((i.sop_instance_uid, i) for i in Instance.objects.filter(
            sop_instance_uid__in=chunk).only("pk", "sop_instance_uid"))
    return instances


def study_links(uids: Sequence[str], archived: dict[str, Study]) -> list[StudyLink]:
    return [StudyLink(uid, archived.get(uid)) for uid in uids]


def notification_instance_uids(notification: AvailabilityNotification) -> list[str]:
    return [str(item.get("sop_instance_uid", "")) for item in notification.instances]


# --- attributes and history ---------------------------------------------------------------
@dataclass(frozen=True)
class AttributeRow:
    depth: int
    tag: str
    name: str
    vr: str
    value: str


def _shown_value(element: dict[str, Any]) -> str:
    if "InlineBinary" in element:
        return f"({len(element['InlineBinary']) * 3 // 4} bytes of binary data)"
    if "BulkDataURI" in element:
        return "(bulk data)"
    values = element.get("Value") or []
    return "\\".join(str(v.get("Alphabetic", "")) if isinstance(v, dict) else str(v)
                     for v in values)


def attribute_rows(document: dict[str, Any], depth: int = 0) -> list[AttributeRow]:
    """A DICOM JSON object as indented rows: sequences followed by their items."""
    rows: list[AttributeRow] = []
    for key in sorted(document):
        element = document[key]
        tag, vr = f"({key[:4]},{key[4:]})", str(element.get("vr", ""))
        name = keyword_for_tag(int(key, 16)) or ("Private" if int(key[:4], 16) % 2 else "")
        if vr != "SQ":
            rows.append(AttributeRow(depth, tag, name, vr, _shown_value(element)))
            continue
        items = element.get("Value") or []
        rows.append(AttributeRow(depth, tag, name, vr, f"{len(items)} item(s)"))
        for number, item in enumerate(items, start=1):
            rows.append(AttributeRow(depth + 1, "", f"Item {number}", "", ""))
            rows.extend(attribute_rows(item, depth + 2))
    return rows


@dataclass(frozen=True)
class RequestRow:
    at: datetime | None
    operation: str
    calling_ae_title: str
    result: str
    category: str
    meaning: str
    status: str
    attributes: list[str]
    reason: str


def request_rows(events: list[dict[str, Any]]) -> list[RequestRow]:
    rows = []
    for event in events:
        result = str(event.get("result", ""))
        info = describe_status(int(result, 16), str(event.get("operation", ""))) \
            if result else None
        at = event.get("at")
        rows.append(RequestRow(
            at=datetime.fromisoformat(at) if at else None,
            operation=str(event.get("operation", "")),
            calling_ae_title=str(event.get("calling_ae_title", "")), result=result,
            category=info.category.value if info else "", meaning=info.meaning if info else "",
            status=str(event.get("status", "")), attributes=list(event.get("attributes", [])),
            reason=str(event.get("reason", ""))))
    return rows


# --- MPPS ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepRow:
    step: PerformedProcedureStep
    badge: str
    studies: list[StudyLink]


def step_rows(steps: Iterable[PerformedProcedureStep]) -> list[StepRow]:
    steps = list(steps)
    archived = archived_studies(uid for step in steps for uid in step.study_instance_uids)
    return [StepRow(step, STATUS_BADGES.get(step.status, ""),
                    study_links(step.study_instance_uids, archived)) for step in steps]


class PerformedProcedureStepListView(RoleRequiredMixin, FilterView):
    required_role = Role.VIEWER
    model = PerformedProcedureStep
    filterset_class = PerformedProcedureStepFilterSet
    template_name = "netjobs/mpps_list.html"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> QuerySet[PerformedProcedureStep]:
        return PerformedProcedureStep.objects.select_related("listener")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = context.get("page_obj")
        context["rows"] = step_rows(page.object_list if page else context["object_list"])
        return context


class PerformedProcedureStepDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = PerformedProcedureStep
    template_name = "netjobs/mpps_detail.html"
    context_object_name = "step"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        step: PerformedProcedureStep = self.object
        context.update(
            row=step_rows([step])[0],
            requests=request_rows(step.events),
            attributes=attribute_rows(step.dataset),
            notifications=notifications_of_studies(step.study_instance_uids),
        )
        return context


def notifications_of_studies(uids: Sequence[str]) -> QuerySet[AvailabilityNotification]:
    if not uids:
        return AvailabilityNotification.objects.none()
    match = Q()
    for uid in uids:  # the whole UID as a JSON string: 1.2.3 must not find 1.2.34
        match |= Q(study_instance_uids__icontains=json.dumps(uid))
    return AvailabilityNotification.objects.filter(match)[:20]


# --- IAN ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NotificationRow:
    notification: AvailabilityNotification
    studies: list[StudyLink]
    archived_count: int


def notification_rows(notifications: Iterable[AvailabilityNotification]) -> list[NotificationRow]:
    notifications = list(notifications)
    studies = archived_studies(uid for n in notifications for uid in n.study_instance_uids)
    instances = archived_instances(uid for n in notifications
                                   for uid in notification_instance_uids(n))
    return [NotificationRow(
        n, study_links(n.study_instance_uids, studies),
        sum(1 for uid in set(notification_instance_uids(n)) if uid in instances),
    ) for n in notifications]


@dataclass(frozen=True)
class ReferencedInstanceRow:
    series_instance_uid: str
    sop_class_uid: str
    sop_class_name: str
    sop_instance_uid: str
    availability: str
    retrieve_ae_titles: list[str]
    archived: Instance | None


def referenced_instance_rows(notification: AvailabilityNotification) -> list[ReferencedInstanceRow]:
    archived = archived_instances(notification_instance_uids(notification))
    rows = []
    for item in notification.instances:
        sop_class = str(item.get("sop_class_uid", ""))
        uid = str(item.get("sop_instance_uid", ""))
        rows.append(ReferencedInstanceRow(
            str(item.get("series_instance_uid", "")), sop_class,
            UID(sop_class).name if sop_class else "", uid, str(item.get("availability", "")),
            list(item.get("retrieve_ae_titles", [])), archived.get(uid)))
    return rows


@dataclass(frozen=True)
class StepLink:
    sop_instance_uid: str
    step: PerformedProcedureStep | None


class AvailabilityNotificationListView(RoleRequiredMixin, FilterView):
    required_role = Role.VIEWER
    model = AvailabilityNotification
    filterset_class = AvailabilityNotificationFilterSet
    template_name = "netjobs/ian_list.html"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> QuerySet[AvailabilityNotification]:
        return AvailabilityNotification.objects.select_related("listener")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = context.get("page_obj")
        context["rows"] = notification_rows(page.object_list if page
                                            else context["object_list"])
        return context


class AvailabilityNotificationDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = AvailabilityNotification
    template_name = "netjobs/ian_detail.html"
    context_object_name = "notification"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        notification: AvailabilityNotification = self.object
        step_uids = referenced_step_uids(notification.dataset)
        steps = {s.sop_instance_uid: s for s in
                 PerformedProcedureStep.objects.filter(sop_instance_uid__in=step_uids)}
        context.update(
            row=notification_rows([notification])[0],
            instances=referenced_instance_rows(notification),
            steps=[StepLink(uid, steps.get(uid)) for uid in step_uids],
            attributes=attribute_rows(notification.dataset),
        )
        return context
