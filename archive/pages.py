"""What the study, series and instance pages show beyond their model: the series table's
transfer syntaxes and dates, the inspection tools of an instance, and the record of the
association an instance arrived on."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import OuterRef, Subquery
from django.urls import NoReverseMatch, reverse
from pydicom import dcmread

from archive.models import Instance, Series, Study
from archive.reading import parse_da, parse_tm
from archive.storage import absolute_path
from netjobs.models import Association

ASSOCIATION_MONITOR = "netjobs:association_list"


@dataclass
class SeriesRow:
    series: Series
    transfer_syntaxes: list[str] = field(default_factory=list)
    date: dt.date | None = None
    time: dt.time | None = None


def _series_date_time(file_path: str | None) -> tuple[dt.date | None, dt.time | None]:
    """Series Date/Time (else Acquisition, else Content) from one stored file's header."""
    if not file_path:
        return None, None
    try:
        ds = dcmread(absolute_path(file_path), stop_before_pixels=True, force=True,
                     specific_tags=["SeriesDate", "SeriesTime", "AcquisitionDate",
                                    "AcquisitionTime", "ContentDate", "ContentTime"])
    except (OSError, ValueError, EOFError):
        return None, None
    for date_key, time_key in (("SeriesDate", "SeriesTime"),
                               ("AcquisitionDate", "AcquisitionTime"),
                               ("ContentDate", "ContentTime")):
        date = parse_da(ds.get(date_key))
        if date is not None:
            return date, parse_tm(ds.get(time_key))
    return None, None


def series_rows(study: Study) -> list[SeriesRow]:
    """The study's series with what tells them apart, in series-number order."""
    from netjobs.models.associations import uid_name

    syntaxes: dict[int, set[str]] = defaultdict(set)
    for series_id, uid in (Instance.objects.filter(series__study=study)
                           .values_list("series_id", "transfer_syntax_uid").distinct()):
        syntaxes[series_id].add(uid)
    first_file = (Instance.objects.filter(series=OuterRef("pk"))
                  .order_by("instance_number", "pk").values("file_path")[:1])
    rows = []
    for series in study.series.annotate(first_file=Subquery(first_file)):
        date, time = _series_date_time(series.first_file)
        rows.append(SeriesRow(series, sorted(uid_name(u) for u in syntaxes[series.pk]),
                              date, time))
    return rows


@dataclass(frozen=True)
class ToolLink:
    label: str
    url: str


INSPECT_TOOLS: tuple[tuple[str, str], ...] = (
    ("Dump", "archive:inspect_dump"),
    ("DICOM JSON", "archive:inspect_json"),
    ("Native XML", "archive:inspect_xml"),
    ("Raw values", "archive:inspect_raw"),
    ("Image info", "archive:inspect_info"),
    ("Validate", "archive:inspect_validate"),
    ("Render", "archive:inspect_render_page"),
)


def inspect_tools(instance: Instance) -> list[ToolLink]:
    return [ToolLink(label, reverse(name, args=["instance", instance.pk]))
            for label, name in INSPECT_TOOLS]


def association_url(association: Association) -> str:
    """The association's own row in the association monitor, filtered so that it is on the
    first page: its calling AE, listener and start second."""
    started = association.started_at.replace(microsecond=0)
    query = {"direction": "inbound", "ae": association.calling_ae_title,
             "since": started.isoformat(),
             "until": (started + dt.timedelta(seconds=1)).isoformat()}
    if association.listener_id is not None:
        query["listener"] = str(association.listener_id)
    try:
        base = reverse(ASSOCIATION_MONITOR)
    except NoReverseMatch:  # the monitor is not installed: the listener page lists it too
        if association.listener_id is None:
            return ""
        base = reverse("netjobs:listener_detail", args=[association.listener_id])
        return f"{base}#association-{association.pk}"
    return f"{base}?{urlencode(query)}#association-{association.pk}"
