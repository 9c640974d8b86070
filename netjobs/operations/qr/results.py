"""A find job's matches: flat rows for the job page and the CSV, DICOM JSON for the JSON
download, and links that start a move or get of a matched study/series."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from pydantic import ValidationError

from netjobs.dicom.status import DimseStatus
from netjobs.models import Job, JobItem
from netjobs.operations.qr.display import display_value
from netjobs.operations.qr.identifiers import columns_for, flatten
from netjobs.operations.qr.information_models import (
    RETRIEVE_MODELS,
    UNIQUE_KEYS,
    QueryLevel,
    QueryModel,
    levels_of,
)
from netjobs.operations.qr.params import FindParams

PAGE_ROWS = 500
# Retrieve form fields for the unique keys of a row.
RETRIEVE_FIELDS = {"PatientID": "patient_id", "StudyInstanceUID": "study_instance_uid",
                   "SeriesInstanceUID": "series_instance_uid",
                   "SOPInstanceUID": "sop_instance_uid"}


@dataclass(frozen=True)
class MatchRow:
    values: dict[str, str]
    status: int | None
    move_url: str = ""
    get_url: str = ""

    @property
    def links(self) -> list[tuple[str, str]]:
        """(label, URL) of the retrieves this row can start."""
        return [("Move", self.move_url), ("Get", self.get_url)] if self.move_url else []

    @property
    def warning(self) -> bool:
        """A pending warning (0xFF01): the peer did not support some optional keys."""
        return self.status == DimseStatus.PENDING_WARNING


def _params(job: Job) -> FindParams | None:
    try:
        return FindParams.model_validate(job.params)
    except ValidationError:  # e.g. the AE was deleted since
        return None


def _identifiers(job: Job, limit: int | None = None) -> Iterator[tuple[dict[str, Any], int | None]]:
    items = JobItem.objects.filter(job=job).order_by("pk").values_list("message", "status")
    for message, status in items[:limit] if limit is not None else items.iterator():
        try:
            yield json.loads(message), status
        except ValueError:
            yield {}, status


def retrieve_query(job: Job, level: QueryLevel, row: dict[str, str]) -> dict[str, str] | None:
    """The prefill of a move/get form for a matched row, if it names something to retrieve."""
    params = job.params
    if params.get("model") not in RETRIEVE_MODELS or not row.get(UNIQUE_KEYS[level]):
        return None
    model = QueryModel(params["model"])
    query = {"ae": str(params.get("ae", "")), "model": model.value, "level": level.value}
    if params.get("calling_ae"):
        query["calling_ae"] = str(params["calling_ae"])
    levels = levels_of(model)
    for above in levels[: levels.index(level) + 1]:
        keyword = UNIQUE_KEYS[above]
        if row.get(keyword):
            query[RETRIEVE_FIELDS[keyword]] = row[keyword]
    return query


def retrieve_urls(query: dict[str, str] | None) -> tuple[str, str]:
    """Links to the move and get forms, prefilled with ``query``."""
    if query is None:
        return "", ""
    encoded = urlencode(query)
    return (f"{reverse('netjobs:job_new', args=['move'])}?{encoded}",
            f"{reverse('netjobs:job_new', args=['get'])}?{encoded}")


def match_rows(job: Job, limit: int | None = PAGE_ROWS) -> list[MatchRow]:
    level = QueryLevel(job.params["level"]) if job.params.get("level") else None
    rows = []
    for identifier, status in _identifiers(job, limit):
        values = flatten(identifier)
        query = retrieve_query(job, level, values) if level is not None else None
        move_url, get_url = retrieve_urls(query)
        rows.append(MatchRow(values, status, move_url, get_url))
    return rows


def requested_columns(job: Job) -> list[str]:
    params = _params(job)
    if params is None:
        return list(job.params.get("matching_keys", {}))
    return [*params.matching_keys, *params.effective_return_keys()]


def find_results_context(job: Job) -> dict[str, Any]:
    """What ``_find_results.html`` shows."""
    rows = match_rows(job)
    columns = columns_for(requested_columns(job), (r.values for r in rows))
    total = JobItem.objects.filter(job=job).count()
    return {
        "columns": columns,
        "rows": [(row, [display_value(c, str(row.values.get(c, ""))) for c in columns])
                 for row in rows],
        "total": total,
        "more": max(total - len(rows), 0),
        "retrievable": any(row.move_url for row in rows),
    }


def matches_csv(matches: Iterable[Mapping[str, Any]], requested: list[str],
                file_name: str) -> tuple[bytes, str, str]:
    """DICOM JSON matches (a find's or a qido's) as CSV: the requested keys first, then the
    rest the peer returned."""
    rows = [flatten(match) for match in matches]
    columns = columns_for(requested, rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8", file_name


def render_csv(job: Job) -> tuple[bytes, str, str]:
    return matches_csv((identifier for identifier, _ in _identifiers(job)),
                       requested_columns(job), f"job-{job.pk}-find.csv")


def render_json(job: Job) -> tuple[bytes, str, str]:
    """The matches as DICOM JSON datasets (PS3.18 F.2), like a QIDO-RS response."""
    matches = [identifier for identifier, _ in _identifiers(job)]
    content = json.dumps(matches, ensure_ascii=False, indent=1).encode()
    return content, "application/dicom+json", f"job-{job.pk}-find.json"
