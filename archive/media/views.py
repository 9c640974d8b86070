"""The media pages: the dashboard of the media built, a medium's page, and the DICOMDIR
reader (a DICOMDIR under an import or export root, uploaded, or of a built medium) with its
record tree, what is wrong with it, and the actions on it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from archive.breadcrumbs import Crumb
from archive.bulk import NOTHING_SELECTED, back, existing_ids, selected_ids
from archive.conversions.jobs.roots import export_roots
from archive.imports.roots import PathRefused, import_roots, is_under, resolve_under
from archive.media.check import RecordFinding, check_files
from archive.media.dicomdir.reader import DirectoryReading, NotADicomdir, read_dicomdir
from archive.media.jobs.kinds import MediaKind
from archive.media.jobs.params import DICOMDIR, dicomdir_in
from archive.media.jobs.run import dicomdir_copy
from archive.media.listing import RecordRow, record_rows, text_listing
from archive.media.models import Medium, MediumFormat
from archive.models import Study
from console.roles import Role, has_role, request_user, role_required
from netjobs.jobs.services import ParamsInvalid, RoleMissing, create_job
from netjobs.models import Job

PAGE_SIZE = 50
RECENT_JOBS = 10
ROWS_SHOWN = 2000  # records on the page; the text listing has them all
DICOMDIR_UPLOAD_MAX_BYTES = 256_000_000


@dataclass
class Reading:
    """A DICOMDIR read for a page: where it is, the records, and what is wrong."""

    label: str
    reading: DirectoryReading | None = None
    error: str = ""
    rows: list[RecordRow] = field(default_factory=list)
    findings: list[RecordFinding] = field(default_factory=list)
    files_checked: bool = False
    folder: Path | None = None  # the File-set folder, when it is on the server
    editable: bool = False  # under an export root: update, delete and compact apply
    importable: bool = False  # under an import root

    @property
    def shown_rows(self) -> list[RecordRow]:
        return self.rows[:ROWS_SHOWN]

    @property
    def hidden_rows(self) -> int:
        return max(0, len(self.rows) - ROWS_SHOWN)


def reading_roots() -> list[Path]:
    return [*import_roots(), *export_roots()]


def read_folder(raw: str) -> Reading:
    """The DICOMDIR at (or in) ``raw``, a path under an import or export root, with its files
    checked against its records."""
    try:
        target = resolve_under(raw, reading_roots(), "reading DICOMDIRs")
    except PathRefused as exc:
        return Reading(raw, error=str(exc))
    dicomdir = target if target.is_file() else dicomdir_in(target)
    if dicomdir is None:
        return Reading(raw, error=f"{target} is not a DICOMDIR and holds none")
    folder = dicomdir.parent
    found = _read(str(dicomdir), dicomdir)
    found.folder = folder
    found.editable = dicomdir.name == DICOMDIR and is_under(folder, export_roots())
    found.importable = is_under(folder, import_roots())
    if found.reading is not None:
        found.findings = check_files(found.reading.directory, folder, reading_roots())
        found.files_checked = True
        found.rows = record_rows(found.reading.directory, found.findings)
    return found


def _read(label: str, path: Path) -> Reading:
    try:
        reading = read_dicomdir(path)
    except NotADicomdir as exc:
        return Reading(label, error=f"not a DICOMDIR: {exc}")
    except OSError as exc:
        return Reading(label, error=f"cannot be read: {exc.strerror or exc}")
    return Reading(label, reading=reading, rows=record_rows(reading.directory))


def read_medium(medium: Medium) -> Reading:
    if medium.format == MediumFormat.FOLDER:
        found = read_folder(medium.location)
        found.label = medium.location
        return found
    copy = dicomdir_copy(medium.job_id) if medium.job_id else None
    if copy is None or not copy.is_file():
        return Reading(medium.location, error="its DICOMDIR is gone with the job's results")
    return _read(f"the DICOMDIR of {Path(medium.location).name}", copy)


# pages --------------------------------------------------------------------------------------
@role_required(Role.VIEWER)
def media_home(request: HttpRequest) -> HttpResponse:
    page = Paginator(Medium.objects.select_related("job", "job__owner"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    jobs = Job.objects.filter(kind__in=[k.value for k in MediaKind]).select_related(
        "owner")[:RECENT_JOBS]
    return render(request, "media/home.html", {
        "page_obj": page, "recent_jobs": jobs, "crumbs": [Crumb("Media")],
        "is_operator": has_role(request.user, Role.OPERATOR),
        "upload_max": DICOMDIR_UPLOAD_MAX_BYTES})


@role_required(Role.VIEWER)
def medium_detail(request: HttpRequest, pk: int) -> HttpResponse:
    medium = get_object_or_404(Medium.objects.select_related("job", "last_job"), pk=pk)
    found = read_medium(medium) if medium.is_present else Reading(
        medium.location, error="the medium is no longer on disk")
    if request.GET.get("format") == "text" and found.reading is not None:
        return _text(found, f"medium-{medium.pk}-dicomdir.txt")
    return render(request, "media/medium_detail.html", {
        "medium": medium, "found": found, **_actions(request, found),
        "crumbs": [Crumb("Media", reverse("media:home")), Crumb(str(medium))]})


@require_http_methods(["GET", "POST"])
@role_required(Role.VIEWER)
def dicomdir_page(request: HttpRequest) -> HttpResponseBase:
    """Read a DICOMDIR: ``?path=`` on the server, or an uploaded file (POST)."""
    found: Reading | None = None
    if request.method == "POST":
        found = _read_upload(request)
    elif request.GET.get("path"):
        found = read_folder(request.GET["path"])
        if request.GET.get("format") == "text" and found.reading is not None:
            return _text(found, "dicomdir.txt")
    return render(request, "media/dicomdir.html", {
        "found": found, "path": request.GET.get("path", ""), **_actions(request, found),
        "upload_max": DICOMDIR_UPLOAD_MAX_BYTES,
        "crumbs": [Crumb("Media", reverse("media:home")), Crumb("Read a DICOMDIR")]},
        status=422 if found is not None and found.error else 200)


def _read_upload(request: HttpRequest) -> Reading:
    upload = request.FILES.get("dicomdir")
    if upload is None:
        return Reading("upload", error="Choose a DICOMDIR file to read.")
    if upload.size is not None and upload.size > DICOMDIR_UPLOAD_MAX_BYTES:
        return Reading(upload.name or "upload",
                       error=f"{upload.size} bytes: larger than any DICOMDIR the console reads "
                             f"({DICOMDIR_UPLOAD_MAX_BYTES} bytes)")
    with tempfile.NamedTemporaryFile(prefix="dicomdir-", dir=settings.FILE_UPLOAD_TEMP_DIR) \
            as temporary:
        for chunk in upload.chunks():
            temporary.write(chunk)
        temporary.flush()
        return _read(f"uploaded {upload.name}", Path(temporary.name))


def _text(found: Reading, name: str) -> HttpResponse:
    assert found.reading is not None
    response = HttpResponse(text_listing(found.reading, found.rows),
                            content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _actions(request: HttpRequest, found: Reading | None) -> dict[str, object]:
    operator = has_role(request.user, Role.OPERATOR)
    folder = found.folder if found is not None else None
    query = urlencode({"fileset": str(folder)}) if folder is not None else ""
    return {"is_operator": operator, "fileset_query": query,
            "can_edit": operator and found is not None and found.editable,
            "can_import": operator and found is not None and found.importable}


# actions ------------------------------------------------------------------------------------
@require_POST
@role_required(Role.OPERATOR)
def delete_selected(request: HttpRequest) -> HttpResponse:
    """The ticked records, into the delete form for a last look (nothing changes yet)."""
    fileset = request.POST.get("fileset", "")
    chosen = {name: [v for v in request.POST.getlist(name) if v.strip()] for name in
              ("sop_instance_uids", "series_uids", "study_uids", "patient_ids")}
    if not any(chosen.values()):
        messages.error(request, "Tick the records to delete first.")
        target = request.POST.get("next", "")
        safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure())
        return redirect(target if safe and target else reverse("media:home"))
    query = urlencode({"fileset": fileset, **{n: "\n".join(v) for n, v in chosen.items() if v}})
    return redirect(reverse("netjobs:job_new", args=[MediaKind.DELETE.value]) + "?" + query)


@require_POST
@role_required(Role.OPERATOR)
def import_medium(request: HttpRequest) -> HttpResponse:
    """An import job for a built medium (``medium``) or a medium under an import root."""
    if request.POST.get("medium", "").isdecimal():
        params: dict[str, object] = {"medium": int(request.POST["medium"])}
    else:
        params = {"path": request.POST.get("path", "")}
    try:
        with transaction.atomic():
            job = create_job("import", params, owner=request_user(request))
    except ParamsInvalid as exc:
        messages.error(request, "; ".join(e.msg for e in exc.errors))
        return redirect(reverse("media:home"))
    except RoleMissing as exc:
        return HttpResponse(str(exc), status=403)
    messages.success(request, f"Started import job {job.pk}.")
    return redirect(job)


@role_required(Role.OPERATOR)
def burn_selection(request: HttpRequest) -> HttpResponse:
    """The studies ticked in the archive list (``study``), or those an import job archived
    (``job``), into the mkmedia form."""
    job = request.GET.get("job", "")
    if job.isdecimal():
        studies = list(Study.objects.filter(series__instances__source_job_id=int(job)).distinct()
                       .order_by("pk").values_list("pk", flat=True))
    else:
        studies = existing_ids(Study, selected_ids(request.GET, "study"))
    if not studies:
        messages.error(request, NOTHING_SELECTED)
        return back(request)
    query = urlencode({"studies": ",".join(map(str, studies))})
    return redirect(reverse("netjobs:job_new", args=[MediaKind.MKMEDIA.value]) + "?" + query)
