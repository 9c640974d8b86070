"""The Conversions page: recent conversion jobs with files, throughput and input → output
sizes, what each produced (the ZIP download, the archived instances and their studies, the
export folder), running jobs with their live progress, totals over 24 h and 7 days, the
empty state, and who may see it.

Jobs and items are written with the ORM as the conversion runner leaves them; the expected
figures are computed here from those inputs (sums, quotients), not copied from the page."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from archive.conversions.jobs.outputs import zip_path
from archive.conversions.syntaxes import TargetSyntax
from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from console.templatetags.console_format import format_size
from netjobs.models import Job, JobStatus
from tests.archive_helpers import corpus
from tests.conftest import logged_in

VOID = {"br", "img", "input", "hr", "meta", "link", "source", "wbr", "col"}


@dataclass
class Anchor:
    href: str
    text: str
    ancestors: list[str]  # "#id" and ".class" of every enclosing element


@dataclass
class Page(HTMLParser):
    """The links of a page and the text of each element with an id, as a browser reads them."""

    anchors: list[Anchor] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    attrs_by_id: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()
        self._stack: list[tuple[str, list[str]]] = []
        self._open_anchor: tuple[str, list[str], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        marks = [f".{c}" for c in values.get("class", "").split()]
        if values.get("id"):
            marks.append(f"#{values['id']}")
            self.texts.setdefault(values["id"], "")
            self.attrs_by_id[values["id"]] = values
        self._gap()
        if tag == "a":
            self._open_anchor = (values.get("href", ""), [], self.ancestry())
        if tag not in VOID:
            self._stack.append((tag, marks))

    def handle_endtag(self, tag: str) -> None:
        self._gap()
        if tag == "a" and self._open_anchor is not None:
            href, parts, ancestry = self._open_anchor
            self.anchors.append(Anchor(unescape(href), " ".join("".join(parts).split()),
                                       ancestry))
            self._open_anchor = None
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                del self._stack[depth:]
                break

    def handle_data(self, data: str) -> None:
        if self._open_anchor is not None:
            self._open_anchor[1].append(data)
        for _, marks in self._stack:
            for mark in marks:
                if mark.startswith("#"):
                    self.texts[mark[1:]] += data

    def _gap(self) -> None:
        """Tags separate words, as cells and list items do on screen."""
        self.handle_data(" ")

    def ancestry(self) -> list[str]:
        return [mark for _, marks in self._stack for mark in marks]

    def text(self, element_id: str) -> str:
        return " ".join(self.texts[element_id].split())

    def links_in(self, mark: str) -> list[Anchor]:
        return [a for a in self.anchors if mark in a.ancestors]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def conversions_page(user: User) -> Page:
    response = logged_in(user).get("/conversions/")
    assert response.status_code == 200
    return parse(response.content.decode())


@pytest.fixture
def own_folders(settings: Any, tmp_path: Path) -> Path:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.CONVERSION_DIR = tmp_path / "conversions"
    return tmp_path


def finished_job(kind: str, owner: User, *, ago: dt.timedelta, files: int, failed: int = 0,
                 skipped: int = 0, input_bytes: int, output_bytes: int, seconds: float,
                 **params: Any) -> Job:
    """A conversion job as the runner leaves it: result with counts, sizes and throughput."""
    finished = timezone.now() - ago
    converted = files - failed - skipped
    result: dict[str, Any] = {
        "files": files, "converted": converted, "skipped": skipped, "failed": failed,
        "outputs": converted, "frames": converted, "input_bytes": input_bytes,
        "output_bytes": output_bytes, "seconds": seconds,
        "files_per_second": round(files / seconds, 2),
        "mb_per_second": round(input_bytes / 1024**2 / seconds, 2), "batches_by_helpers": 0}
    if output_bytes:
        result["compression_ratio"] = round(input_bytes / output_bytes, 2)
    status = JobStatus.PARTIAL if failed and converted else JobStatus.SUCCEEDED
    return Job.objects.create(
        kind=kind, status=status, owner=owner, params={"output": "archive", **params},
        summary=f"{kind} of {files} file(s)", result=result,
        created_at=finished - dt.timedelta(seconds=seconds + 1),
        started_at=finished - dt.timedelta(seconds=seconds), finished_at=finished,
        progress_done=files, progress_total=files)


def test_it_totals_and_rates_the_recent_jobs(own_folders: Path, viewer: User,
                                             operator: User) -> None:
    jpeg_ls = finished_job("transcode", operator, ago=dt.timedelta(hours=1), files=10,
                           failed=1, input_bytes=6_000_000, output_bytes=2_096_000, seconds=4.0,
                           target=TargetSyntax.JPEG_LS_LOSSLESS.value)
    export = finished_job("export_images", operator, ago=dt.timedelta(days=3), files=4,
                          input_bytes=1_000_000, output_bytes=300_000, seconds=2.0,
                          output="zip")
    old = finished_job("split", operator, ago=dt.timedelta(days=10), files=50,
                       input_bytes=9_000_000, output_bytes=9_100_000, seconds=9.0)
    Job.objects.create(kind="echo", status=JobStatus.SUCCEEDED, owner=operator,
                       summary="not a conversion")

    page = conversions_page(viewer)
    day, week = page.text("period-1"), page.text("period-2")
    assert day == "Last 24 h"
    totals = {p: page.text(f"conversion-totals-{p}") for p in (1, 2)}
    # the last 24 h: the transcode only; 7 days: transcode and export (the split is older)
    assert re.search(rf"Jobs 1 Files 10 In → out {re.escape(format_size(6_000_000))} → "
                     rf"{re.escape(format_size(2_096_000))} Mean files/s {10 / 4.0:.1f}",
                     totals[1]), totals[1]
    week_files, week_seconds = 10 + 4, 4.0 + 2.0
    assert re.search(rf"Jobs 2 Files {week_files} In → out "
                     rf"{re.escape(format_size(6_000_000 + 1_000_000))} → "
                     rf"{re.escape(format_size(2_096_000 + 300_000))} Mean files/s "
                     rf"{week_files / week_seconds:.1f}", totals[2]), totals[2]
    assert week == "Last 7 days"

    row = page.text(f"conversion-{jpeg_ls.pk}")
    assert "Transcode" in row and TargetSyntax.JPEG_LS_LOSSLESS.label in row
    assert "Partial" in row and "9 converted" in row and "1 failed" in row
    assert f"{10 / 4.0:.1f} files/s" in row
    assert f"{6_000_000 / 1024**2 / 4.0:.1f} MB/s" in row
    assert f"ratio {6_000_000 / 2_096_000:.2f}:1" in row
    assert operator.username in row
    assert f"conversion-{old.pk}" in page.texts  # older jobs stay listed, only not totalled
    assert f"conversion-{export.pk}" in page.texts
    assert not any("not a conversion" in text for text in page.texts.values())

    by_kind = page.text("conversions-by-kind")
    assert f"Transcode → {TargetSyntax.JPEG_LS_LOSSLESS.label} 1 10" in by_kind
    assert "Export images 1 4" in by_kind
    assert "Split multi-frame" not in by_kind  # ten days old


def test_it_links_to_what_the_jobs_produced(own_folders: Path, viewer: User,
                                            operator: User) -> None:
    into_archive = finished_job("transcode", operator, ago=dt.timedelta(minutes=5), files=2,
                                input_bytes=2_000_000, output_bytes=1_000_000, seconds=1.0,
                                target=TargetSyntax.RLE.value)
    sources = [store_file(corpus(name), source=InstanceSource.UPLOAD).instance
               for name in ("693_UNCI.dcm", "MR2_UNCI.dcm")]
    for source in sources:  # the runner archives its outputs like this
        Instance.objects.filter(pk=source.pk).update(source=InstanceSource.CONVERSION,
                                                     source_job=into_archive)
    studies = {i.series.study for i in sources}

    as_zip = finished_job("export_images", operator, ago=dt.timedelta(minutes=4), files=1,
                          input_bytes=500_000, output_bytes=80_000, seconds=0.5, output="zip")
    built = zip_path(as_zip.pk)
    built.parent.mkdir(parents=True)
    with zipfile.ZipFile(built, "w") as archive:
        archive.writestr("CT_small/frame-0001.png", b"\x89PNG not really")
    zip_gone = finished_job("export_images", operator, ago=dt.timedelta(minutes=3), files=1,
                            input_bytes=500_000, output_bytes=80_000, seconds=0.5, output="zip")
    to_folder = finished_job("swap_bytes", operator, ago=dt.timedelta(minutes=2), files=1,
                             input_bytes=500_000, output_bytes=500_000, seconds=0.5,
                             output="folder", folder="/srv/exports/fixed")

    page = conversions_page(viewer)
    archived = page.links_in(f"#conversion-{into_archive.pk}")
    study_links = {a.href for a in archived if a.href.startswith("/archive/studies/")}
    assert study_links == {s.get_absolute_url() for s in studies}
    row = page.text(f"conversion-{into_archive.pk}")
    assert (f"{len(sources)} instances archived in {len(studies)} "
            f"{'study' if len(studies) == 1 else 'studies'}") in row

    zip_links = [a for a in page.links_in(f"#conversion-{as_zip.pk}") if "download" in a.href]
    assert [a.href for a in zip_links] == [f"/jobs/{as_zip.pk}/download/files/"]
    downloaded = logged_in(viewer).get(zip_links[0].href)
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content) == built.read_bytes()  # type: ignore[attr-defined]
    assert not [a for a in page.links_in(f"#conversion-{zip_gone.pk}") if "download" in a.href]

    assert "folder /srv/exports/fixed" in page.text(f"conversion-{to_folder.pk}")


def test_it_shows_running_jobs_with_live_progress(own_folders: Path, viewer: User,
                                                  operator: User) -> None:
    started = timezone.now() - dt.timedelta(seconds=10)
    running = Job.objects.create(
        kind="transcode", status=JobStatus.RUNNING, owner=operator, summary="Transcode 1 study",
        params={"output": "zip", "target": TargetSyntax.J2K_LOSSLESS.value},
        started_at=started, created_at=started, progress_done=5, progress_total=12,
        counters={"files": 5, "converted": 5, "input_bytes": 3_000_000,
                  "output_bytes": 1_200_000})

    client = logged_in(viewer)
    html = client.get("/conversions/").content.decode()
    page = parse(html)
    live = page.attrs_by_id["conversions-live"]
    assert live["hx-get"] == "/conversions/live/" and "every" in live["hx-trigger"]
    row = page.text(f"conversion-{running.pk}")
    assert "Running" in row and TargetSyntax.J2K_LOSSLESS.label in row
    assert re.search(rf'<tr id="conversion-{running.pk}".*?<progress value="5" max="12">',
                     html, re.S)
    rate = float(re.search(r"([\d.]+) files/s", row).group(1))  # type: ignore[union-attr]
    elapsed = (timezone.now() - started).total_seconds()
    assert abs(rate - 5 / elapsed) <= 0.051  # files so far over the time since it started
    assert f"ratio {3_000_000 / 1_200_000:.2f}:1" in row

    Job.objects.filter(pk=running.pk).update(progress_done=12, counters={
        "files": 12, "converted": 12, "input_bytes": 12_000_000, "output_bytes": 4_000_000})
    again = client.get("/conversions/live/").content.decode()
    assert '<progress value="12" max="12">' in again
    assert "<html" not in again  # only the part htmx swaps

    Job.objects.filter(pk=running.pk).update(status=JobStatus.SUCCEEDED,
                                             finished_at=timezone.now())
    done = parse(client.get("/conversions/live/").content.decode())
    assert "hx-get" not in done.attrs_by_id["conversions-live"]  # nothing left to follow
    assert "No conversion job is running." in done.text("conversions-none-running")
    assert f"conversion-{running.pk}" in done.texts


def test_an_empty_page_says_what_to_do(own_folders: Path, viewer: User,
                                       operator: User) -> None:
    for_operator = conversions_page(operator)
    empty = for_operator.text("conversions-empty")
    assert "No conversion job yet" in empty and "Convert…" in empty
    assert "/archive/" in {a.href for a in for_operator.links_in("#conversions-empty")}
    assert "An Operator starts them" in conversions_page(viewer).text("conversions-empty")


def test_viewers_see_it_without_new_buttons_and_anonymous_users_log_in(
        own_folders: Path, viewer: User, operator: User, no_role_user: User,
        client: Any) -> None:
    kinds = ("transcode", "split", "swap_bytes", "export_images")
    by_operator = conversions_page(operator)
    new = {a.href: a.text for a in by_operator.links_in(".conversion-new")}
    assert new == {"/jobs/new/transcode/": "New transcode", "/jobs/new/split/": "New split",
                   "/jobs/new/swap_bytes/": "New swap bytes",
                   "/jobs/new/export_images/": "New export images"}
    for kind in kinds:
        assert logged_in(operator).get(f"/jobs/new/{kind}/").status_code == 200, kind

    by_viewer = conversions_page(viewer)
    assert not by_viewer.links_in(".conversion-new")
    assert not [a for a in by_viewer.anchors if a.href.startswith("/jobs/new/")]
    assert ("/conversions/", "Conversions") in {(a.href, a.text) for a in by_viewer.anchors}

    anonymous = client.get("/conversions/")
    assert anonymous.status_code == 302 and anonymous["Location"] == "/login/?next=/conversions/"
    assert client.get("/conversions/live/").status_code == 302
    assert logged_in(no_role_user).get("/conversions/").status_code == 403
