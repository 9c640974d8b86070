"""REST endpoints of the archive (mounted under /api/): search, detail, download, delete,
and imports of uploaded files."""

import datetime as dt
import io
import json
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate

from archive.filtersets import StudyFilterSet
from archive.imports.uploads import stage_uploads, too_large_message
from archive.indexing import delete_studies
from archive.inspect.dump import dump
from archive.inspect.filtering import filter_rows
from archive.inspect.info import image_info
from archive.inspect.loading import Unreadable, load
from archive.inspect.sources import InspectedFile, resolve_source
from archive.inspect.text import dump_text
from archive.inspect.validate import validate
from archive.inspect.views import dicom_json, native_xml, read_value
from archive.models import DuplicatePolicy, Instance, Series, Study
from archive.rendering import RenderRefused, Window
from archive.rendering import render as render_frame
from archive.storage import absolute_path
from console.api import roles
from console.roles import Role, request_user
from netjobs.jobs.services import ParamsInvalid, create_job

router = Router(tags=["archive"])


class PatientOut(Schema):
    patient_id: str
    issuer_of_patient_id: str
    patient_name: str
    birth_date: dt.date | None
    sex: str


class StudyOut(Schema):
    id: int
    study_instance_uid: str
    patient: PatientOut
    study_date: dt.date | None
    study_time: dt.time | None
    accession_number: str
    study_id: str
    study_description: str
    referring_physician_name: str
    modalities_in_study: list[str]
    number_of_series: int
    number_of_instances: int
    size_bytes: int

    @staticmethod
    def resolve_modalities_in_study(study: Study) -> list[str]:
        return study.modalities


class SeriesOut(Schema):
    id: int
    series_instance_uid: str
    modality: str
    series_number: int | None
    series_description: str
    body_part_examined: str
    number_of_instances: int


class StudyDetailOut(StudyOut):
    series: list[SeriesOut]

    @staticmethod
    def resolve_series(study: Study) -> Any:
        return list(study.series.all())


class InstanceOut(Schema):
    id: int
    sop_instance_uid: str
    sop_class_uid: str
    sop_class_name: str
    instance_number: int | None
    transfer_syntax_uid: str
    rows: int | None
    columns: int | None
    number_of_frames: int | None
    specific_character_set: str
    warnings: str
    file_size: int
    sha256: str
    source: str
    source_detail: str
    source_job: int | None
    received_at: dt.datetime

    @staticmethod
    def resolve_source_job(instance: Instance) -> int | None:
        return instance.source_job_id


class SeriesDetailOut(SeriesOut):
    study: int
    instances: list[InstanceOut]

    @staticmethod
    def resolve_study(series: Series) -> int:
        return series.study_id

    @staticmethod
    def resolve_instances(series: Series) -> Any:
        return list(series.instances.all())


class StudyFilters(Schema):
    patient_name: str | None = None
    patient_id: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    modality: str | None = None
    accession: str | None = None
    description: str | None = None
    sort: str | None = None


class ImportStarted(Schema):
    job: int
    files: int


@router.get("/studies", response=list[StudyOut])
@paginate(LimitOffsetPagination)
def search_studies(request: HttpRequest, filters: Query[StudyFilters]) -> Any:
    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    filterset = StudyFilterSet(data, queryset=Study.objects.select_related("patient"))
    if not filterset.is_valid():
        raise HttpError(422, "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()))
    return filterset.qs


@router.get("/studies/{study_id}", response=StudyDetailOut)
def get_study(request: HttpRequest, study_id: int) -> Study:
    return get_object_or_404(Study.objects.select_related("patient"), pk=study_id)


@router.delete("/studies/{study_id}", response={204: None}, auth=roles(Role.ADMINISTRATOR))
def delete_study(request: HttpRequest, study_id: int) -> Status[None]:
    delete_studies([get_object_or_404(Study, pk=study_id)])
    return Status(204, None)


@router.get("/series/{series_id}", response=SeriesDetailOut)
def get_series(request: HttpRequest, series_id: int) -> Series:
    return get_object_or_404(Series, pk=series_id)


@router.get("/instances/{instance_id}", response=InstanceOut)
def get_instance(request: HttpRequest, instance_id: int) -> Instance:
    return get_object_or_404(Instance, pk=instance_id)


@router.get("/instances/{instance_id}/file")
def download_instance(request: HttpRequest, instance_id: int) -> FileResponse:
    instance = get_object_or_404(Instance, pk=instance_id)
    path = absolute_path(instance.file_path)
    if not path.is_file():
        raise Http404("The file of this instance is missing from storage.")
    return FileResponse(path.open("rb"), as_attachment=True, content_type="application/dicom",
                        filename=f"{instance.sop_instance_uid}.dcm")


class DumpFormat(StrEnum):
    TEXT = "text"  # dcmdump's layout
    JSON = "json"  # DICOM JSON, PS3.18 Annex F
    XML = "xml"  # Native DICOM Model, PS3.19 Annex A
    ROWS = "rows"  # the dump as structured rows


class DumpRowOut(Schema):
    depth: int
    kind: str
    offset: int | None
    tag: str
    vr: str
    vr_from_dictionary: bool
    length: int | None
    undefined_length: bool
    vm: int
    value: str
    truncated: bool
    keyword: str
    name: str
    creator: str
    path: str
    fragment: int | None


def _instance_source(request: HttpRequest, instance_id: int) -> InspectedFile:
    return resolve_source(request_user(request), "instance", str(instance_id))


@router.get("/instances/{instance_id}/dump", response={200: list[DumpRowOut]})
def instance_dump(request: HttpRequest, instance_id: int,
                  format: DumpFormat = DumpFormat.JSON, q: str = "") -> Any:
    """The instance as dcmdump text, DICOM JSON, Native DICOM XML (both with BulkDataURIs
    pointing at /value), or the dump's rows (``format=rows``, filtered by ``q``)."""
    source = _instance_source(request, instance_id)
    try:
        if format == DumpFormat.JSON:
            return HttpResponse(json.dumps([dicom_json(request, source)], ensure_ascii=False),
                                content_type="application/dicom+json")
        if format == DumpFormat.XML:
            return HttpResponse(native_xml(request, source), content_type="application/dicom+xml")
    except Unreadable as exc:
        raise HttpError(422, str(exc)) from exc
    result = dump(source.path)
    if format == DumpFormat.TEXT:
        return HttpResponse(dump_text(result), content_type="text/plain; charset=utf-8")
    return [{**row.__dict__, "tag": row.tag_text} for row in filter_rows(result.rows, q)]


@router.get("/instances/{instance_id}/value")
def instance_value(request: HttpRequest, instance_id: int, path: str,
                   fragment: int | None = None) -> HttpResponse:
    """An element's value as stored in the file (or one encapsulated fragment)."""
    source = _instance_source(request, instance_id)
    data = read_value(source, dump(source.path), path, fragment)
    return HttpResponse(data, content_type="application/octet-stream")


class FindingOut(Schema):
    severity: str
    kind: str
    where: str
    keyword: str
    module: str
    message: str


class InfoOut(Schema):
    facts: dict[str, str]
    lossy: bool | None
    lossy_reason: str
    pixel_md5: str


@router.get("/instances/{instance_id}/validate", response=list[FindingOut])
def instance_validate(request: HttpRequest, instance_id: int) -> Any:
    """Findings like dciodvfy: missing Type 1/2, empty Type 1, wrong VR, bad values, VM."""
    try:
        return validate(load(_instance_source(request, instance_id).path).dataset)
    except Unreadable as exc:
        raise HttpError(422, str(exc)) from exc


@router.get("/instances/{instance_id}/info", response=InfoOut)
def instance_info(request: HttpRequest, instance_id: int) -> dict[str, Any]:
    info = image_info(_instance_source(request, instance_id).path)
    return {"facts": dict(info.facts), "lossy": info.lossy, "lossy_reason": info.lossy_reason,
            "pixel_md5": info.pixel_md5}


@router.get("/instances/{instance_id}/render")
def instance_render(request: HttpRequest, instance_id: int, frame: int = 1,
                    wc: float | None = None, ww: float | None = None,
                    format: str = "png") -> HttpResponse:
    """One frame as PNG or JPEG, windowed with wc/ww or the file's window."""
    source = _instance_source(request, instance_id)
    window = Window(wc, ww) if wc is not None and ww is not None and ww >= 1 else None
    try:
        image = render_frame(source.path, frame - 1, window)
    except RenderRefused as exc:
        raise HttpError(422, str(exc)) from exc
    output = io.BytesIO()
    as_jpeg = format == "jpeg"
    image.save(output, format="JPEG" if as_jpeg else "PNG", quality=92)
    return HttpResponse(output.getvalue(), content_type="image/jpeg" if as_jpeg else "image/png")


@router.post("/imports/upload", response={201: ImportStarted, 413: dict, 422: dict},
             auth=roles(Role.OPERATOR))
def import_upload(
    request: HttpRequest,
    files: File[list[UploadedFile]] = None,  # type: ignore[assignment]
    duplicates: Form[DuplicatePolicy] = DuplicatePolicy.KEEP_FIRST,
) -> Any:
    if getattr(request, "upload_too_large", False):
        return Status(413, {"detail": too_large_message()})
    if not files:
        return Status(422, {"detail": [{"loc": ["body", "files"], "msg": "no file uploaded",
                                        "type": "missing"}]})
    stage = stage_uploads(list(files))
    try:
        with transaction.atomic():
            job = create_job("import", {"upload": stage, "duplicates": duplicates},
                             owner=request_user(request))
    except ParamsInvalid as exc:
        return Status(422, {"detail": str(exc)})
    return Status(201, {"job": job.pk, "files": len(files)})
