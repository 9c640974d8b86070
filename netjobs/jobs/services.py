"""Creating, cancelling and retrying jobs: the entry points for views, the API and commands."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from console.roles import Role, has_role
from netjobs.jobs.base import Rendered
from netjobs.jobs.registry import UnknownJobKind, get_kind
from netjobs.models import Job, JobLogEntry, JobStatus, LogLevel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldError:
    loc: tuple[str | int, ...]
    msg: str
    type: str


class ParamsInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.errors = errors


class JobStateError(Exception):
    """The job is not in a state that allows the operation (e.g. cancel a finished job)."""


class RoleMissing(Exception):
    def __init__(self, role: Role) -> None:
        super().__init__(f"This needs the {role.label} role.")
        self.role = role


def _validation_errors(exc: ValidationError) -> list[FieldError]:
    return [
        FieldError(loc=("params", *error["loc"]), msg=error["msg"], type=error["type"])
        for error in exc.errors()
    ]


def _nul_characters(value: Any, loc: tuple[str | int, ...]) -> list[FieldError]:
    """A FieldError for each string (key or value, at any depth) holding a NUL character,
    which no text field may hold (PostgreSQL refuses it, and no DICOM value needs it)."""
    if isinstance(value, str):
        return [FieldError(loc=loc, msg="must not contain a NUL character (\\u0000)",
                           type="nul_character")] if "\x00" in value else []
    found: list[FieldError] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                found.append(FieldError(loc=(*loc, key.replace("\x00", "\\u0000")),
                                        msg="a name with a NUL character", type="nul_character"))
            found.extend(_nul_characters(item, (*loc, str(key).replace("\x00", "\\u0000"))))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(_nul_characters(item, (*loc, index)))
    return found


def create_job(
    kind_name: str,
    params: dict[str, Any],
    owner: User,
    retry_of: Job | None = None,
) -> Job:
    """Validate, store and enqueue (after commit) a job. Raises ParamsInvalid / RoleMissing."""
    kind = get_kind(kind_name)
    if not has_role(owner, kind.required_role):
        raise RoleMissing(kind.required_role)
    if nul := _nul_characters(params, ("params",)):
        raise ParamsInvalid(nul)  # before validators look anything up with these values
    try:
        validated = kind.validate(params, new=True)
    except ValidationError as exc:
        raise ParamsInvalid(_validation_errors(exc)) from exc
    job = Job.objects.create(
        kind=kind.name,
        params=validated.model_dump(mode="json"),
        summary=kind.describe(validated)[:300],
        owner=owner,
        retry_of=retry_of,
        celery_task_id=str(uuid.uuid4()),
    )
    transaction.on_commit(lambda: _enqueue(job.pk, job.celery_task_id))
    return job


def _enqueue(job_id: int, task_id: str) -> None:
    from netjobs.tasks import run_job_task

    try:
        run_job_task.apply_async(args=[job_id], task_id=task_id)
    except Exception as exc:  # broker unreachable: say so on the job instead of a 500
        logger.exception("job %s could not be queued", job_id)
        message = f"Could not queue the job: the message broker is unreachable ({exc})."
        Job.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
            status=JobStatus.FAILED, error=message, finished_at=timezone.now()
        )
        JobLogEntry.objects.create(job_id=job_id, level=LogLevel.ERROR, message=message)


def can_control(user: User, job: Job) -> bool:
    """Operators control their own jobs; Administrators control every job."""
    if has_role(user, Role.ADMINISTRATOR):
        return True
    return has_role(user, Role.OPERATOR) and job.owner_id == user.pk


def cancel_job(job: Job, user: User) -> Job:
    """A pending job never starts; a running job is asked to stop and ends ``cancelled``."""
    if not can_control(user, job):
        raise RoleMissing(Role.OPERATOR)
    now = timezone.now()
    who = user.get_username()
    if Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
        status=JobStatus.CANCELLED,
        cancel_requested_at=now,
        finished_at=now,
        error=f"Cancelled by {who} before it started.",
    ):
        JobLogEntry.objects.create(job=job, message=f"Cancelled by {who} before it started.")
    elif Job.objects.filter(
        pk=job.pk, status=JobStatus.RUNNING, cancel_requested_at__isnull=True
    ).update(cancel_requested_at=now):
        JobLogEntry.objects.create(
            job=job, level=LogLevel.WARNING, message=f"Cancellation requested by {who}."
        )
    else:
        job.refresh_from_db()
        if job.is_terminal:
            raise JobStateError(f"Job {job.pk} has already finished ({job.status}).")
    job.refresh_from_db()
    return job


def _no_longer_valid(exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(map(str, e['loc'])) + ': ' if e['loc'] else ''}{e['msg']}"
        for e in exc.errors())
    return f"It cannot run again: its parameters are no longer valid ({problems})."


def retry_refusal(job: Job) -> str | None:
    """Why a retry of ``job`` cannot work (still running, kind gone, its upload or AE gone…),
    or None. The page hides Retry for the same reasons the API refuses it."""
    if not job.is_terminal:
        return f"Job {job.pk} is still {job.status}; only finished jobs are retried."
    try:
        kind = get_kind(job.kind)
    except UnknownJobKind:
        return f"Jobs of kind {job.kind!r} can no longer run."
    try:
        kind.validate(job.params, new=True)
    except ValidationError as exc:
        return _no_longer_valid(exc)
    return None


def retry_failed_params(job: Job) -> tuple[dict[str, Any] | None, str | None]:
    """The parameters of "retry failed only" (just what failed), or why there are none."""
    refusal = retry_refusal(job)
    if refusal is not None:
        return None, refusal
    kind = get_kind(job.kind)
    if kind.retry_failed is None:
        return None, f"{kind.label} jobs have no per-item retry; retry the whole job."
    params = kind.retry_failed(job)
    if params is None:
        return None, f"Nothing failed in job {job.pk}."
    try:
        kind.validate(params, new=True)
    except ValidationError as exc:
        return None, _no_longer_valid(exc)
    return params, None


def retry_job(job: Job, user: User) -> Job:
    """Run a finished job again with the same parameters, as a new job linked to it."""
    if not can_control(user, job):
        raise RoleMissing(Role.OPERATOR)
    refusal = retry_refusal(job)
    if refusal is not None:
        raise JobStateError(refusal)
    return create_job(job.kind, job.params, owner=user, retry_of=job)


def retry_failed_job(job: Job, user: User) -> Job:
    """Run again only what failed (the kind decides what that is), as a new linked job."""
    if not can_control(user, job):
        raise RoleMissing(Role.OPERATOR)
    params, refusal = retry_failed_params(job)
    if params is None:
        raise JobStateError(refusal or f"Job {job.pk} cannot be retried.")
    return create_job(job.kind, params, owner=user, retry_of=job)


def render_download(job: Job, name: str, user: User) -> Rendered | None:
    """A job's download (content, content type, file name; or a file on disk), or None if
    its kind has none by that name or it is not there (yet, or any more). RoleMissing if
    ``user`` may not fetch it."""
    try:
        offered = get_kind(job.kind).download(name)
    except UnknownJobKind:
        return None
    if offered is None or not offered.offered(job):
        return None
    if not has_role(user, offered.required_role):
        raise RoleMissing(offered.required_role)
    return offered.render(job)
