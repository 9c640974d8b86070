"""REST endpoints of the storage commitment requests the listeners received (read-only,
mounted under /api/)."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import ModelSchema, Router
from ninja.pagination import LimitOffsetPagination, paginate

from netjobs.models import CommitmentRequest, CommitmentStatus

router = Router(tags=["storage commitment"])


class CommitmentOut(ModelSchema):
    class Meta:
        model = CommitmentRequest
        fields = ["id", "transaction_uid", "listener", "calling_ae_title", "references",
                  "committed", "failed", "status", "route", "report_record", "report_status",
                  "report_error", "requested_at", "reported_at"]


@router.get("/commitments", response=list[CommitmentOut])
@paginate(LimitOffsetPagination)
def list_commitments(request: HttpRequest, calling_ae_title: str | None = None,
                     status: CommitmentStatus | None = None,
                     transaction_uid: str | None = None) -> QuerySet[CommitmentRequest]:
    """Newest first; ``failed`` items carry their Failure Reason (PS3.3 C.14)."""
    queryset = CommitmentRequest.objects.order_by("-requested_at", "-pk")
    if calling_ae_title:
        queryset = queryset.filter(calling_ae_title=calling_ae_title.strip())
    if status:
        queryset = queryset.filter(status=status)
    if transaction_uid:
        queryset = queryset.filter(transaction_uid=transaction_uid.strip())
    return queryset


@router.get("/commitments/{commitment_id}", response=CommitmentOut)
def get_commitment(request: HttpRequest, commitment_id: int) -> Any:
    return get_object_or_404(CommitmentRequest, pk=commitment_id)
