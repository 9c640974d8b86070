"""Pages for Application Entities and the job history."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DeleteView, DetailView, UpdateView
from django_filters.views import FilterView

from console.roles import Role, RoleRequiredMixin, request_user, role_required
from netjobs.filtersets import AEFilterSet, JobFilterSet
from netjobs.forms import AEForm
from netjobs.jobs.checks import last_check, last_checks, with_last_check_id
from netjobs.jobs.display import (
    counter_fields,
    parameter_fields,
    peer_of,
    peers_for,
    result_fields,
)
from netjobs.jobs.registry import get_kind
from netjobs.jobs.services import (
    JobStateError,
    ParamsInvalid,
    RoleMissing,
    can_control,
    cancel_job,
    create_job,
    retry_failed_params,
    retry_job,
    retry_refusal,
)
from netjobs.jobs.views import kind_context, retried
from netjobs.models import AEKind, ApplicationEntity, ItemOutcome, Job

# --- Application Entities ---------------------------------------------------------------


class AEListView(RoleRequiredMixin, FilterView):
    required_role = Role.VIEWER
    model = ApplicationEntity
    filterset_class = AEFilterSet
    template_name = "netjobs/ae_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[ApplicationEntity]:
        return with_last_check_id(super().get_queryset())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = context.get("page_obj")
        aes = page.object_list if page is not None else context["object_list"]
        checks = last_checks(aes)
        context["ae_rows"] = [(ae, checks.get(ae.pk) if ae.is_remote else None) for ae in aes]
        return context


class AEDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = ApplicationEntity
    template_name = "netjobs/ae_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["recent_jobs"] = Job.objects.filter(
            params__ae=self.object.pk
        ).select_related("owner")[:10]
        context["last_echo"] = last_check(self.object) if self.object.is_remote else None
        return context


class AECreateView(RoleRequiredMixin, CreateView):
    required_role = Role.ADMINISTRATOR
    model = ApplicationEntity
    form_class = AEForm
    template_name = "netjobs/ae_form.html"

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, "AE saved.")
        return super().form_valid(form)


class AEUpdateView(AECreateView, UpdateView):
    pass


class AEDeleteView(RoleRequiredMixin, DeleteView):
    required_role = Role.ADMINISTRATOR
    model = ApplicationEntity
    template_name = "netjobs/ae_confirm_delete.html"
    success_url = reverse_lazy("netjobs:ae_list")

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, f"AE {self.object} deleted.")
        return super().form_valid(form)


@require_POST
@role_required(Role.OPERATOR)
def ae_echo(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a C-ECHO job; htmx gets a self-updating result badge, others the job page."""
    ae = get_object_or_404(ApplicationEntity, pk=pk, kind=AEKind.REMOTE)
    try:
        with transaction.atomic():
            job = create_job("echo", {"ae": ae.pk}, owner=request_user(request))
    except (ParamsInvalid, RoleMissing) as exc:
        if request.headers.get("HX-Request"):
            return render(request, "netjobs/_echo_error.html", {"error": str(exc)})
        messages.error(request, str(exc))
        return redirect(ae)
    if request.headers.get("HX-Request"):
        return render(request, "netjobs/_echo_badge.html", {"job": job, "ae": ae})
    return redirect(job)


# --- jobs -------------------------------------------------------------------------------


class JobListView(RoleRequiredMixin, FilterView):
    required_role = Role.VIEWER
    model = Job
    filterset_class = JobFilterSet
    template_name = "netjobs/job_list.html"
    paginate_by = settings.JOBS_PAGE_SIZE

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.select_related("owner")


class JobDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = Job
    template_name = "netjobs/job_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job = self.object
        context.update(job_live_context(self.request, job))
        context.update(parameter_fields=parameter_fields(job), retries=list(job.retries.all()),
                       peer=peer_of(job, peers_for([job])))
        return context


def throughput(job: Job) -> str:
    """Items/s and MB/s so far: instances and bytes of the network kinds, files and input
    bytes of the conversions."""
    counters = job.counters or {}
    if "bytes" in counters:
        count, noun, size = counters.get("instances", 0), "instances", counters["bytes"]
    elif "input_bytes" in counters:
        count, noun, size = counters.get("files", 0), "files", counters["input_bytes"]
    else:
        return ""
    if job.started_at is None:
        return ""
    end = job.finished_at or timezone.now()
    seconds = max((end - job.started_at).total_seconds(), 0.001)
    return f"{count / seconds:.1f} {noun}/s, {size / 1024**2 / seconds:.1f} MB/s"


def job_live_context(request: HttpRequest, job: Job) -> dict[str, Any]:
    outcomes: dict[str, int] = dict(
        job.items.values_list("outcome").annotate(n=Count("pk")).values_list("outcome", "n")
    )
    many = outcomes.get(ItemOutcome.SUCCEEDED, 0) > 200  # then show the problems first
    shown = job.items.exclude(outcome=ItemOutcome.SUCCEEDED) if many else job.items.all()
    return {
        **kind_context(job),
        **retry_context(request, job),
        "result_fields": result_fields(job),
        "counter_fields": counter_fields(job),
        "throughput": throughput(job),
        "item_counts": [(o, outcomes[o.value]) for o in ItemOutcome if outcomes.get(o.value)],
        "items": shown[:500],
        "job": job,
        "can_control": can_control(request_user(request), job),
        "log_entries": job.log_entries.all(),
        "associations": job.associations.prefetch_related(
            "presentation_contexts", "dimse_messages"
        ),
    }


def retry_context(request: HttpRequest, job: Job) -> dict[str, Any]:
    """Whether Retry / Retry failed only can work, and what the latter would re-send."""
    if not job.is_terminal or not can_control(request_user(request), job):
        return {"retry_refusal": None, "retry_failed_params": None}
    refusal = retry_refusal(job)
    params, _ = retry_failed_params(job) if refusal is None else (None, refusal)
    commands = get_kind(job.kind).commands_for(params) if params is not None else []
    return {"retry_refusal": refusal, "retry_failed_params": params,
            "retry_failed_commands": commands,
            "retry_failed_count": len((params or {}).get("only") or [])}


@role_required(Role.VIEWER)
def job_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The part of the job page that changes while it runs; polled by htmx until terminal."""
    job = get_object_or_404(Job.objects.select_related("owner"), pk=pk)
    return render(request, "netjobs/_job_live.html", job_live_context(request, job))


@role_required(Role.VIEWER)
def job_badge(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk)
    return render(request, "netjobs/_echo_badge.html", {"job": job})


@require_POST
@role_required(Role.OPERATOR)
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk)
    try:
        cancel_job(job, request_user(request))
        messages.success(request, "Cancellation requested.")
    except RoleMissing:
        messages.error(request, "Only the job's owner or an Administrator can cancel it.")
    except JobStateError as exc:
        messages.error(request, str(exc))
    return redirect(job)


@require_POST
@role_required(Role.OPERATOR)
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    return retried(request, get_object_or_404(Job, pk=pk), retry_job, "a retry of job")
