"""The ``wado`` job: a WADO-RS retrieve of a study, series or instance from a DICOMweb
endpoint into the archive, each part stored as it arrives (never the study in memory), or
the metadata only, kept as the job's items and download."""

from __future__ import annotations

import json
from enum import StrEnum
from http import HTTPStatus
from typing import Any

import urllib3
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from archive.dicomweb.stow_multipart import Limits, Part, Refused, iter_parts, media_type
from archive.indexing import IndexCache, StoreOutcome, store_file
from archive.models import DuplicatePolicy, InstanceSource
from archive.reading import FileRejected
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import ItemOutcome, Job, JobItem, JobStatus
from netjobs.operations.dicomweb.client import (
    DICOM_JSON,
    connect,
    endpoint_exists,
    endpoint_or_fail,
)
from netjobs.operations.dicomweb.qido import check_uid

DICOM = "application/dicom"
NO_LIMIT = 1 << 62


class WadoMode(StrEnum):
    ARCHIVE = "archive"
    METADATA = "metadata"


class WadoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: int = Field(description="ID of the DICOMweb endpoint to retrieve from")
    study: str = Field(description="Study Instance UID")
    series: str | None = Field(default=None, description="Series Instance UID (optional)")
    instance: str | None = Field(default=None, description="SOP Instance UID (optional)")
    mode: WadoMode = Field(default=WadoMode.ARCHIVE,
                           description="archive: the instances into the archive; metadata: "
                                       "their DICOM JSON only")
    transfer_syntax: str = Field(
        default="*", description="The transfer syntax asked for (* = as the server stores it)")
    duplicates: DuplicatePolicy = Field(default=DuplicatePolicy.KEEP_FIRST,
                                        description="What to do with a known SOP Instance UID")

    _check_endpoint = field_validator("endpoint")(endpoint_exists)
    _check_uids = field_validator("study", "series", "instance")(check_uid)

    @field_validator("transfer_syntax")
    @classmethod
    def _check_syntax(cls, value: str) -> str:
        if value != "*":
            check_uid(value)
        return value

    @model_validator(mode="after")
    def _check_scope(self) -> WadoParams:
        if self.instance and not self.series:
            raise ValueError("an instance is retrieved within its series: give the series UID")
        return self

    def path(self) -> str:
        path = f"studies/{self.study}"
        if self.series:
            path += f"/series/{self.series}"
        if self.instance:
            path += f"/instances/{self.instance}"
        return path

    def accept(self) -> str:
        return f'multipart/related; type="{DICOM}"; transfer-syntax={self.transfer_syntax}'

    def what(self) -> str:
        return (f"instance {self.instance}" if self.instance else
                f"series {self.series}" if self.series else f"study {self.study}")


def describe(params: WadoParams) -> str:
    from netjobs.models import DicomwebEndpoint

    endpoint = DicomwebEndpoint.objects.filter(pk=params.endpoint).first() or \
        f"endpoint #{params.endpoint}"
    if params.mode == WadoMode.METADATA:
        return f"WADO-RS metadata of {params.what()} from {endpoint}"
    return f"WADO-RS retrieve of {params.what()} from {endpoint} into the archive"


def run(ctx: JobContext, params: WadoParams) -> JobOutcome:
    if params.mode == WadoMode.METADATA:
        return _metadata(ctx, params)
    endpoint = endpoint_or_fail(params.endpoint)
    conn = connect(endpoint)
    ctx.log(f"GET {conn.url(params.path())} (Accept: {params.accept()})")
    counts = {"stored": 0, "duplicates": 0, "failed": 0}
    try:
        response = conn.request("GET", params.path(), accept=params.accept(), stream=True)
        kind, found = media_type(response.headers.get("Content-Type", ""))
        if kind != "multipart/related" or not found.get("boundary"):
            raise JobFailed(f"The answer is {kind or 'untyped'}, not multipart/related with a "
                            "boundary: the server did not send DICOM instances.")
        limits = Limits(total=NO_LIMIT, part=settings.DICOMWEB_STOW_MAX_PART_BYTES)
        cache = IndexCache()

        def read(size: int) -> bytes:
            try:
                return bytes(response.raw.read(size, decode_content=True))
            except urllib3.exceptions.HTTPError as exc:  # a read timeout, the peer went away
                raise Refused(HTTPStatus.BAD_GATEWAY, f"reading the answer failed: {exc}") \
                    from exc

        for part in iter_parts(read, found["boundary"], limits):
            _store_part(ctx, part, params, cache, counts, str(endpoint))
            ctx.set_progress(sum(counts.values()))
            ctx.check_cancelled()
    except Refused as exc:
        raise JobFailed(f"The answer broke off or is malformed after "
                        f"{sum(counts.values())} part(s): {exc}") from exc
    except OSError as exc:  # the archive cannot be written: out of space, permissions
        raise JobFailed(f"The archive cannot store what arrives: {exc}") from exc
    finally:
        ctx.add_counters(**counts)
        conn.close()
    done = sum(counts.values())
    ctx.set_progress(done, done)
    ctx.log(f"{counts['stored']} stored, {counts['duplicates']} already in the archive, "
            f"{counts['failed']} failed")
    if counts["failed"]:
        status = JobStatus.PARTIAL if counts["stored"] + counts["duplicates"] else \
            JobStatus.FAILED
        return JobOutcome(status, counts, f"{counts['failed']} part(s) could not be stored")
    return JobOutcome(JobStatus.SUCCEEDED, counts)


def _store_part(ctx: JobContext, part: Part, params: WadoParams, cache: IndexCache,
                counts: dict[str, int], endpoint: str) -> None:
    name = f"part {part.number}"
    try:
        if part.media_type != DICOM:
            raise FileRejected(f"a {part.media_type or 'untyped'} part, not {DICOM}")
        result = store_file(part.path, source=InstanceSource.DICOMWEB,
                            source_detail=f"WADO-RS from {endpoint}", policy=params.duplicates,
                            job=ctx.job, cache=cache, received=part.written)
    except FileRejected as exc:
        counts["failed"] += 1
        JobItem.objects.create(job=ctx.job, name=name, outcome=ItemOutcome.FAILED,
                               message=str(exc), input_bytes=part.written.size)
        return
    finally:
        part.path.unlink(missing_ok=True)
    duplicate = result.outcome == StoreOutcome.DUPLICATE_KEPT
    counts["duplicates" if duplicate else "stored"] += 1
    JobItem.objects.create(
        job=ctx.job, name=result.instance.sop_instance_uid,
        sop_instance_uid=result.instance.sop_instance_uid,
        outcome=ItemOutcome.WARNING if duplicate or result.warnings else ItemOutcome.SUCCEEDED,
        message="; ".join([result.message, *result.warnings]), input_bytes=part.written.size)


def _metadata(ctx: JobContext, params: WadoParams) -> JobOutcome:
    endpoint = endpoint_or_fail(params.endpoint)
    conn = connect(endpoint)
    url = f"{params.path()}/metadata"
    ctx.log(f"GET {conn.url(url)}")
    try:
        response = conn.request("GET", url, accept=DICOM_JSON)
        try:
            datasets = response.json()
        except ValueError as exc:
            raise JobFailed(f"The metadata is not JSON: {exc}") from exc
    finally:
        conn.close()
    if not isinstance(datasets, list):
        raise JobFailed("The metadata is not a DICOM JSON array.")
    items = []
    for ds in datasets:
        uid = str(((ds.get("00080018") or {}).get("Value") or [""])[0])
        items.append(JobItem(job=ctx.job, name=uid or "?", sop_instance_uid=uid[:64],
                             outcome=ItemOutcome.SUCCEEDED, message=json.dumps(ds)))
    JobItem.objects.bulk_create(items, batch_size=200)
    ctx.set_progress(len(items), len(items))
    ctx.log(f"metadata of {len(items)} instance(s)")
    return JobOutcome(JobStatus.SUCCEEDED, {"instances": len(items)})


def render_metadata(job: Job) -> tuple[bytes, str, str] | None:
    if job.params.get("mode") != WadoMode.METADATA:
        return None
    rows = JobItem.objects.filter(job=job).order_by("pk").values_list("message", flat=True)
    content = ("[" + ",".join(rows) + "]").encode()
    return content, DICOM_JSON, f"job-{job.pk}-metadata.json"


METADATA_COLUMNS = ["SOPInstanceUID", "SOPClassUID", "Modality", "SeriesInstanceUID",
                    "InstanceNumber", "Rows", "Columns", "NumberOfFrames",
                    "AvailableTransferSyntaxUID"]


def metadata_results_context(job: Job) -> dict[str, Any]:
    """What ``_find_results.html`` shows of a metadata retrieve: a row per instance."""
    from netjobs.operations.qr.display import display_value
    from netjobs.operations.qr.identifiers import flatten

    items = JobItem.objects.filter(job=job).order_by("pk")
    rows = [flatten(json.loads(m)) for m in items.values_list("message", flat=True)[:500]]
    return {"columns": METADATA_COLUMNS, "total": items.count(),
            "rows": [({}, [display_value(c, row.get(c, "")) for c in METADATA_COLUMNS])
                     for row in rows],
            "more": max(items.count() - len(rows), 0), "retrievable": False,
            "heading": "Instances", "noun": "instance"}
