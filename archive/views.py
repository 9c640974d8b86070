"""Archive pages: study search, study/series/instance detail, thumbnails, download, delete,
and the import page. Bulk actions on a selection are in archive.bulk."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.generic import DetailView
from django_filters.views import FilterView

from archive.breadcrumbs import Crumb, archive_crumbs
from archive.bulk import remote_aes
from archive.filtersets import StudyFilterSet
from archive.forms import PathImportForm, UploadImportForm
from archive.imports.roots import import_roots
from archive.imports.uploads import (
    remove_staged_upload,
    stage_uploads,
    too_large_message,
    upload_limit,
)
from archive.indexing import delete_studies
from archive.listing import current_sort, sort_columns
from archive.models import Instance, Series, Study
from archive.objects.views import instance_page_context, study_edits
from archive.pages import association_url, inspect_tools, series_rows
from archive.rendering import RenderRefused, thumbnail
from archive.storage import absolute_path
from console.roles import Role, RoleRequiredMixin, request_user, role_required
from netjobs.jobs.services import ParamsInvalid, create_job
from netjobs.models import Job

VIDEO_SYNTAXES = frozenset(
    f"1.2.840.10008.1.2.4.{n}{fragmentable}" for n in range(100, 109)
    for fragmentable in ("", ".1"))  # MPEG-2, MPEG-4 AVC/H.264, HEVC
RECENT_IMPORTS = 10
STUDY_LINKS_PER_IMPORT = 5


class StudyListView(RoleRequiredMixin, FilterView):
    required_role = Role.VIEWER
    filterset_class = StudyFilterSet
    template_name = "archive/study_list.html"
    paginate_by = settings.ARCHIVE_PAGE_SIZE

    def get_queryset(self) -> QuerySet[Study]:
        return Study.objects.select_related("patient")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET
        context.update(
            crumbs=[Crumb("Archive")],
            columns=sort_columns(query),
            sort=current_sort(query),
            remote_aes=remote_aes(),
            here=self.request.get_full_path(),
            result_count=context["paginator"].count if context.get("paginator") else
            len(context["object_list"]),
        )
        return context


class StudyDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = Study
    template_name = "archive/study_detail.html"

    def get_queryset(self) -> QuerySet[Study]:
        return Study.objects.select_related("patient")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(crumbs=archive_crumbs(self.object), series_rows=series_rows(self.object),
                       remote_aes=remote_aes(), here=self.request.get_full_path(),
                       edits=study_edits(self.object))
        return context


class SeriesDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = Series
    template_name = "archive/series_detail.html"

    def get_queryset(self) -> QuerySet[Series]:
        return Series.objects.select_related("study__patient")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        first = self.object.instances.order_by("instance_number", "pk").first()
        context.update(crumbs=archive_crumbs(self.object), remote_aes=remote_aes(),
                       first_instance=first, here=self.request.get_full_path())
        return context


class InstanceDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = Instance
    template_name = "archive/instance_detail.html"

    def get_queryset(self) -> QuerySet[Instance]:
        return Instance.objects.select_related("series__study__patient", "source_job",
                                               "received_association__listener")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        association = self.object.received_association
        context.update(
            crumbs=archive_crumbs(self.object), tools=inspect_tools(self.object),
            association=association,
            association_url=association_url(association) if association else "",
            remote_aes=remote_aes(), here=self.request.get_full_path(),
            **instance_page_context(self.object),
        )
        return context


@role_required(Role.VIEWER)
def instance_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    return instance_file_response(get_object_or_404(Instance, pk=pk))


def instance_file_response(instance: Instance) -> FileResponse:
    """The stored file of an instance as a download (page and API alike)."""
    path = absolute_path(instance.file_path)
    if not path.is_file():
        raise Http404("The file of this instance is missing from storage.")
    return FileResponse(path.open("rb"), as_attachment=True,
                        filename=f"{instance.sop_instance_uid}.dcm",
                        content_type="application/dicom")


def thumbnail_response(instance: Instance) -> HttpResponseBase:
    """A 128-pixel PNG of the instance's first frame, cached by the file's checksum."""
    cache = settings.THUMBNAIL_DIR / instance.sha256[:2] / f"{instance.sha256}.png"
    if not cache.is_file():
        try:
            image = thumbnail(absolute_path(instance.file_path))
        except (RenderRefused, OSError) as exc:
            return HttpResponse(str(exc), status=422, content_type="text/plain")
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".part")
        image.save(partial, format="PNG")
        partial.replace(cache)
    response = FileResponse(cache.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    response["ETag"] = hashlib.sha256(instance.sha256.encode()).hexdigest()[:16]
    return response


@role_required(Role.VIEWER)
def series_thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    series = get_object_or_404(Series, pk=pk)
    instances = list(series.instances.order_by("instance_number", "pk"))
    if not instances:
        raise Http404("empty series")
    # The middle picture: not a document (no rows) nor a video (its stream is not decoded).
    pictures = [i for i in instances if i.rows and i.transfer_syntax_uid not in VIDEO_SYNTAXES]
    chosen = pictures or instances
    return thumbnail_response(chosen[len(chosen) // 2])


@role_required(Role.VIEWER)
def instance_thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    return thumbnail_response(get_object_or_404(Instance, pk=pk))


@role_required(Role.ADMINISTRATOR)
def study_delete(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_object_or_404(Study.objects.select_related("patient"), pk=pk)
    if request.method == "POST":
        removed = delete_studies([study])
        messages.success(request, f"Deleted the study and its {removed} instance(s).")
        return redirect("archive:study_list")
    return render(request, "archive/study_confirm_delete.html",
                  {"study": study, "crumbs": archive_crumbs(study, current="Delete")})


def recent_imports(request: HttpRequest) -> list[tuple[Job, list[Study], int]]:
    """The user's latest imports, each with (some of) the studies it archived."""
    rows = []
    for job in request_user(request).jobs.filter(kind="import")[:RECENT_IMPORTS]:
        studies = Study.objects.filter(series__instances__source_job=job).distinct()
        count = studies.count()
        rows.append((job, list(studies.select_related("patient")[:STUDY_LINKS_PER_IMPORT]),
                     count))
    return rows


def _import_context(request: HttpRequest, upload: UploadImportForm,
                    path: PathImportForm) -> dict[str, Any]:
    return {
        "upload_form": upload,
        "path_form": path,
        "import_roots": import_roots(),
        "upload_limit": upload_limit(),
        "recent_imports": recent_imports(request),
        "crumbs": [Crumb("Archive", reverse("archive:study_list")), Crumb("Import")],
    }


@role_required(Role.OPERATOR)
def import_page(request: HttpRequest) -> HttpResponse:
    upload_form, path_form = UploadImportForm(), PathImportForm()
    if request.method == "POST":
        request.FILES  # noqa: B018 - parse the body now: the upload handler flags its size
        if getattr(request, "upload_too_large", False):
            messages.error(request, too_large_message())
            return redirect("archive:import")
        if request.POST.get("source") == "path":
            path_form = PathImportForm(request.POST)
            if path_form.is_valid():
                return _start_import(request, {"path": path_form.cleaned_data["path"],
                                               "duplicates": path_form.cleaned_data["duplicates"]})
        else:
            upload_form = UploadImportForm(request.POST, request.FILES)
            files = request.FILES.getlist("upload")
            if not files:
                upload_form.add_error("upload", "Choose at least one file.")
            elif upload_form.is_valid():
                stage = stage_uploads(files, request.POST.getlist("upload_path"))
                policy = upload_form.cleaned_data["duplicates"]
                return _start_import(request, {"upload": stage, "duplicates": policy})
    return render(request, "archive/import.html", _import_context(request, upload_form, path_form))


def _start_import(request: HttpRequest, params: dict[str, Any]) -> HttpResponse:
    try:
        with transaction.atomic():
            job = create_job("import", params, owner=request_user(request))
    except ParamsInvalid as exc:
        remove_staged_upload(params.get("upload"))
        messages.error(request, str(exc))
        return redirect("archive:import")
    return redirect(job)
