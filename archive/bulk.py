"""Actions on a selection of archived studies or series: send to a remote AE (a ``store``
job through the job services), delete (Administrators) and download as a ZIP file."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.db import transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from archive.indexing import delete_studies
from archive.models import Instance, Series, Study
from archive.zips import instances_for, safe_part, series_folder, study_folder, zip_stream
from console.roles import Role, request_user, role_required
from netjobs.jobs.services import ParamsInvalid, RoleMissing, create_job
from netjobs.models import AEKind, ApplicationEntity

NOTHING_SELECTED = "Select at least one study first (tick its box in the list)."
NEXT_PARAM = "next"


def selected_ids(data: QueryDict, name: str) -> list[int]:
    """The IDs ticked or given under ``name``; anything that is not a number is ignored."""
    return sorted({int(value) for value in data.getlist(name) if value.strip().isdecimal()})


def existing_ids(model: type[Study] | type[Series] | type[Instance], ids: list[int]) -> list[int]:
    """The IDs that still name an object of ``model`` (a list may be stale)."""
    if not ids:
        return []
    return sorted(model.objects.filter(pk__in=ids).values_list("pk", flat=True))


def back(request: HttpRequest) -> HttpResponse:
    """Back where the action came from (the list with its filters), if that is this site; on
    the first page, since a deletion may have removed the page the user was on."""
    target = request.POST.get(NEXT_PARAM) or request.GET.get(NEXT_PARAM) or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("archive:study_list")
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    return redirect(urlunsplit(parts._replace(query=urlencode(query))))


def remote_aes() -> list[ApplicationEntity]:
    """The peers a selection can be sent to, for the "Send to…" menus."""
    return list(ApplicationEntity.objects.filter(kind=AEKind.REMOTE).order_by("ae_title"))


@require_POST
@role_required(Role.OPERATOR)
def send_selection(request: HttpRequest) -> HttpResponse:
    """Start a store job for the selected studies, series or instances; show the job."""
    selection = {name: existing_ids(model, selected_ids(request.POST, key)) for name, key, model
                 in (("studies", "study", Study), ("series", "series", Series),
                     ("instances", "instance", Instance))}
    if not any(selection.values()):
        messages.error(request, NOTHING_SELECTED)
        return back(request)
    ae = request.POST.get("ae", "")
    if not ae.isdecimal():
        messages.error(request, "Choose the AE to send to.")
        return back(request)
    params = {"ae": int(ae), **{name: ids for name, ids in selection.items() if ids}}
    try:
        with transaction.atomic():
            job = create_job("store", params, owner=request_user(request))
    except (ParamsInvalid, RoleMissing) as exc:
        messages.error(request, f"Could not start the send: {exc}")
        return back(request)
    return redirect(job)


@require_POST
@role_required(Role.ADMINISTRATOR)
def delete_selection(request: HttpRequest) -> HttpResponse:
    studies = list(Study.objects.filter(pk__in=selected_ids(request.POST, "study")))
    if not studies:
        messages.error(request, NOTHING_SELECTED)
        return back(request)
    removed = delete_studies(studies)
    messages.success(request, f"Deleted {len(studies)} stud{'y' if len(studies) == 1 else 'ies'}"
                              f" and their {removed} instance(s).")
    return back(request)


@require_GET
@role_required(Role.VIEWER)
def download_selection(request: HttpRequest) -> HttpResponseBase:
    """The selected studies (``study``) and series (``series``) as one streamed ZIP."""
    studies, series = selected_ids(request.GET, "study"), selected_ids(request.GET, "series")
    if not studies and not series:
        messages.error(request, NOTHING_SELECTED)
        return back(request)
    chosen = instances_for(studies, series)
    if not chosen.exists():
        messages.error(request, "None of the selected studies or series is in the archive "
                                "(any more): nothing to download.")
        return back(request)
    response = StreamingHttpResponse(zip_stream(chosen.iterator(chunk_size=500)),
                                     content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(
        True, f"{zip_name(studies, series)}.zip")
    return response


def zip_name(studies: list[int], series: list[int]) -> str:
    """The download's name by DICOM identity: patient and study (or series) when one."""
    if len(studies) == 1 and not series:
        study = Study.objects.select_related("patient").filter(pk=studies[0]).first()
        if study is not None:
            return safe_part(f"{study.patient.patient_id}_{study_folder(study)}", "study")
    if len(series) == 1 and not studies:
        one = Series.objects.select_related("study__patient").filter(pk=series[0]).first()
        if one is not None:
            patient = one.study.patient.patient_id
            return safe_part(f"{patient}_{study_folder(one.study)}_{series_folder(one)}",
                             "series")
    return "dicom-selection"
