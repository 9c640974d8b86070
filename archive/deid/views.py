"""The de-identification pages: the home (projects and recent jobs, for Operators), and the
projects' settings and pseudonym mapping tables (Administrators only: the table links each
pseudonym back to the original Patient ID and Patient Name)."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from archive.breadcrumbs import Crumb
from archive.deid.jobs.kinds import DeidKind
from archive.deid.jobs.release import ReleaseRefused, jobs_holding_files, release_held
from archive.deid.jobs.run import parse_safe_private
from archive.deid.keys import CertificateRefused, certificate_summary
from archive.deid.models import DeidProject, Pseudonym, PseudonymOrigin
from archive.deid.project_forms import (
    COLUMNS,
    DeidProjectForm,
    ImportPlan,
    PseudonymUploadForm,
    plan_import,
    read_table,
)
from console.roles import Role, has_role, request_user, role_required
from netjobs.jobs.services import can_control
from netjobs.models import Job

PAGE_SIZE = 50
RECENT_JOBS = 10
CSV_COLUMNS = (*COLUMNS, "origin", "created_at")


@dataclass(frozen=True)
class CertificateBrief:
    """Who a project's certificate is for and until when (read without judging it)."""

    subject: str
    not_after: dt.datetime
    expired: bool


def certificate_brief(pem: str) -> CertificateBrief | None:
    if not pem.strip():
        return None
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii", errors="replace"))
    except ValueError:
        return None
    not_after = cert.not_valid_after_utc
    return CertificateBrief(cert.subject.rfc4514_string(), not_after,
                            not_after < dt.datetime.now(dt.UTC))


def _crumbs(project: DeidProject | None = None, current: str = "") -> list[Crumb]:
    crumbs = [Crumb("De-identification", reverse("deid:home"))]
    if project is not None:
        url = reverse("deid:project_detail", args=[project.pk]) if current else ""
        crumbs.append(Crumb(project.name, url))
    if current:
        crumbs.append(Crumb(current))
    return crumbs


@require_GET
@role_required(Role.OPERATOR)
def deid_home(request: HttpRequest) -> HttpResponse:
    projects = DeidProject.objects.annotate(pseudonym_count=Count("pseudonyms")).order_by("name")
    jobs = Job.objects.filter(kind__in=[kind.value for kind in DeidKind]).select_related(
        "owner")[:RECENT_JOBS]
    return render(request, "deid/home.html", {
        "project_rows": [(p, certificate_brief(p.certificate_pem)) for p in projects],
        "recent_jobs": jobs,
        "held_jobs": jobs_holding_files(),
        "is_administrator": has_role(request.user, Role.ADMINISTRATOR),
        "crumbs": [Crumb("De-identification")],
    })


@require_http_methods(["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def project_create(request: HttpRequest) -> HttpResponse:
    form = DeidProjectForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        project = form.save(commit=False)
        project.created_by = request_user(request).get_username()
        project.save()
        messages.success(request, f"Project {project.name} created.")
        return redirect("deid:project_detail", pk=project.pk)
    return render(request, "deid/project_form.html", {
        "form": form, "crumbs": _crumbs(current="New project")})


@require_http_methods(["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def project_edit(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(DeidProject, pk=pk)
    form = DeidProjectForm(request.POST or None, request.FILES or None, instance=project)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Project {project.name} saved.")
        return redirect("deid:project_detail", pk=project.pk)
    return render(request, "deid/project_form.html", {
        "form": form, "object": project, "crumbs": _crumbs(project, "Edit")})


def search_pseudonyms(project: DeidProject, query: str) -> QuerySet[Pseudonym]:
    """The project's table, narrowed to rows whose original or pseudonymous ID or name holds
    ``query`` (case-insensitive)."""
    rows = project.pseudonyms.all()
    if query:
        rows = rows.filter(Q(original_patient_id__icontains=query)
                           | Q(original_patient_name__icontains=query)
                           | Q(pseudonym_id__icontains=query)
                           | Q(pseudonym_name__icontains=query))
    return rows.order_by("original_patient_id")


@require_GET
@role_required(Role.ADMINISTRATOR)
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(DeidProject, pk=pk)
    query = request.GET.get("q", "").strip()[:200]
    page = Paginator(search_pseudonyms(project, query), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "deid/project_detail.html", {
        "project": project,
        "certificate": _certificate_lines(project.certificate_pem),
        "safe_private": _safe_private(project.safe_private),
        "page_obj": page,
        "query": query,
        "total": project.pseudonyms.count(),
        "upload_form": PseudonymUploadForm(),
        "crumbs": _crumbs(project),
    })


def _certificate_lines(pem: str) -> tuple[list[str], str]:
    """The certificate's summary lines, and why jobs would refuse it now ("" if they would not)."""
    if not pem.strip():
        return [], ""
    try:
        return certificate_summary(pem.encode("ascii", errors="replace")).splitlines(), ""
    except CertificateRefused as exc:
        brief = certificate_brief(pem)
        lines = [f"Subject: {brief.subject}",
                 f"Not after: {brief.not_after:%Y-%m-%d %H:%M} UTC"] if brief else []
        return lines, str(exc)


def _safe_private(text: str) -> list[str]:
    try:
        return [f'"{s.creator}", {s.group:04X}, {s.element:02X}' for s in parse_safe_private(text)]
    except ValueError as exc:
        return [f"Unreadable: {exc}"]


@require_POST
@role_required(Role.ADMINISTRATOR)
def pseudonyms_upload(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    project = get_object_or_404(DeidProject, pk=pk)
    back = redirect("deid:project_detail", pk=project.pk)
    form = PseudonymUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, f"Mapping table: {error}")
        return back
    rows, problems = read_table(form.cleaned_data["table"])
    plan = ImportPlan(errors=problems) if problems else plan_import(
        project, rows, bool(form.cleaned_data.get("replace_existing")))
    if not plan.errors:
        try:
            _apply(project, plan)
        except IntegrityError:
            plan.errors.append("The table changed while importing (another upload or a job); "
                               "nothing was imported, try again.")
    if plan.errors:
        messages.error(request, "The mapping table was refused; nothing was imported.")
        for error in plan.listed_errors():
            messages.error(request, error)
        return back
    messages.success(request, f"Mapping table imported: {len(plan.create)} added, "
                              f"{len(plan.update)} updated, {plan.unchanged} unchanged.")
    return back


def _apply(project: DeidProject, plan: ImportPlan) -> None:
    with transaction.atomic():
        Pseudonym.objects.bulk_create([
            Pseudonym(project=project, original_patient_id=row.original_patient_id,
                      original_patient_name=row.original_patient_name,
                      pseudonym_id=row.pseudonym_id, pseudonym_name=row.pseudonym_name,
                      origin=PseudonymOrigin.UPLOADED)
            for row in plan.create])
        for existing, row in plan.update:
            existing.pseudonym_id = row.pseudonym_id
            existing.pseudonym_name = row.pseudonym_name
            existing.original_patient_name = (row.original_patient_name
                                              or existing.original_patient_name)
            existing.origin = PseudonymOrigin.UPLOADED
            existing.save(update_fields=["pseudonym_id", "pseudonym_name",
                                         "original_patient_name", "origin"])


@require_GET
@role_required(Role.ADMINISTRATOR)
def pseudonyms_csv(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(DeidProject, pk=pk)
    name = slugify(project.name) or f"project-{project.pk}"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-pseudonyms.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in project.pseudonyms.order_by("original_patient_id").iterator():
        writer.writerow([p.original_patient_id, p.pseudonym_id, p.pseudonym_name,
                         p.original_patient_name, p.origin, p.created_at.isoformat()])
    return response


@require_POST
@role_required(Role.OPERATOR)
def held_release(request: HttpRequest, pk: int) -> HttpResponse:
    """Release a job's held files once the operator confirms the pixels were looked at."""
    job = get_object_or_404(Job, pk=pk, kind=DeidKind.DEIDENTIFY.value)
    user = request_user(request)
    if not can_control(user, job):
        raise PermissionDenied("Only the job's owner or an Administrator releases its files.")
    if request.POST.get("checked") != "yes":
        messages.error(request, "Confirm that you looked at every held file's pixels and "
                                "found no burned-in identifying text.")
        return redirect("deid:home")
    try:
        released = release_held(job, user)
    except ReleaseRefused as exc:
        messages.error(request, f"Job {job.pk}: {exc}")
    else:
        sent = f"; store job {released.store_job.pk} sends them" if released.store_job else ""
        messages.success(request, f"Job {job.pk}: {released.files} held file(s) released{sent}.")
    return redirect("deid:home")
