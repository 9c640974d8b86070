"""REST endpoints of the archive (mounted under /api/): search, detail, download, delete,
and imports of uploaded files."""

import datetime as dt
import io
import json
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate
from pydicom import dcmread

from archive.filtersets import StudyFilterSet
from archive.imports.roots import PathRefused, resolve_import_path
from archive.imports.uploads import stage_uploads, too_large_message
from archive.indexing import delete_studies
from archive.inspect.diff import diff_datasets
from archive.inspect.dump import dump
from archive.inspect.filtering import filter_rows
from archive.inspect.info import image_info
from archive.inspect.loading import Unreadable, load
from archive.inspect.patterns import BadPattern, apply_pattern, compile_pattern, parse_overrides
from archive.inspect.scanner import BadTag, header, parse_tags, scan, to_csv
from archive.inspect.sources import InspectedFile, resolve_source
from archive.inspect.text import dump_text
from archive.inspect.validate import validate
from archive.inspect.views import dicom_json, native_xml, read_value
from archive.models import DuplicatePolicy, Instance, Series, Study
from archive.rendering import RenderRefused, Window
from archive.rendering import render as render_frame
from archive.storage import absolute_path
from archive.views import instance_file_response
from console.api import roles
from console.roles import Role, request_user
from netjobs.jobs.services import ParamsInvalid, create_job

router = Router(tags=["archive"])
MAX_SCAN_FILES = 20000
MAX_FORMAT_INSTANCES = 5000


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
    return instance_file_response(get_object_or_404(Instance, pk=instance_id))


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


class DifferenceOut(Schema):
    path: str
    keyword: str
    kind: str
    first: str
    second: str


@router.get("/diff", response=list[DifferenceOut])
def diff(request: HttpRequest, a: int, b: int, meta: bool = False,
         truncate: int | None = None) -> Any:
    """Differences between archived instances ``a`` and ``b`` (like gdcmdiff)."""
    first = load(_instance_source(request, a).path).dataset
    second = load(_instance_source(request, b).path).dataset
    return diff_datasets(first, second, include_meta=meta, truncate=truncate or None)


class ScanOut(Schema):
    columns: list[str]
    rows: list[dict[str, Any]]


@router.get("/scanner", response=ScanOut)
def scanner(request: HttpRequest, tags: str, study: int | None = None,
            job: int | None = None, path: str | None = None, format: str = "json") -> Any:
    """Chosen tags (keywords or gggg,eeee, space-separated) across a study, the instances an
    import archived, or a server folder under the import roots; ``format=csv`` for CSV."""
    try:
        tag_list = parse_tags(tags)
        if study is not None:
            files = [(i.sop_instance_uid, absolute_path(i.file_path))
                     for i in Instance.objects.filter(series__study_id=study)]
        elif job is not None:
            files = [(i.source_detail or i.sop_instance_uid, absolute_path(i.file_path))
                     for i in Instance.objects.filter(source_job_id=job)]
        elif path:
            folder = resolve_import_path(path)
            found = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() \
                else [folder]
            files = [(str(p.relative_to(folder)) if p != folder else p.name, p) for p in found]
        else:
            raise HttpError(422, "give study, job or path")
    except (BadTag, PathRefused) as exc:
        raise HttpError(422, str(exc)) from exc
    rows = scan(files[:MAX_SCAN_FILES], tag_list)
    if format == "csv":
        return HttpResponse(to_csv(rows, tag_list), content_type="text/csv")
    columns = header(tag_list)
    return {"columns": columns, "rows": [
        {"file": row.label, "values": dict(zip(columns, row.values, strict=True)),
         "problem": row.problem} for row in rows]}


class FormattedOut(Schema):
    instance: int
    result: str


@router.get("/format", response=list[FormattedOut])
def format_pattern(request: HttpRequest, pattern: str, study: int | None = None,
                   instance: int | None = None, set: str = "") -> Any:
    """A dcm2str-style pattern applied to an instance or to every instance of a study;
    ``set`` holds overrides, one ``tag=value`` a line."""
    try:
        parts, overrides = compile_pattern(pattern), parse_overrides(set)
    except BadPattern as exc:
        raise HttpError(422, str(exc)) from exc
    if instance is not None:
        chosen = [get_object_or_404(Instance, pk=instance)]
    elif study is not None:
        chosen = list(Instance.objects.filter(series__study_id=study)[:MAX_FORMAT_INSTANCES])
    else:
        raise HttpError(422, "give study or instance")
    results = []
    for item in chosen:
        try:
            ds = dcmread(absolute_path(item.file_path), stop_before_pixels=True, force=True)
        except Exception as exc:
            raise HttpError(422, f"instance {item.pk} cannot be read: {exc}") from exc
        results.append({"instance": item.pk, "result": apply_pattern(parts, ds, overrides)})
    return results


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
