"""The ``dicomweb_check`` job: is a DICOMweb endpoint there, does it take our credentials,
and what does it say about itself? A QIDO-RS search for one study, then the capabilities
(``OPTIONS`` on the service root, PS3.18 8.9), each a job item with its timing."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import DicomwebEndpoint, ItemOutcome, Job, JobItem, JobStatus
from netjobs.operations.dicomweb.client import (
    DICOM_JSON,
    Connection,
    EndpointError,
    connect,
    endpoint_exists,
    endpoint_or_fail,
)


class CheckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: int = Field(description="ID of the DICOMweb endpoint to check")

    _check_endpoint = field_validator("endpoint")(endpoint_exists)


def describe(params: CheckParams) -> str:
    endpoint = DicomwebEndpoint.objects.filter(pk=params.endpoint).first()
    return f"DICOMweb check of {endpoint or f'endpoint #{params.endpoint}'}"


def search_one(conn: Connection) -> str:
    response = conn.request("GET", "studies", accept=DICOM_JSON, ok=(200, 204),
                            params={"limit": "1"})
    if response.status_code == 204 or not response.content:
        return "answered; it holds no study (204 No Content)"
    try:
        found = response.json()
    except ValueError as exc:
        raise EndpointError("the answer is not JSON: is the base URL the DICOMweb "
                            "service root?", response.status_code) from exc
    if not isinstance(found, list):
        raise EndpointError("the answer is not a DICOM JSON array", response.status_code)
    kind = response.headers.get("Content-Type", "?")
    return f"answered {kind} with {len(found)} study (limit=1)"


def capabilities(conn: Connection) -> str:
    response = conn.request("OPTIONS", "", accept="application/vnd.sun.wadl+xml, "
                            "application/json, */*", ok=tuple(range(200, 600)))
    allow = response.headers.get("Allow", "")
    if response.status_code >= 400:
        return (f"not offered ({response.status_code} {response.reason}); many servers do "
                "not describe themselves" + (f"; Allow: {allow}" if allow else ""))
    kind = response.headers.get("Content-Type", "no body")
    return f"{response.status_code}: {kind}, {len(response.content)} bytes" + (
        f"; Allow: {allow}" if allow else "")


def _step(ctx: JobContext, name: str, step: Callable[[], str], required: bool) -> bool:
    started = time.perf_counter()
    try:
        detail = step()
    except EndpointError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        JobItem.objects.create(job=ctx.job, name=name, status=exc.status,
                               outcome=ItemOutcome.FAILED if required else ItemOutcome.WARNING,
                               message=f"{exc} ({elapsed:.0f} ms)")
        ctx.log(f"{name}: {exc}")
        return False
    elapsed = (time.perf_counter() - started) * 1000
    JobItem.objects.create(job=ctx.job, name=name, outcome=ItemOutcome.SUCCEEDED,
                           message=f"{detail} ({elapsed:.0f} ms)")
    ctx.log(f"{name}: {detail} in {elapsed:.0f} ms")
    return True


def run(ctx: JobContext, params: CheckParams) -> JobOutcome:
    endpoint = endpoint_or_fail(params.endpoint)
    conn = connect(endpoint)
    try:
        searched = _step(ctx, "QIDO-RS search", lambda: search_one(conn), required=True)
        _step(ctx, "Capabilities (OPTIONS)", lambda: capabilities(conn), required=False)
    finally:
        conn.close()
    if not searched:
        message = JobItem.objects.filter(job=ctx.job, name="QIDO-RS search").values_list(
            "message", flat=True).first()
        raise JobFailed(f"The endpoint does not answer a QIDO-RS search: {message}")
    return JobOutcome(JobStatus.SUCCEEDED, {"reachable": True})


def last_check(endpoint: DicomwebEndpoint) -> Job | None:
    return Job.objects.filter(kind="dicomweb_check", params__endpoint=endpoint.pk).order_by(
        "-created_at").first()
