"""QIDO-RS searches (PS3.18 10.6) and WADO-RS retrieval (10.4) under /dicomweb/: thin
adapters over qido.py and wado.py.

Answers are DICOM JSON (``application/dicom+json``) or, when the Accept header asks for
``multipart/related; type="application/dicom+xml"``, one PS3.19 Native DICOM Model part per
match. A Warning header (PS3.18 8.4.3, code 299) says what the server did not do as asked.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.views.decorators.http import require_safe

from archive.dicomweb import wado
from archive.dicomweb.accept import media_ranges, new_boundary
from archive.dicomweb.auth import dicomweb_role, refusal
from archive.dicomweb.qido import Level, SearchError, as_datasets, parse_search, run_search
from archive.inspect.nativexml import to_native_xml
from console.roles import Role

logger = logging.getLogger(__name__)

DICOM_JSON = "application/dicom+json"
DICOM_XML = "application/dicom+xml"


def dicom_model_media_type(accept: str) -> str | None:
    """DICOM_JSON or DICOM_XML as the Accept header asks; None when it asks for neither."""
    for media in media_ranges(accept):
        if media.kind in (DICOM_JSON, "application/json", "*/*", "application/*"):
            return DICOM_JSON
        if media.kind == "multipart/related" and \
                media.parameters.get("type", "").lower() == DICOM_XML:
            return DICOM_XML
    return None


def public_base(request: HttpRequest) -> str:
    """The base URL of /dicomweb/ as clients reach it (DICOMWEB_PUBLIC_URL, else the
    request's own)."""
    return settings.DICOMWEB_PUBLIC_URL or request.build_absolute_uri("/dicomweb").rstrip("/")


def _warn(response: HttpResponseBase, request: HttpRequest, warnings: list[str]) -> None:
    """The Warning header (PS3.18 8.4.3): code 299, this host, each warning quoted."""
    if warnings:
        host = request.get_host()
        response["Warning"] = ", ".join(f'299 {host} "{warning}"' for warning in warnings)


def _xml(datasets: list[Any]) -> HttpResponse:
    boundary = new_boundary()
    parts = []
    for ds in datasets:
        parts.append(f"--{boundary}\r\nContent-Type: {DICOM_XML}\r\n\r\n".encode()
                     + to_native_xml(ds) + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return HttpResponse(body, content_type=f'multipart/related; type="{DICOM_XML}"; '
                                           f'boundary={boundary}')


def search(request: HttpRequest, level: Level, path_uids: dict[str, str]) -> HttpResponseBase:
    media_type = dicom_model_media_type(request.headers.get("Accept", ""))
    if media_type is None:
        return refusal(406, f"QIDO-RS answers {DICOM_JSON} or multipart/related; "
                            f'type="{DICOM_XML}", not {request.headers.get("Accept")}')
    params = {name: request.GET.getlist(name) for name in request.GET}
    try:
        found = parse_search(level, params, path_uids)
        results, more = run_search(found, public_base(request))
    except SearchError as exc:
        logger.info("QIDO-RS %s refused: %s", request.get_full_path(), exc)
        return refusal(400, str(exc))
    if more:
        found.warnings.append(f"There are more than {len(results)} matches; ask for the next "
                              f"ones with offset={found.offset + len(results)}.")
    response: HttpResponseBase
    if media_type == DICOM_XML:
        response = _xml(as_datasets(results))
    else:
        response = HttpResponse(json.dumps(results), content_type=DICOM_JSON)
    _warn(response, request, found.warnings)
    return response


def _view(level: Level, *uid_names: str) -> Any:
    @login_not_required
    @require_safe
    @dicomweb_role(Role.VIEWER)
    def view(request: HttpRequest, **uids: str) -> HttpResponseBase:
        return search(request, level, {name: uids[key] for key, name in
                                       zip(("study", "series"), uid_names, strict=False)})

    view.__name__ = f"qido_{level.lower()}_{len(uid_names)}"
    return view


studies = _view(Level.STUDY)
series = _view(Level.SERIES)
instances = _view(Level.IMAGE)
study_series = _view(Level.SERIES, "StudyInstanceUID")
study_instances = _view(Level.IMAGE, "StudyInstanceUID")
series_instances = _view(Level.IMAGE, "StudyInstanceUID", "SeriesInstanceUID")


@login_not_required
@require_safe
@dicomweb_role(Role.VIEWER)
def retrieve(request: HttpRequest, study: str, series: str | None = None,
             instance: str | None = None) -> HttpResponseBase:
    """The study's, series' or instance's files as multipart/related application/dicom."""
    try:
        wanted = wado.acceptable(request.headers.get("Accept", ""))
        deliveries = wado.deliveries(wado.instances(study, series, instance), wanted)
    except wado.NotFound as exc:
        return refusal(404, str(exc).capitalize() + ".")
    except wado.NotAcceptable as exc:
        logger.info("WADO-RS %s refused: %s", request.get_full_path(), exc)
        return refusal(406, str(exc))
    boundary = new_boundary()
    response = StreamingHttpResponse(
        wado.multipart(deliveries, boundary),
        content_type=f'multipart/related; type="{wado.DICOM}"; boundary={boundary}')
    syntaxes = {d.syntax for d in deliveries}
    if len(syntaxes) == 1:
        response["Content-Type"] += f"; transfer-syntax={syntaxes.pop()}"
    return response
