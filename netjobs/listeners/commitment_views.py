"""Pages of the storage commitment requests the listeners received (PS3.4 Annex J): the list,
and each request with the result per referenced instance and the report sent back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.views.generic import DetailView, ListView

from archive.models import Instance
from console.dbfunctions import JSONArrayLength
from console.roles import Role, RoleRequiredMixin
from netjobs.dicom.status import StatusInfo, describe_status
from netjobs.listeners.commitment import describe_failure_reason
from netjobs.models import CommitmentRequest, CommitmentStatus
from netjobs.models.associations import uid_name

LOOKUP_CHUNK = 500


class ReferenceResult:
    COMMITTED = "committed"
    FAILED = "failed"
    CHECKING = "checking"


@dataclass(frozen=True)
class ReferenceRow:
    """One referenced instance: what the archive said about it, and where it is."""

    sop_class_uid: str
    sop_instance_uid: str
    result: str
    reason: str
    detail: str
    instance: Instance | None

    @property
    def sop_class_name(self) -> str:
        return uid_name(self.sop_class_uid)


def archived_by_uid(sop_instance_uids: list[str]) -> dict[str, Instance]:
    found: dict[str, Instance] = {}
    unique = sorted(set(sop_instance_uids))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[start:start + LOOKUP_CHUNK]
        for instance in Instance.objects.filter(sop_instance_uid__in=chunk).select_related(
                "series__study"):
            found[instance.sop_instance_uid] = instance
    return found


def _key(item: dict[str, Any]) -> tuple[str, str]:
    """A reference is its SOP class and instance: an instance may be referenced twice, once
    with the wrong class."""
    return str(item.get("sop_class_uid", "")), str(item.get("sop_instance_uid", ""))


def reference_rows(commitment: CommitmentRequest) -> list[ReferenceRow]:
    committed = {_key(r) for r in commitment.committed}
    failed = {_key(f): f for f in commitment.failed}
    references = [r for r in commitment.references if isinstance(r, dict)]
    archived = archived_by_uid([_key(r)[1] for r in references])
    rows = []
    for reference in references:
        sop_class_uid, uid = key = _key(reference)
        failure = failed.get(key)
        if failure is not None:
            result = ReferenceResult.FAILED
            reason = describe_failure_reason(int(failure.get("failure_reason", 0)))
            detail = str(failure.get("detail", ""))
        else:
            result = ReferenceResult.COMMITTED if key in committed else ReferenceResult.CHECKING
            reason = detail = ""
        rows.append(ReferenceRow(sop_class_uid, uid, result, reason, detail, archived.get(uid)))
    return rows


class CommitmentListView(RoleRequiredMixin, ListView):
    required_role = Role.VIEWER
    model = CommitmentRequest
    template_name = "netjobs/commitment_list.html"
    context_object_name = "commitments"
    paginate_by = 50

    def filters(self) -> tuple[str, str]:
        calling = self.request.GET.get("calling", "").strip()
        status = self.request.GET.get("status", "").strip()
        return calling, status if status in CommitmentStatus.values else ""

    def get_queryset(self) -> QuerySet[CommitmentRequest]:
        queryset = (CommitmentRequest.objects.select_related("listener")
                    .defer("references", "committed", "failed")
                    .annotate(reference_count=JSONArrayLength("references"),
                              committed_count=JSONArrayLength("committed"),
                              failed_count=JSONArrayLength("failed"))
                    .order_by("-requested_at", "-pk"))
        calling, status = self.filters()
        if calling:
            queryset = queryset.filter(calling_ae_title__icontains=calling)
        if status:
            queryset = queryset.filter(status=status)
        listener = self.request.GET.get("listener", "")
        if listener.isdigit():
            queryset = queryset.filter(listener_id=int(listener))
        return queryset

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        calling, status = self.filters()
        context.update(calling=calling, status=status, statuses=CommitmentStatus.choices)
        return context


class CommitmentDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = CommitmentRequest
    template_name = "netjobs/commitment_detail.html"
    context_object_name = "commitment"

    def get_queryset(self) -> QuerySet[CommitmentRequest]:
        return CommitmentRequest.objects.select_related("listener", "report_record")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        commitment: CommitmentRequest = self.object
        report_status: StatusInfo | None = (
            None if commitment.report_status is None
            else describe_status(commitment.report_status, "N-EVENT-REPORT"))
        context.update(rows=reference_rows(commitment), report_status=report_status,
                       record=commitment.report_record)
        return context
