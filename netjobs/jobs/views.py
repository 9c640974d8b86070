"""Pages to start a job of any kind that has a form, and a finished job's downloads."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from archive.imports.uploads import remove_staged_upload, too_large_message
from console.roles import Role, has_role, request_user, role_required
from netjobs.jobs.base import FileDownload, Rendered
from netjobs.jobs.registry import KINDS, UnknownJobKind, get_kind
from netjobs.jobs.services import (
    JobStateError,
    ParamsInvalid,
    RoleMissing,
    create_job,
    render_download,
    retry_failed_job,
)
from netjobs.models import Job
from netjobs.operations.dicomweb.qido import results_context as qido_results_context
from netjobs.operations.dicomweb.wado import WadoMode, metadata_results_context
from netjobs.operations.qr.results import find_results_context


@role_required(Role.OPERATOR)
def job_new_index(request: HttpRequest) -> HttpResponse:
    kinds = [kind for kind in KINDS.values()
             if kind.form is not None and has_role(request_user(request), kind.required_role)]
    return render(request, "netjobs/job_new_index.html", {"kinds": kinds})


@role_required(Role.OPERATOR)
def job_new(request: HttpRequest, kind_name: str) -> HttpResponse:
    """The kind's form; GET parameters prefill it (links from find results, AE pages…)."""
    try:
        kind = get_kind(kind_name)
    except UnknownJobKind:
        raise Http404(f"no job kind {kind_name!r}") from None
    if kind.form is None:
        raise Http404(f"{kind.label} jobs are started elsewhere")
    if not has_role(request_user(request), kind.required_role):
        return HttpResponse(f"This needs the {kind.required_role.label} role.", status=403)
    if request.method == "POST":
        request.FILES  # noqa: B018 - parse the body now: the upload handler flags its size
        if getattr(request, "upload_too_large", False):
            messages.error(request, too_large_message())
            return redirect("netjobs:job_new", kind_name=kind.name)
    form = kind.form(request.POST or None, request.FILES or None,
                     initial=request.GET.dict() or None)
    if request.method == "POST" and form.is_valid():
        params = form.params()  # may stage uploaded files: not inside the transaction
        try:
            with transaction.atomic():
                job = create_job(kind.name, params, owner=request_user(request))
        except ParamsInvalid as exc:
            remove_staged_upload(params.get("upload"))
            for error in exc.errors:
                field = str(error.loc[1]) if len(error.loc) > 1 else None
                form.add_error(field if field in form.fields else None, error.msg)
        except RoleMissing as exc:
            remove_staged_upload(params.get("upload"))
            return HttpResponse(str(exc), status=403)
        else:
            messages.success(request, f"Started job {job.pk}.")
            return redirect(job)
    return render(request, "netjobs/job_new.html", {"kind": kind, "form": form},
                  status=422 if form.errors else 200)


@role_required(Role.VIEWER)
def job_download(request: HttpRequest, pk: int, name: str) -> HttpResponseBase:
    try:
        rendered = render_download(get_object_or_404(Job, pk=pk), name, request_user(request))
    except RoleMissing as exc:
        raise PermissionDenied(str(exc)) from None
    if rendered is None:
        raise Http404(f"job {pk} has no download {name!r}")
    return attachment(rendered)


def attachment(rendered: Rendered) -> HttpResponseBase:
    """A download as an attachment: built content, or a file on disk streamed."""
    if isinstance(rendered, FileDownload):
        try:
            handle = rendered.path.open("rb")
        except OSError as exc:
            raise Http404(f"the file of this download is gone ({exc.strerror})") from None
        return FileResponse(handle, as_attachment=True, filename=rendered.filename,
                            content_type=rendered.content_type)
    content, content_type, filename = rendered
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_POST
@role_required(Role.OPERATOR)
def job_retry_failed(request: HttpRequest, pk: int) -> HttpResponse:
    return retried(request, get_object_or_404(Job, pk=pk), retry_failed_job,
                   "the failures of job")


def retried(request: HttpRequest, job: Job, retry: Callable[[Job, Any], Job],
            what: str) -> HttpResponse:
    """Run ``retry`` for the job's page: the new job, or the old one with the reason."""
    try:
        with transaction.atomic():
            new_job = retry(job, request_user(request))
    except RoleMissing:
        messages.error(request, "Only the job's owner or an Administrator can retry it.")
    except (JobStateError, ParamsInvalid) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Started job {new_job.pk}, {what} {job.pk}.")
        return redirect(new_job)
    return redirect(job)


def kind_context(job: Job) -> dict[str, Any]:
    """What the job page shows from the job's kind: commands, downloads, retry failed."""
    try:
        kind = get_kind(job.kind)
    except UnknownJobKind:
        return {"commands": list, "downloads": [], "retry_failed": False, "produced": [],
                "item_sizes": False, "uses_associations": True}
    # The command lines: a callable, evaluated only where a template shows them (the job
    # detail page), not on every live refresh.
    return {"commands": partial(kind.commands_for, job.params),
            "downloads": kind.downloads_for(job),
            "retry_failed": kind.retry_failed is not None,
            # a callable as well: evaluated where the page shows it
            "produced": partial(kind.produced, job) if kind.produced else [],
            "item_sizes": kind.item_sizes, "uses_associations": kind.uses_associations,
            # a callable: the page's template evaluates it, the API never does
            "find_results": _results(job), "has_results": _results(job) is not None}


def _results(job: Job) -> Callable[[], dict[str, Any]] | None:
    """The table of what a search found (find, qido) or a metadata retrieve read."""
    if job.kind == "find":
        return partial(find_results_context, job)
    if job.kind == "qido":
        return partial(qido_results_context, job)
    if job.kind == "wado" and job.params.get("mode") == WadoMode.METADATA:
        return partial(metadata_results_context, job)
    return None
