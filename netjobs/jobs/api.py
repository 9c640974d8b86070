"""REST endpoints of the job history (mounted under /api/)."""


from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from console.api import field_errors_response, roles
from console.roles import Role, request_user
from netjobs.filtersets import JobFilterSet
from netjobs.jobs.registry import KINDS, UnknownJobKind, get_kind
from netjobs.jobs.services import (
    JobStateError,
    ParamsInvalid,
    RoleMissing,
    cancel_job,
    create_job,
    render_download,
    retry_failed_job,
    retry_job,
)
from netjobs.jobs.views import attachment, kind_context
from netjobs.models import Association, Job

router = Router()
OPERATORS = roles(Role.OPERATOR)

# --- jobs -------------------------------------------------------------------------------


class JobIn(Schema):
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


class ProgressOut(Schema):
    done: int
    total: int | None
    percent: int | None


class JobSummaryOut(Schema):
    id: int
    kind: str
    status: str
    summary: str
    owner: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut
    counters: dict[str, Any]
    error: str
    retry_of: int | None

    @staticmethod
    def resolve_owner(job: Job) -> str | None:
        return job.owner.get_username() if job.owner else None

    @staticmethod
    def resolve_progress(job: Job) -> dict[str, Any]:
        return {
            "done": job.progress_done,
            "total": job.progress_total,
            "percent": job.progress_percent,
        }

    @staticmethod
    def resolve_retry_of(job: Job) -> int | None:
        return job.retry_of_id


class LogEntryOut(Schema):
    at: datetime = Field(alias="created_at")
    level: str
    message: str


class ContextOut(Schema):
    context_id: int
    abstract_syntax: str
    abstract_syntax_name: str
    proposed_transfer_syntaxes: list[str]
    result: int | None
    result_text: str | None
    accepted_transfer_syntax: str

    @staticmethod
    def resolve_result_text(cx: Any) -> str | None:
        return cx.get_result_display() if cx.result is not None else None


class DimseOut(Schema):
    at: datetime
    direction: str
    command: str
    message_id: int | None
    status: int | None
    status_meaning: str
    affected_sop_instance_uid: str


class AssociationOut(Schema):
    id: int
    role: str
    outcome: str
    calling_ae_title: str
    called_ae_title: str
    peer_host: str
    peer_port: int
    tls: bool
    tcp_nodelay: bool | None
    local_max_pdu: int | None
    peer_max_pdu: int | None
    peer_implementation_class_uid: str
    peer_implementation_version_name: str
    rejection_result: int | None
    rejection_source: int | None
    rejection_reason: int | None
    rejection_text: str
    abort_source: str
    abort_reason: str
    explanation: str
    started_at: datetime
    ended_at: datetime | None
    bytes_sent: int
    bytes_received: int
    dimse_messages_total: int
    presentation_contexts: list[ContextOut]
    dimse_messages: list[DimseOut]

    @staticmethod
    def resolve_presentation_contexts(assoc: Association) -> Any:
        return list(assoc.presentation_contexts.all())

    @staticmethod
    def resolve_dimse_messages(assoc: Association) -> Any:
        return list(assoc.dimse_messages.all())


class CommandOut(Schema):
    tool_set: str
    command: str


class JobOut(JobSummaryOut):
    params: dict[str, Any]
    result: dict[str, Any]
    commands: list[CommandOut] = Field(
        default_factory=list, description="The same operation with DCMTK and dcm4che tools")
    downloads: list[str] = Field(default_factory=list,
                                 description="Names for GET /api/jobs/{id}/downloads/{name}")
    celery_task_id: str
    cancel_requested_at: datetime | None
    log: list[LogEntryOut]
    associations: list[AssociationOut]

    @staticmethod
    def resolve_commands(job: Job) -> Any:
        return kind_context(job)["commands"]()

    @staticmethod
    def resolve_downloads(job: Job) -> list[str]:
        try:
            return [d.name for d in get_kind(job.kind).downloads_for(job)]
        except UnknownJobKind:
            return []

    @staticmethod
    def resolve_log(job: Job) -> Any:
        return list(job.log_entries.all())

    @staticmethod
    def resolve_associations(job: Job) -> Any:
        return list(job.associations.prefetch_related("presentation_contexts", "dimse_messages"))


class KindOut(Schema):
    name: str
    label: str
    required_role: str
    params_schema: dict[str, Any]


class JobFilters(Schema):
    kind: str | None = None
    status: str | None = None
    owner: str | None = None
    created_after: date | None = None
    created_before: date | None = None
    since: str | None = Field(None, description="24h, 7d, 30min (ago) or an ISO date and time")
    q: str | None = None


def _job_or_404(job_id: int) -> Job:
    return get_object_or_404(Job.objects.select_related("owner"), pk=job_id)


@router.get("/jobs/kinds", response=list[KindOut], tags=["jobs"])
def list_kinds(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "name": kind.name,
            "label": kind.label,
            "required_role": kind.required_role.label,
            "params_schema": kind.params_schema.model_json_schema(),
        }
        for kind in KINDS.values()
    ]


@router.post("/jobs", response={201: JobOut, 422: dict}, tags=["jobs"], auth=OPERATORS)
def submit_job(request: HttpRequest, payload: JobIn) -> Any:
    if payload.kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        return field_errors_response(
            request,
            [
                {
                    "loc": ["body", "payload", "kind"],
                    "msg": f"Unknown job kind {payload.kind!r}; known kinds: {known}.",
                    "type": "value_error",
                }
            ],
        )
    try:
        with transaction.atomic():
            job = create_job(
                payload.kind, payload.params, owner=request_user(request)
            )
    except ParamsInvalid as exc:
        return field_errors_response(
            request,
            [
                {"loc": ["body", "payload", *e.loc], "msg": e.msg, "type": e.type}
                for e in exc.errors
            ],
        )
    except (RoleMissing, UnknownJobKind) as exc:
        raise HttpError(403, str(exc)) from exc
    return Status(201, job)


@router.get("/jobs", response=list[JobSummaryOut], tags=["jobs"])
@paginate(LimitOffsetPagination)
def list_jobs(request: HttpRequest, filters: Query[JobFilters]) -> Any:
    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    filterset = JobFilterSet(data, queryset=Job.objects.select_related("owner"))
    if not filterset.is_valid():
        raise HttpError(422, "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()))
    return filterset.qs


@router.get("/jobs/{job_id}", response=JobOut, tags=["jobs"])
def get_job(request: HttpRequest, job_id: int) -> Job:
    return _job_or_404(job_id)


@router.post("/jobs/{job_id}/cancel", response=JobOut, tags=["jobs"], auth=OPERATORS)
def cancel(request: HttpRequest, job_id: int) -> Job:
    job = _job_or_404(job_id)
    try:
        return cancel_job(job, request_user(request))
    except RoleMissing as exc:
        raise HttpError(403, "Only the job's owner or an Administrator can cancel it.") from exc
    except JobStateError as exc:
        raise HttpError(409, str(exc)) from exc


@router.post("/jobs/{job_id}/retry", response={201: JobOut}, tags=["jobs"], auth=OPERATORS)
def retry(request: HttpRequest, job_id: int) -> Status[Job]:
    return _retried(request, job_id, retry_job)


def _retried(request: HttpRequest, job_id: int, retry: Callable[[Job, Any], Job]) -> Status[Job]:
    job = _job_or_404(job_id)
    try:
        with transaction.atomic():
            return Status(201, retry(job, request_user(request)))
    except RoleMissing as exc:
        raise HttpError(403, "Only the job's owner or an Administrator can retry it.") from exc
    except JobStateError as exc:
        raise HttpError(409, str(exc)) from exc
    except ParamsInvalid as exc:
        raise HttpError(409, f"The job's parameters are no longer valid: {exc}") from exc


@router.post("/jobs/{job_id}/retry-failed", response={201: JobOut}, tags=["jobs"],
             auth=OPERATORS)
def retry_failed(request: HttpRequest, job_id: int) -> Status[Job]:
    """Run again only what failed (e.g. the instances a store could not send)."""
    return _retried(request, job_id, retry_failed_job)


@router.get("/jobs/{job_id}/downloads/{name}", tags=["jobs"])
def download(request: HttpRequest, job_id: int, name: str) -> HttpResponseBase:
    """A job's report or results (CSV, JSON…), as listed in its ``downloads``."""
    try:
        rendered = render_download(_job_or_404(job_id), name, request_user(request))
    except RoleMissing as exc:
        raise HttpError(403, str(exc)) from None
    if rendered is None:
        raise HttpError(404, f"Job {job_id} has no download {name!r}.")
    return attachment(rendered)
