"""The ``stow`` job: archive studies, a server folder or an upload sent to a DICOMweb
endpoint over STOW-RS in batches, each batch one request whose body is read from the files
as it is sent, and every instance's result taken from the server's response."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import Field, field_validator

from archive.inspect.nativexml import from_native_xml
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import ItemOutcome, Job, JobItem, JobStatus
from netjobs.operations.dicomweb.client import (
    DICOM_JSON,
    Connection,
    EndpointError,
    connect,
    endpoint_exists,
    endpoint_or_fail,
)
from netjobs.operations.dicomweb.qido import check_uid
from netjobs.operations.store.run import SendSource, items_of
from netjobs.operations.store.sources import SendItem

DICOM = "application/dicom"
# Answers after which the next batch would fare no better: stop the job.
FATAL_STATUSES = {401, 403, 404, 405, 415, 501}
STOW_STATUSES = (200, 202, 409)  # PS3.18 10.5.3: all stored, some failed, none stored


class StowParams(SendSource):
    endpoint: int = Field(description="ID of the DICOMweb endpoint to store to")
    study: str | None = Field(
        default=None, description="POST to /studies/{study}: the server refuses instances of "
                                  "other studies")
    batch_size: int = Field(default=50, ge=1, le=1000,
                            description="Instances per STOW-RS request")

    _check_endpoint = field_validator("endpoint")(endpoint_exists)
    _check_study = field_validator("study")(check_uid)

    def resource(self) -> str:
        """Where the instances are POSTed."""
        return f"studies/{self.study}" if self.study else "studies"


def describe(params: StowParams) -> str:
    from netjobs.models import DicomwebEndpoint

    endpoint = DicomwebEndpoint.objects.filter(pk=params.endpoint).first() or \
        f"endpoint #{params.endpoint}"
    what = ("a server folder" if params.path else "an upload" if params.upload else
            "archive objects")
    return f"STOW-RS of {what} to {endpoint}"


class MultipartBody:
    """A multipart/related body of DICOM files, read from disk as it is sent; its length is
    known beforehand, so it goes with a Content-Length (no chunked encoding)."""

    def __init__(self, paths: list[Path], boundary: str) -> None:
        self._segments: list[bytes | Path] = []
        for path in paths:
            self._segments += [f"--{boundary}\r\nContent-Type: {DICOM}\r\n\r\n".encode(),
                               path, b"\r\n"]
        self._segments.append(f"--{boundary}--\r\n".encode())
        self._length = sum(len(s) if isinstance(s, bytes) else s.stat().st_size
                           for s in self._segments)
        self._index = 0
        self._pending = b""
        self._file: IO[bytes] | None = None

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        size = size if size and size > 0 else 1 << 20
        while not self._pending and self._index < len(self._segments):
            segment = self._segments[self._index]
            if isinstance(segment, bytes):
                self._pending = segment
                self._index += 1
                break
            if self._file is None:
                self._file = segment.open("rb")
            chunk = self._file.read(max(size, 256 * 1024))
            if chunk:
                return chunk
            self._file.close()
            self._file = None
            self._index += 1
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@dataclass(frozen=True)
class InstanceResult:
    outcome: ItemOutcome
    reason: int | None  # the FailureReason or WarningReason (PS3.18 Annex I)
    message: str


def _sequence(answer: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return list((answer.get(tag) or {}).get("Value") or [])


def _first(item: dict[str, Any], tag: str) -> Any:
    values = (item.get(tag) or {}).get("Value") or [None]
    return values[0]


def parse_answer(content: bytes, content_type: str) -> dict[str, InstanceResult]:
    """SOP Instance UID → its result, from a Store Instances Response (JSON or XML)."""
    if not content.strip():
        return {}
    if "xml" in content_type:
        answer = from_native_xml(content).to_json_dict()
    else:
        parsed = json.loads(content)
        answer = parsed[0] if isinstance(parsed, list) and parsed else parsed
    results = {}
    for item in _sequence(answer, "00081199"):  # ReferencedSOPSequence
        warning = _first(item, "00081196")  # WarningReason
        results[str(_first(item, "00081155"))] = InstanceResult(
            ItemOutcome.WARNING if warning else ItemOutcome.SUCCEEDED, warning,
            f"stored with warning 0x{warning:04X}" if warning else "stored")
    for item in _sequence(answer, "00081198"):  # FailedSOPSequence
        reason = _first(item, "00081197")  # FailureReason
        results[str(_first(item, "00081155"))] = InstanceResult(
            ItemOutcome.FAILED, reason, f"failed: reason 0x{reason:04X}" if reason else
            "failed (no reason given)")
    return results


def send_batch(conn: Connection, path: str, batch: list[SendItem]) -> dict[str, InstanceResult]:
    boundary = uuid.uuid4().hex
    body = MultipartBody([item.path for item in batch if item.path is not None], boundary)
    try:
        response = conn.request(
            "POST", path, accept=DICOM_JSON, ok=STOW_STATUSES, data=body,
            headers={"Content-Type": f'multipart/related; type="{DICOM}"; '
                                     f"boundary={boundary}"})
    finally:
        body.close()
    try:
        results = parse_answer(response.content, response.headers.get("Content-Type", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise EndpointError(f"the answer to the STOW-RS request cannot be read: {exc}",
                            response.status_code) from exc
    warning = response.headers.get("Warning", "")
    if warning:
        results = {uid: InstanceResult(r.outcome, r.reason, f"{r.message} ({warning[:200]})")
                   if r.outcome != ItemOutcome.SUCCEEDED else r for uid, r in results.items()}
    if not results and response.status_code == 200:  # an answer that names no instance
        return {item.sop_instance_uid: InstanceResult(
            ItemOutcome.SUCCEEDED, None, "stored (the answer names no instances)")
            for item in batch}
    return results


def _record(ctx: JobContext, batch: list[SendItem], results: dict[str, InstanceResult],
            counts: dict[str, int]) -> None:
    rows = []
    for item in batch:
        result = results.get(item.sop_instance_uid) or InstanceResult(
            ItemOutcome.FAILED, None, "not named in the server's answer")
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
        rows.append(JobItem(job=ctx.job, name=item.name[:512], outcome=result.outcome,
                            status=result.reason, message=result.message,
                            sop_instance_uid=item.sop_instance_uid, input_bytes=item.size))
    JobItem.objects.bulk_create(rows)


def run(ctx: JobContext, params: StowParams) -> JobOutcome:
    endpoint = endpoint_or_fail(params.endpoint)
    items = items_of(params)
    counts: dict[str, int] = {}
    bad = [item for item in items if item.path is None]
    _record(ctx, bad, {i.sop_instance_uid: InstanceResult(ItemOutcome.FAILED, None, i.problem)
                       for i in bad}, counts)
    sendable = [item for item in items if item.path is not None]
    ctx.set_progress(len(bad), len(items))
    conn = connect(endpoint)
    ctx.log(f"POST {conn.url(params.resource())}: {len(sendable)} instance(s) in batches of "
            f"{params.batch_size}")
    try:
        for start in range(0, len(sendable), params.batch_size):
            ctx.check_cancelled()
            batch = sendable[start:start + params.batch_size]
            try:
                results = send_batch(conn, params.resource(), batch)
            except EndpointError as exc:
                _record(ctx, batch, {i.sop_instance_uid: InstanceResult(
                    ItemOutcome.FAILED, None, str(exc)) for i in batch}, counts)
                ctx.log(f"batch {start // params.batch_size + 1}: {exc}")
                if exc.status is None or exc.status in FATAL_STATUSES:
                    raise JobFailed(f"{exc}; {start} of {len(sendable)} instance(s) were "
                                    "sent before") from exc
                continue
            _record(ctx, batch, results, counts)
            ctx.set_progress(len(bad) + start + len(batch))
    finally:
        ctx.add_counters(**counts)
        conn.close()
    failed = counts.get(ItemOutcome.FAILED.value, 0)
    result = {"sent": len(sendable), **counts}
    if not failed:
        return JobOutcome(JobStatus.SUCCEEDED, result)
    status = JobStatus.PARTIAL if failed < len(items) else JobStatus.FAILED
    return JobOutcome(status, result, f"{failed} of {len(items)} instance(s) not stored")


def retry_failed(job: Job) -> dict[str, Any] | None:
    failed = list(JobItem.objects.filter(job=job, outcome=ItemOutcome.FAILED)
                  .values_list("name", flat=True))
    if not failed:
        return None
    return {**job.params, "only": failed}
