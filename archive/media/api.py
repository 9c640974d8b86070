"""REST endpoints of the media (mounted under /api/): the media built, and the records of a
DICOMDIR read from the server (the same reading as the page, as JSON)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from archive.media.models import Medium
from archive.media.views import Reading, read_folder, read_medium
from console.api import roles
from console.roles import Role

router = Router(tags=["Media"])


class MediumOut(Schema):
    id: int
    job: int | None
    format: str
    location: str
    present: bool
    fileset_id: str
    profile: str
    size_bytes: int
    dicomdir_bytes: int
    patients: int
    studies: int
    series: int
    instances: int
    contents: list[dict[str, Any]]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_job(medium: Medium) -> int | None:
        return medium.job_id

    @staticmethod
    def resolve_present(medium: Medium) -> bool:
        return medium.is_present


class ProblemOut(Schema):
    offset: int | None
    message: str


class FindingOut(Schema):
    record: str
    finding: str
    message: str


class DicomdirOut(Schema):
    label: str
    fileset_id: str
    descriptor_file_id: list[str] | None
    consistency_flag: int
    file_size: int
    stopped: str
    problems: list[ProblemOut]
    files_checked: bool
    findings: list[FindingOut]
    records: list[dict[str, Any]]


def _out(found: Reading) -> dict[str, Any]:
    if found.reading is None:
        raise HttpError(422, f"{found.label}: {found.error}")
    reading, directory = found.reading, found.reading.directory
    return {
        "label": found.label, "fileset_id": directory.fileset_id,
        "descriptor_file_id": list(directory.descriptor_file_id)
        if directory.descriptor_file_id else None,
        "consistency_flag": directory.consistency_flag, "file_size": reading.file_size,
        "stopped": reading.stopped,
        "problems": [{"offset": p.offset, "message": p.message} for p in reading.problems],
        "files_checked": found.files_checked,
        "findings": [{"record": ".".join(map(str, f.path)) + ".", "finding": f.finding.value,
                      "message": f.message} for f in found.findings],
        "records": [row.as_dict() for row in found.rows]}


@router.get("/media", response=list[MediumOut], auth=roles(Role.VIEWER))
@paginate(LimitOffsetPagination)
def list_media(request: HttpRequest) -> Any:
    return Medium.objects.all()


@router.get("/media/{medium_id}", response=MediumOut, auth=roles(Role.VIEWER))
def get_medium(request: HttpRequest, medium_id: int) -> Any:
    return get_object_or_404(Medium, pk=medium_id)


@router.get("/media/{medium_id}/dicomdir", response=DicomdirOut, auth=roles(Role.VIEWER))
def medium_dicomdir(request: HttpRequest, medium_id: int) -> Any:
    medium = get_object_or_404(Medium, pk=medium_id)
    if not medium.is_present:
        raise HttpError(410, f"medium {medium_id} is no longer on disk")
    return _out(read_medium(medium))


@router.get("/dicomdir", response=DicomdirOut, auth=roles(Role.VIEWER))
def read_dicomdir_path(request: HttpRequest, path: str) -> Any:
    """The records of the DICOMDIR at (or in) ``path``, under an import or export root, with
    its referenced files checked."""
    return _out(read_folder(path))
