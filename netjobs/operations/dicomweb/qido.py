"""The ``qido`` job: a QIDO-RS search of a DICOMweb endpoint, each match kept as DICOM JSON
(a job item), shown as a table with links that start a ``wado`` of that study or series."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydicom.datadict import keyword_for_tag, tag_for_keyword

from netjobs.jobs.base import JobContext, JobOutcome
from netjobs.models import ItemOutcome, Job, JobItem, JobStatus
from netjobs.operations.dicomweb.client import (
    connect,
    endpoint_exists,
    endpoint_or_fail,
    search_pages,
)
from netjobs.operations.qr.display import display_value
from netjobs.operations.qr.identifiers import columns_for, flatten
from netjobs.operations.qr.results import matches_csv

MAX_MATCHES = 5000
PAGE_ROWS = 500
BATCH = 200
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


class SearchLevel(StrEnum):
    STUDIES = "studies"
    SERIES = "series"
    INSTANCES = "instances"


UNIQUE_TAG = {SearchLevel.STUDIES: "0020000D", SearchLevel.SERIES: "0020000E",
              SearchLevel.INSTANCES: "00080018"}
DEFAULT_COLUMNS = {
    SearchLevel.STUDIES: ["PatientName", "PatientID", "StudyDate", "AccessionNumber",
                          "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                          "NumberOfStudyRelatedInstances", "StudyInstanceUID"],
    SearchLevel.SERIES: ["Modality", "SeriesNumber", "SeriesDescription",
                         "NumberOfSeriesRelatedInstances", "SeriesInstanceUID",
                         "StudyInstanceUID"],
    SearchLevel.INSTANCES: ["InstanceNumber", "SOPClassUID", "SOPInstanceUID",
                            "SeriesInstanceUID", "StudyInstanceUID"],
}


def check_uid(value: str | None) -> str | None:
    if value is not None and (len(value) > 64 or not _UID.match(value)):
        raise ValueError(f"{value!r} is not a UID")
    return value


def check_key(keyword: str) -> str:
    """A keyword of the DICOM dictionary, or a tag as 8 hex digits."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", keyword) or tag_for_keyword(keyword) is not None:
        return keyword
    raise ValueError(f"{keyword!r} is not a DICOM keyword or tag (like PatientID or 00100020)")


class QidoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: int = Field(description="ID of the DICOMweb endpoint to search")
    level: SearchLevel = Field(default=SearchLevel.STUDIES, description="What is searched")
    study: str | None = Field(default=None, description="Only in this study (its UID)")
    series: str | None = Field(default=None, description="Only in this series (its UID)")
    matching: dict[str, str] = Field(
        default_factory=dict,
        description="Keyword → value as QIDO-RS takes it: wildcards * and ?, ranges like "
                    "20240101-20240131, UID lists separated by commas")
    includefield: list[str] = Field(
        default_factory=list, description="Further attributes to return (keywords, or all)")
    fuzzymatching: bool = Field(default=False, description="Ask for fuzzy person-name matching")
    max_matches: int = Field(default=1000, ge=1, le=MAX_MATCHES, description="Matches kept")

    _check_endpoint = field_validator("endpoint")(endpoint_exists)
    _check_study = field_validator("study", "series")(check_uid)

    @field_validator("matching")
    @classmethod
    def _check_matching(cls, value: dict[str, str]) -> dict[str, str]:
        for keyword in value:
            check_key(keyword)
        return value

    @field_validator("includefield")
    @classmethod
    def _check_include(cls, value: list[str]) -> list[str]:
        return [key if key == "all" else check_key(key) for key in value]

    @model_validator(mode="after")
    def _check_scope(self) -> QidoParams:
        if self.series and not self.study:
            raise ValueError("a series is searched within its study: give the study UID too")
        if self.level == SearchLevel.STUDIES and (self.study or self.series):
            raise ValueError("a study search is not relative to a study; match "
                             "StudyInstanceUID instead")
        if self.level == SearchLevel.SERIES and self.series:
            raise ValueError("a series search is relative to a study, not a series")
        return self

    def path(self) -> str:
        """The resource searched, e.g. studies/{uid}/series."""
        if self.series:
            return f"studies/{self.study}/series/{self.series}/{self.level.value}"
        if self.study:
            return f"studies/{self.study}/{self.level.value}"
        return self.level.value

    def query(self) -> dict[str, list[str]]:
        found = {key: [value] for key, value in self.matching.items()}
        if self.includefield:
            found["includefield"] = [",".join(self.includefield)]
        if self.fuzzymatching:
            found["fuzzymatching"] = ["true"]
        return found


def describe(params: QidoParams) -> str:
    from netjobs.models import DicomwebEndpoint

    endpoint = DicomwebEndpoint.objects.filter(pk=params.endpoint).first()
    keys = ", ".join(f"{k}={v}" for k, v in params.matching.items())
    return f"QIDO-RS {params.path()} on {endpoint or f'endpoint #{params.endpoint}'}" + (
        f": {keys}" if keys else "")


def _uid_of(match: dict[str, Any], level: SearchLevel) -> str:
    values = match.get(UNIQUE_TAG[level], {}).get("Value") or [""]
    return str(values[0])


def run(ctx: JobContext, params: QidoParams) -> JobOutcome:
    endpoint = endpoint_or_fail(params.endpoint)
    conn = connect(endpoint)
    ctx.log(f"GET {conn.url(params.path())}?{urlencode(params.query(), doseq=True)}")
    batch: list[JobItem] = []
    count = 0
    try:
        for match in search_pages(conn, params.path(), params.query(),
                                  limit=params.max_matches):
            ctx.check_cancelled()
            count += 1
            batch.append(JobItem(job=ctx.job, name=_uid_of(match, params.level)[:512],
                                 outcome=ItemOutcome.SUCCEEDED,
                                 message=json.dumps(match, ensure_ascii=False)))
            if len(batch) >= BATCH:
                JobItem.objects.bulk_create(batch)
                batch.clear()
                ctx.set_progress(count)
    finally:
        JobItem.objects.bulk_create(batch)
        conn.close()
    ctx.set_progress(count, count)
    ctx.log(f"{count} match{'es' if count != 1 else ''}" + (
        f" (the first {params.max_matches} kept)" if count >= params.max_matches else ""))
    return JobOutcome(JobStatus.SUCCEEDED, {"matches": count})


# --- results ------------------------------------------------------------------------------


def _matches(job: Job, limit: int | None = None) -> list[dict[str, Any]]:
    rows = JobItem.objects.filter(job=job).order_by("pk").values_list("message", flat=True)
    found = []
    for message in rows[:limit] if limit is not None else rows.iterator():
        try:
            found.append(json.loads(message))
        except ValueError:
            found.append({})
    return found


def wado_url(job: Job, values: dict[str, str]) -> str:
    """The ``wado`` form prefilled to retrieve the row's study, series or instance."""
    study = values.get("StudyInstanceUID") or job.params.get("study") or ""
    if not study:
        return ""
    query = {"endpoint": str(job.params.get("endpoint", "")), "study": study}
    series = values.get("SeriesInstanceUID") or job.params.get("series") or ""
    if job.params.get("level") in (SearchLevel.SERIES, SearchLevel.INSTANCES) and series:
        query["series"] = series
    if job.params.get("level") == SearchLevel.INSTANCES and values.get("SOPInstanceUID"):
        query["instance"] = values["SOPInstanceUID"]
    return f"{reverse('netjobs:job_new', args=['wado'])}?{urlencode(query)}"


def _requested(job: Job) -> list[str]:
    level = SearchLevel(job.params.get("level", SearchLevel.STUDIES))
    asked = [keyword_for_tag(int(k, 16)) if re.fullmatch(r"[0-9A-Fa-f]{8}", k) else k
             for k in (*job.params.get("matching", {}), *job.params.get("includefield", []))]
    return [k for k in (*asked, *DEFAULT_COLUMNS[level]) if k and k != "all"]


def results_context(job: Job) -> dict[str, Any]:
    """What ``_find_results.html`` shows for a qido job."""
    rows = [flatten(match) for match in _matches(job, PAGE_ROWS)]
    columns = columns_for(_requested(job), rows)
    total = JobItem.objects.filter(job=job).count()
    shown = []
    for values in rows:
        url = wado_url(job, values)
        links = [("Retrieve", url)] if url else []
        shown.append(({"links": links},
                      [display_value(c, str(values.get(c, ""))) for c in columns]))
    return {"columns": columns, "rows": shown, "total": total,
            "more": max(total - len(rows), 0),
            "retrievable": any(row["links"] for row, _ in shown),
            "retrieve_hint": "Retrieve starts a WADO-RS retrieve of that row into the "
                             "archive, prefilled."}


def render_csv(job: Job) -> tuple[bytes, str, str]:
    return matches_csv(_matches(job), _requested(job), f"job-{job.pk}-qido.csv")


def render_json(job: Job) -> tuple[bytes, str, str]:
    content = json.dumps(_matches(job), ensure_ascii=False, indent=1).encode()
    return content, "application/dicom+json", f"job-{job.pk}-qido.json"
