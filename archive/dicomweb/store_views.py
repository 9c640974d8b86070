"""STOW-RS (PS3.18 10.5) under /dicomweb/: a thin adapter over stow.py, and the two routes
it shares with QIDO-RS and WADO-RS, where POST stores and GET/HEAD go on to views.py.

A caller authenticated by a bearer token needs no CSRF token (nothing of its browser's is
sent on its behalf); one authenticated by its session cookie is CSRF-checked as any form
of the console is (the X-CSRFToken header).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from archive.dicomweb import stow, views
from archive.dicomweb.accept import media_ranges
from archive.dicomweb.auth import dicomweb_role, refusal
from archive.dicomweb.stow_multipart import Limits, Refused, read_parts
from archive.dicomweb.views import public_base
from archive.inspect.nativexml import to_native_xml
from archive.models import DuplicatePolicy
from console.roles import Role

logger = logging.getLogger(__name__)

DICOM_JSON = "application/dicom+json"
DICOM_XML = "application/dicom+xml"
MAX_WARNINGS = 20


def response_type(accept: str) -> str | None:
    """DICOM_JSON or DICOM_XML as the Accept header asks; None when it asks for neither."""
    for media in media_ranges(accept):
        if media.kind in (DICOM_JSON, "application/json", "*/*", "application/*"):
            return DICOM_JSON
        if media.kind in (DICOM_XML, "application/xml") or (
                media.kind == "multipart/related"
                and media.parameters.get("type", "").lower() == DICOM_XML):
            return DICOM_XML
    return None


def body_reader(request: HttpRequest) -> Callable[[int], bytes]:
    """How to read the body in chunks. A chunked body has no Content-Length, so Django's
    request stream reads as empty: the server's own stream is read then (gunicorn decodes
    the chunks; Django's development server gives an empty stream, answered 400)."""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not request.META.get("CONTENT_LENGTH"):
        return request.META["wsgi.input"].read
    return request.read


def _limits() -> Limits:
    return Limits(total=settings.DICOMWEB_STOW_MAX_BYTES,
                  part=settings.DICOMWEB_STOW_MAX_PART_BYTES)


def _check_length(request: HttpRequest, limits: Limits) -> None:
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limits.total:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                      f"the request body ({declared} bytes) is larger than "
                      f"DICOMWEB_STOW_MAX_BYTES ({limits.total} bytes)")


def _warn(response: HttpResponseBase, request: HttpRequest, notes: list[str]) -> None:
    """A Warning header (PS3.18 8.4.3, code 299) with why instances failed or warned."""
    if not notes:
        return
    host = request.get_host()
    shown = [note.replace('"', "'").replace("\r", " ").replace("\n", " ")[:300]
             .encode("ascii", "replace").decode() for note in notes[:MAX_WARNINGS]]
    if len(notes) > MAX_WARNINGS:
        shown.append(f"and {len(notes) - MAX_WARNINGS} more")
    response["Warning"] = ", ".join(f'299 {host} "{note}"' for note in shown)


@dicomweb_role(Role.OPERATOR)
def store(request: HttpRequest, study: str | None = None) -> HttpResponseBase:
    """Store the request's instances; the Store Instances Response Module as asked."""
    answer_type = response_type(request.headers.get("Accept", ""))
    if answer_type is None:
        return refusal(406, f"STOW-RS answers {DICOM_JSON} or {DICOM_XML}, not "
                            f"{request.headers.get('Accept')}")
    user = request.user.get_username()
    try:
        payload, boundary = stow.request_type(request.META.get("CONTENT_TYPE", ""))
        limits = _limits()
        _check_length(request, limits)
        parts = read_parts(body_reader(request), boundary, limits)
        target = stow.Target(study, DuplicatePolicy(settings.DICOMWEB_STOW_DUPLICATE_POLICY),
                             f"STOW-RS, {user}")
        outcome = stow.store_parts(parts, payload, target)
    except Refused as exc:
        logger.info("STOW-RS %s by %s refused (%d): %s", request.path, user, exc.status, exc)
        return refusal(exc.status, str(exc))
    except OSError as exc:  # the incoming area cannot be written: out of space, permissions
        logger.error("STOW-RS %s by %s: cannot write the parts: %s", request.path, user, exc)
        return refusal(503, f"The archive cannot take the request now: {exc}")
    for note in outcome.notes:
        logger.warning("STOW-RS %s by %s: %s", request.path, user, note)
    logger.info("STOW-RS %s by %s: %d stored, %d failed", request.path, user,
                len(outcome.stored), len(outcome.failed))
    ds = stow.response_dataset(outcome, public_base(request), study)
    body = to_native_xml(ds) if answer_type == DICOM_XML else json.dumps(ds.to_json_dict())
    response = HttpResponse(body, status=outcome.status, content_type=answer_type)
    _warn(response, request, outcome.notes)
    return response


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        logger.warning("STOW-RS %s refused: CSRF check failed: %s", request.path, reason)
        return refusal(403, f"CSRF check failed ({reason}). A POST authenticated by the "
                            f"session cookie needs the X-CSRFToken header; one with "
                            f"'Authorization: Bearer <token>' needs none.")


def csrf_refusal(request: HttpRequest) -> HttpResponseBase | None:
    """For a caller authenticated by its session: the CSRF refusal, if the check fails."""
    if not request.user.is_authenticated:  # anonymous, or a bearer token (checked later)
        return None
    check = _CsrfCheck(lambda _request: HttpResponse())
    return check.process_view(request, store, (), {})


def _dispatch(read_view: Any) -> Any:
    @csrf_exempt  # checked for session callers by csrf_refusal
    @login_not_required
    def view(request: HttpRequest, **uids: str) -> HttpResponseBase:
        if request.method in ("GET", "HEAD"):
            return read_view(request, **uids)
        if request.method == "POST":
            return csrf_refusal(request) or store(request, uids.get("study"))
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])

    view.__name__ = f"stow_or_{read_view.__name__}"
    return view


studies = _dispatch(views.studies)  # POST /dicomweb/studies; GET is QIDO-RS
study = _dispatch(views.retrieve)  # POST /dicomweb/studies/{study}; GET is WADO-RS
