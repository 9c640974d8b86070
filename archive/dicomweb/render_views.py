"""WADO-RS rendered and thumbnail resources under /dicomweb/ (PS3.18 10.4.1.1.3-4): thin
adapters over rendered.py, and their routes (included by urls.py).

400 for a bad parameter or frame number, 404 for an unknown UID, 406 when nothing the Accept
header (or the ``accept`` query parameter, which wins) takes can be made, 422 when the
decoder or the rendering budget refuses the frame, each with the reason in plain text; a
Warning header (299) says what was not done as asked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.http.response import FileResponse
from django.urls import path
from django.views.decorators.http import require_safe

from archive.dicomweb import rendered, wado
from archive.dicomweb.accept import new_boundary
from archive.dicomweb.auth import dicomweb_role, refusal
from archive.dicomweb.rendered import RenderRequest, Resource
from archive.models import Instance
from archive.rendering import RenderRefused
from console.roles import Role

logger = logging.getLogger(__name__)


def _with_warnings(response: HttpResponseBase, request: HttpRequest,
                   warnings: list[str]) -> HttpResponseBase:
    """The Warning header (PS3.18 8.4.3): code 299, this host, each warning quoted."""
    if warnings:
        host = request.get_host()
        response["Warning"] = ", ".join(f'299 {host} "{warning.replace(chr(34), chr(39))}"'
                                        for warning in warnings)
    return response


def _parts(found: Sequence[Instance], ask: RenderRequest, media_type: str, boundary: str,
           base_url: str) -> Iterator[bytes]:
    """One image part per instance, each with its rendered resource as Content-Location.
    A failure while drawing is logged and ends the body without its closing boundary, so a
    client sees a broken response, never a short one that looks whole."""
    one = replace(ask, accept=media_type)
    for instance in found:
        location = (f"{base_url}/studies/{instance.series.study.study_instance_uid}/series/"
                    f"{instance.series.series_instance_uid}/instances/"
                    f"{instance.sop_instance_uid}/rendered")
        try:
            body = rendered.render_instance(instance, one).body
        except Exception:
            logger.exception("WADO-RS rendered: instance %s could not be drawn; the response "
                             "is cut", instance.sop_instance_uid)
            return
        yield (f"--{boundary}\r\nContent-Type: {media_type}\r\nContent-Location: {location}"
               f"\r\n\r\n").encode() + body + b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def _multipart(request: HttpRequest, found: list[Instance], ask: RenderRequest,
               media_type: str) -> HttpResponseBase:
    pictures = [instance for instance in found if rendered.is_picture(instance)]
    if not pictures:
        raise rendered.NotRenderable("None of these instances has pixel data to render.")
    boundary = new_boundary()
    base = request.build_absolute_uri("/dicomweb").rstrip("/")
    response = StreamingHttpResponse(
        _parts(pictures, ask, media_type, boundary, base),
        content_type=f'multipart/related; type="{media_type}"; boundary={boundary}')
    notes = list(ask.params.warnings)
    if len(pictures) < len(found):
        notes.append(f"{len(found) - len(pictures)} instance(s) without pixel data are left "
                     f"out")
    return _with_warnings(response, request, notes)


def respond(request: HttpRequest, resource: Resource, study: str, series: str | None = None,
            instance: str | None = None, frames: str | None = None) -> HttpResponseBase:
    try:
        ask = RenderRequest(
            resource=resource,
            frames=rendered.parse_frames(frames) if frames is not None else None,
            params=rendered.parse_params({k: request.GET.getlist(k) for k in request.GET}),
            accept=request.GET.get("accept") or request.headers.get("Accept", ""))
        found = wado.instances(study, series, instance)
        notes: list[str] = []
        if instance is None and resource is Resource.RENDERED:
            try:
                wanted = rendered.negotiate(ask.accept, rendered.IMAGE_TYPES, multipart=True)
            except rendered.NotRenderable:
                wanted = None  # the representative may be a document the header accepts
            if wanted is not None and wanted.multipart:
                return _multipart(request, list(found.select_related("series__study")), ask,
                                  wanted.media_type)
        chosen = rendered.representative(found, resource) if instance is None else found.get()
        total = found.count()
        if instance is None and resource is Resource.RENDERED and total > 1:
            notes.append(f"{'series' if series else 'study'} has {total} instances; this is "
                         f"{chosen.sop_instance_uid} (ask multipart/related; "
                         f"type=image/jpeg for each)")
        result = rendered.render_instance(chosen, ask)
    except wado.NotFound as exc:
        return refusal(404, str(exc).capitalize() + ".")
    except rendered.BadParameter as exc:
        logger.info("WADO-RS %s refused: %s", request.get_full_path(), exc)
        return refusal(400, str(exc))
    except rendered.NotRenderable as exc:
        logger.info("WADO-RS %s refused: %s", request.get_full_path(), exc)
        return refusal(406, str(exc))
    except RenderRefused as exc:
        logger.warning("WADO-RS %s cannot be rendered: %s", request.get_full_path(), exc)
        return refusal(422, str(exc))
    except OSError as exc:
        logger.exception("WADO-RS %s: the stored file cannot be read", request.get_full_path())
        return refusal(500, f"The stored file cannot be read: {exc}")
    response: HttpResponseBase
    if result.file is not None:
        response = FileResponse(result.file, content_type=result.media_type)
    else:
        response = HttpResponse(result.body, content_type=result.media_type)
    if resource is Resource.THUMBNAIL:
        response["Cache-Control"] = "private, max-age=3600"
    return _with_warnings(response, request, notes + result.warnings)


def _view(resource: Resource) -> Any:
    @login_not_required
    @require_safe
    @dicomweb_role(Role.VIEWER)
    def view(request: HttpRequest, **uids: str) -> HttpResponseBase:
        return respond(request, resource, **uids)

    view.__name__ = f"wado_{resource}"
    return view


rendered_view = _view(Resource.RENDERED)
thumbnail_view = _view(Resource.THUMBNAIL)

_INSTANCE = "dicomweb/studies/<str:study>/series/<str:series>/instances/<str:instance>"
urlpatterns = [
    path(f"{prefix}/{resource}", view, name=f"{name}_{resource}")
    for prefix, name in (
        ("dicomweb/studies/<str:study>", "study"),
        ("dicomweb/studies/<str:study>/series/<str:series>", "series"),
        (_INSTANCE, "instance"),
        (f"{_INSTANCE}/frames/<str:frames>", "frames"),
    )
    for resource, view in ((Resource.RENDERED, rendered_view),
                           (Resource.THUMBNAIL, thumbnail_view))
]
