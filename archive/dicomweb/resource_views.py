"""WADO-RS metadata, bulk data and frames under /dicomweb/: thin adapters over metadata.py
and frames.py. Each answer is decided (404, 406, 400 with the reason) before the first byte
of the body is sent."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.views.decorators.http import require_safe

from archive.dicomweb import frames, metadata, wado
from archive.dicomweb.accept import new_boundary
from archive.dicomweb.auth import dicomweb_role, refusal
from archive.dicomweb.multipart import Part, body
from archive.dicomweb.views import DICOM_JSON, DICOM_XML, dicom_model_media_type, public_base
from archive.models import Instance
from archive.storage import absolute_path
from console.roles import Role

logger = logging.getLogger(__name__)


def _multipart(parts: Iterator[Part], media_type: str, what: str) -> StreamingHttpResponse:
    boundary = new_boundary()
    return StreamingHttpResponse(
        body(parts, boundary, what),
        content_type=f'multipart/related; type="{media_type}"; boundary={boundary}')


def _instances(study: str, series: str | None, instance: str | None) -> list[Instance]:
    return list(wado.instances(study, series, instance).select_related("series__study"))


@login_not_required
@require_safe
@dicomweb_role(Role.VIEWER)
def instance_metadata(request: HttpRequest, study: str, series: str | None = None,
                      instance: str | None = None) -> HttpResponseBase:
    """The study's, series' or instance's metadata: a DICOM JSON array, or one PS3.19 XML
    part per instance."""
    media_type = dicom_model_media_type(request.headers.get("Accept", ""))
    if media_type is None:
        return refusal(406, f"metadata is {DICOM_JSON} or multipart/related; "
                            f'type="{DICOM_XML}", not {request.headers.get("Accept")}')
    try:
        found = _instances(study, series, instance)
    except wado.NotFound as exc:
        return refusal(404, str(exc).capitalize() + ".")
    base = public_base(request)
    if media_type == DICOM_JSON:
        return StreamingHttpResponse(metadata.metadata_json(base, found),
                                     content_type=DICOM_JSON)
    parts = (Part(DICOM_XML, metadata.instance_url(base, i) + "/metadata",
                  metadata.instance_metadata_xml(base, i)) for i in found)
    return _multipart(parts, DICOM_XML, f"the metadata of study {study}")


@login_not_required
@require_safe
@dicomweb_role(Role.VIEWER)
def instance_frames(request: HttpRequest, study: str, series: str, instance: str,
                    frame_list: str) -> HttpResponseBase:
    """The listed frames of an instance, one part each, in the representation asked."""
    accept = request.headers.get("Accept", "")
    try:
        found = _instances(study, series, instance)[0]
        source = frames.PixelSource.open(absolute_path(found.file_path))
        indexes = frames.parse_frame_list(frame_list, source.frame_count)
        wanted = frames.representation(found.transfer_syntax_uid, accept)
    except wado.NotFound as exc:
        return refusal(404, str(exc).capitalize() + ".")
    except frames.BadFrameList as exc:
        return refusal(400, str(exc).capitalize() + ".")
    except wado.NotAcceptable as exc:
        logger.info("WADO-RS %s refused: %s", request.get_full_path(), exc)
        return refusal(406, str(exc).capitalize() + ".")
    location = request.build_absolute_uri()
    parts = (Part(wanted.content_type, location, data)
             for data in frames.frame_bytes(source.path, indexes, wanted))
    response = _multipart(parts, wanted.media_type, f"frames {frame_list} of {instance}")
    response["Content-Type"] += f"; transfer-syntax={wanted.syntax}"
    return response


@login_not_required
@require_safe
@dicomweb_role(Role.VIEWER)
def bulkdata(request: HttpRequest, study: str, series: str, instance: str,
             element: str) -> HttpResponseBase:
    """A BulkDataURI of the metadata: the element's value (pixel data frame by frame)."""
    try:
        found = _instances(study, series, instance)[0]
        media_type, parts = metadata.bulk_parts(public_base(request), found, element.strip("/"),
                                                request.headers.get("Accept", ""))
    except wado.NotFound as exc:
        return refusal(404, str(exc).capitalize() + ".")
    except wado.NotAcceptable as exc:
        logger.info("WADO-RS %s refused: %s", request.get_full_path(), exc)
        return refusal(406, str(exc).capitalize() + ".")
    return _multipart(parts, media_type, f"bulk data {element} of {instance}")

