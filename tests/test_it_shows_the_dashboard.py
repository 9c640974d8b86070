"""The dashboard answers "is everything OK?": listeners and workers, Redis and the database,
what the archive holds, the problems of the last 24 h, the last check of each remote AE, and
first-run guidance — from real rows, real files and the real Redis."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.utils import timezone

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from console.dashboard import (
    ProblemKind,
    archive_totals,
    instances_per_hour,
    problems,
    redis_check,
)
from console.dashboard_guidance import StepKind, first_run_steps
from console.heartbeats import (
    HeartbeatThread,
    WorkerKind,
    beat,
    heartbeat_key,
    last_heartbeat,
    redis_client,
)
from netjobs.dicom.status import DimseStatus
from netjobs.models import (
    AEKind,
    ApplicationEntity,
    Association,
    AssociationOutcome,
    AssociationRole,
    DesiredState,
    DimseDirection,
    DimseMessage,
    Job,
    JobStatus,
)
from tests import conftest
from tests.archive_helpers import make_object
from tests.conftest import ROOT, logged_in
from tests.listener_helpers import make_listener
from tests.peers import free_port, stop_process

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_heartbeats() -> None:
    """Each test starts without worker heartbeats of this run's queue prefix."""
    client = redis_client()
    for kind in WorkerKind:
        client.delete(heartbeat_key(kind))


class SvgBars(HTMLParser):
    """The bars of the per-hour chart, as the browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "rect" and "bar" in values.get("class", "").split():
            self.bars.append(values)


def page(user: User) -> str:
    response = logged_in(user).get("/")
    assert response.status_code == 200
    return response.content.decode()


def store_objects(tmp_path: Path, layout: dict[str, dict[str, int]]) -> list[Path]:
    """layout: patient → {study key: series count}; one instance per series, two in the
    first series of each study. Returns the files stored."""
    files = []
    for patient, studies in layout.items():
        for study_key, series_count in studies.items():
            study_uid = f"1.2.826.0.1.3680043.10.1{abs(hash((patient, study_key))) % 10**12}"
            for index in range(series_count):
                series_uid = f"{study_uid}.{index + 1}"
                for _ in range(2 if index == 0 else 1):
                    path = make_object(tmp_path, patient_name=f"{patient}^Test",
                                       patient_id=patient, study_date="20240301",
                                       modality="OT", study_uid=study_uid,
                                       series_uid=series_uid)
                    store_file(path, source=InstanceSource.PATH_IMPORT)
                    files.append(path)
    return files


def test_archive_counts_and_storage_match_the_stored_files(
    tmp_path: Path, viewer: User, settings: Any
) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    files = store_objects(tmp_path, {"P1": {"a": 2, "b": 1}, "P2": {"c": 3}})
    # The oracle: the layout above (2 patients, 3 studies, 6 series, 6 + 3 instances) and the
    # sizes of the files as pydicom wrote them (the archive keeps them byte for byte).
    totals = archive_totals()
    assert (totals.patients, totals.studies, totals.series, totals.instances) == (2, 3, 6, 9)
    assert len(files) == 9
    assert totals.stored_bytes == sum(path.stat().st_size for path in files)
    assert totals.free_bytes is not None and 0 < totals.free_bytes <= (totals.volume_bytes or 0)

    html = page(viewer)
    for name, value in {"patients": 2, "studies": 3, "series": 6, "instances": 9}.items():
        assert re.search(rf'data-total="{name}">{value}<', html), name
    assert f'data-stored-bytes="{totals.stored_bytes}"' in html
    assert "free of" in html


def test_the_chart_has_24_bars_whose_heights_follow_the_hourly_counts(
    tmp_path: Path, viewer: User, settings: Any
) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    store_objects(tmp_path, {"P1": {"a": 5}, "P2": {"b": 4}})  # 6 + 5 = 11 instances
    now = timezone.now()
    start = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    hour = start + (now - start) / 2  # within the current hour, before now
    ids = list(Instance.objects.order_by("pk").values_list("pk", flat=True))
    # 6 in the current hour, 3 two hours ago, 1 five hours ago, 1 two days ago (outside).
    plan = [0] * 6 + [2] * 3 + [5] + [48]
    for pk, back in zip(ids, plan, strict=True):
        Instance.objects.filter(pk=pk).update(received_at=hour - timedelta(hours=back))
    expected = [0] * 24
    for back in plan:
        if back < 24:
            expected[23 - back] += 1

    assert [h.count for h in instances_per_hour(now)] == expected

    html = page(viewer)
    parser = SvgBars()
    parser.feed(html)
    assert len(parser.bars) == 24
    assert [int(bar["data-count"]) for bar in parser.bars] == expected
    heights = [float(bar["height"]) for bar in parser.bars]
    tallest = max(heights)
    for count, height in zip(expected, heights, strict=True):
        assert height == pytest.approx(tallest * count / 6, abs=0.02)
    titles = re.findall(r"<rect class=\"bar\"[^>]*><title>([^<]*)</title>", html)
    assert titles[-1].endswith(": 6 instances") and titles[-3].endswith(": 3 instances")
    assert 'role="img"' in html and "10 instances received in the last 24 hours" in html


def make_association(outcome: AssociationOutcome, *, role: AssociationRole,
                     started_at: Any = None, **fields: Any) -> Association:
    return Association.objects.create(
        role=role, outcome=outcome, calling_ae_title="MODALITY", called_ae_title="CONSOLE",
        peer_host="127.0.0.1", peer_port=4000, started_at=started_at or timezone.now(),
        ended_at=timezone.now(), **fields)


def test_problems_are_counted_from_the_jobs_and_associations_of_the_last_24_h(
    viewer: User,
) -> None:
    html = page(viewer)
    assert "No problems in the last 24 h" in html

    old = timezone.now() - timedelta(hours=30)
    for status in (JobStatus.FAILED, JobStatus.FAILED, JobStatus.PARTIAL, JobStatus.SUCCEEDED):
        Job.objects.create(kind="echo", status=status)
    Job.objects.create(kind="echo", status=JobStatus.FAILED, created_at=old)
    listener = make_listener()
    inbound = AssociationRole.ACCEPTOR
    make_association(AssociationOutcome.REJECTED, role=inbound, listener=listener)
    make_association(AssociationOutcome.REJECTED, role=AssociationRole.REQUESTOR)
    make_association(AssociationOutcome.REJECTED, role=inbound, started_at=old)
    make_association(AssociationOutcome.ABORTED, role=inbound, listener=listener)
    stored = make_association(AssociationOutcome.RELEASED, role=inbound, listener=listener)
    for code in (DimseStatus.OUT_OF_RESOURCES, DimseStatus.CANNOT_UNDERSTAND,
                 DimseStatus.SUCCESS, DimseStatus.SUB_OPERATIONS_WITH_FAILURES,  # a warning
                 DimseStatus.REFUSED_SOP_CLASS_NOT_SUPPORTED):
        DimseMessage.objects.create(association=stored, at=timezone.now(),
                                    direction=DimseDirection.SENT, command="C-STORE-RSP",
                                    status=code)
    # Not refusals by a listener: a request, and a response the console received outbound.
    DimseMessage.objects.create(association=stored, at=timezone.now(),
                                direction=DimseDirection.RECEIVED, command="C-STORE-RQ")
    outbound = make_association(AssociationOutcome.RELEASED, role=AssociationRole.REQUESTOR)
    DimseMessage.objects.create(association=outbound, at=timezone.now(),
                                direction=DimseDirection.RECEIVED, command="C-STORE-RSP",
                                status=DimseStatus.OUT_OF_RESOURCES)

    counts = {problem.kind: problem.count for problem in problems(timezone.now())}
    assert counts == {ProblemKind.FAILED_JOBS: 2, ProblemKind.PARTIAL_JOBS: 1,
                      ProblemKind.REJECTED_ASSOCIATIONS: 2, ProblemKind.ABORTED_ASSOCIATIONS: 1,
                      ProblemKind.REFUSED_INSTANCES: 3}

    html = page(viewer)
    assert "No problems in the last 24 h" not in html
    links = dict(re.findall(r'data-problem="(\w+)"><a href="([^"]+)"', html))
    assert links == {
        "failed_jobs": "/jobs/?status=failed&amp;since=24h",
        "partial_jobs": "/jobs/?status=partial&amp;since=24h",
        "rejected_associations": "/associations/?result=rejected&amp;since=24h",
        "aborted_associations": "/associations/?result=aborted&amp;since=24h",
        "refused_instances": "/associations/?direction=inbound&amp;failures=1&amp;since=24h",
    }
    shown = dict(re.findall(r'data-problem="(\w+)">.*?dash-count">(\d+)<', html))
    assert shown == {"failed_jobs": "2", "partial_jobs": "1", "rejected_associations": "2",
                     "aborted_associations": "1", "refused_instances": "3"}


def test_listeners_show_state_address_services_and_their_last_association(
    viewer: User,
) -> None:
    listener = make_listener(name="store-scp", ae_title="CONSOLE", mpps=True)
    make_listener(name="idle", ae_title="IDLE", storage=False, query_retrieve=False)
    make_association(AssociationOutcome.RELEASED, role=AssociationRole.ACCEPTOR,
                     listener=listener, started_at=timezone.now() - timedelta(minutes=5))
    Association.objects.create(
        role=AssociationRole.ACCEPTOR, outcome=AssociationOutcome.REJECTED,
        calling_ae_title="BADCALLER", called_ae_title="CONSOLE", peer_host="127.0.0.1",
        peer_port=4001, started_at=timezone.now() - timedelta(minutes=1), listener=listener)

    html = page(viewer)
    row = re.search(r'<tr data-listener="store-scp".*?</tr>', html, re.S)
    assert row is not None
    text = row.group(0)
    assert f"127.0.0.1:{listener.port}" in text and ">CONSOLE<" in text
    assert "Verification, Storage, Query/Retrieve, MPPS" in text
    assert "BADCALLER" in text and 'data-status="rejected"' in text  # the latest one
    assert f'href="/associations/?listener={listener.pk}"' in text
    idle = re.search(r'<tr data-listener="idle".*?</tr>', html, re.S)
    assert idle is not None and "none yet" in idle.group(0)
    assert "Verification</small>" in idle.group(0)


def test_query_count_does_not_grow_with_listeners_and_aes(
    viewer: User, django_assert_max_num_queries: Any
) -> None:
    def add(index: int) -> None:
        listener = make_listener(name=f"l{index}", ae_title=f"L{index}")
        make_association(AssociationOutcome.RELEASED, role=AssociationRole.ACCEPTOR,
                         listener=listener)
        ae = ApplicationEntity.objects.create(kind=AEKind.REMOTE, ae_title=f"PEER{index}",
                                              host="127.0.0.1", port=1000 + index)
        Job.objects.create(kind="echo", status=JobStatus.SUCCEEDED, params={"ae": ae.pk})

    client = logged_in(viewer)
    add(0)
    client.get("/")  # warm up (session, content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get("/")
    for index in range(1, 8):
        add(index)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get("/")
    assert response.content.decode().count("<tr data-ae=") == 8


def test_each_remote_ae_shows_its_latest_echo_or_connectivity_job(
    operator: User, remote_ae: Any
) -> None:
    checked = remote_ae(ae_title="CHECKED")
    never = remote_ae(ae_title="NEVER", port=11113)
    Job.objects.create(kind="echo", status=JobStatus.SUCCEEDED, params={"ae": checked.pk},
                       created_at=timezone.now() - timedelta(hours=3),
                       result={"status_text": "0x0000 success", "round_trip_ms": 1.5})
    latest = Job.objects.create(kind="connectivity", status=JobStatus.FAILED,
                                params={"ae": checked.pk}, error="Nothing is listening")
    Job.objects.create(kind="store", status=JobStatus.SUCCEEDED, params={"ae": checked.pk})
    Job.objects.create(kind="echo", status=JobStatus.SUCCEEDED, params={"ae": never.pk + 100})

    html = page(operator)
    row = re.search(r'<tr data-ae="CHECKED">.*?</tr>', html, re.S)
    assert row is not None
    assert f'href="/jobs/{latest.pk}/"' in row.group(0)
    assert "Connectivity check" in row.group(0) and "Nothing is listening" in row.group(0)
    assert f'hx-post="/aes/{checked.pk}/echo/"' in row.group(0)  # the echo button
    other = re.search(r'<tr data-ae="NEVER">.*?</tr>', html, re.S)
    assert other is not None and "Never checked." in other.group(0)


def test_viewers_get_no_echo_button(viewer: User, remote_ae: Any) -> None:
    remote_ae()
    assert "hx-post=" not in page(viewer)


def test_first_run_guidance_lists_only_the_steps_not_done_and_follows_the_role(
    tmp_path: Path, administrator: User, viewer: User, settings: Any
) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    steps = first_run_steps(administrator, has_studies=False)
    assert [s.kind for s in steps] == [StepKind.ADD_AE, StepKind.ADD_LISTENER, StepKind.IMPORT]
    html = page(administrator)
    assert "Getting started" in html
    assert 'href="/aes/new/"' in html and 'href="/listeners/new/"' in html
    assert 'href="/archive/import/"' in html

    viewer_html = page(viewer)
    assert "Getting started" in viewer_html and 'href="/aes/new/"' not in viewer_html
    assert "Ask an Administrator to do this." in viewer_html
    assert "Ask an Operator to do this." in viewer_html

    ApplicationEntity.objects.create(kind=AEKind.REMOTE, ae_title="PACS", host="127.0.0.1",
                                     port=104)
    listener = make_listener(desired_state=DesiredState.STOPPED)
    assert [s.kind for s in first_run_steps(administrator, has_studies=False)] == [
        StepKind.START_LISTENER, StepKind.IMPORT]
    listener.desired_state = DesiredState.RUNNING
    listener.save()
    store_objects(tmp_path, {"P1": {"a": 1}})
    assert Study.objects.exists()
    html = page(administrator)
    assert "Getting started" not in html


def worker_item(html: str, kind: WorkerKind) -> str:
    match = re.search(rf'<li data-worker="{kind.value}".*?</li>', html, re.S)
    assert match is not None
    return match.group(0)


def test_worker_heartbeats_absent_written_and_expired(viewer: User) -> None:
    # The listener kind: no test process hosts listeners, so its key is truly absent (a job
    # worker started by another test of the session may write the job kind's at any time).
    kind = WorkerKind.LISTENERS
    html = page(viewer)
    assert 'data-alive="false"' in worker_item(html, kind)
    assert "not running" in worker_item(html, kind)

    beat(kind, ttl_seconds=0.5)
    beat(WorkerKind.JOBS)
    html = page(viewer)
    listeners = worker_item(html, kind)
    assert 'data-alive="true"' in listeners and re.search(r"last seen \d+ s ago", listeners)
    assert 'data-alive="true"' in worker_item(html, WorkerKind.JOBS)

    time.sleep(0.8)  # past the listener key's TTL
    html = page(viewer)
    assert 'data-alive="true"' in worker_item(html, WorkerKind.JOBS)
    listeners = worker_item(html, kind)
    assert 'data-alive="false"' in listeners and "not running" in listeners


def test_the_heartbeat_thread_writes_until_stopped() -> None:
    thread = HeartbeatThread(WorkerKind.LISTENERS, interval=0.1)
    thread.start()
    deadline = time.monotonic() + 5
    while not last_heartbeat(WorkerKind.LISTENERS).alive:
        assert time.monotonic() < deadline, "no heartbeat written"
        time.sleep(0.05)
    ttl = redis_client().pttl(heartbeat_key(WorkerKind.LISTENERS))
    assert 0 < ttl <= 30_000
    thread.stop()
    assert not last_heartbeat(WorkerKind.LISTENERS).alive


def test_the_celery_job_worker_writes_its_heartbeat(celery_worker_process: Path) -> None:
    deadline = time.monotonic() + 20
    while not last_heartbeat(WorkerKind.JOBS).alive:
        assert time.monotonic() < deadline, "the job worker wrote no heartbeat"
        time.sleep(0.2)
    assert last_heartbeat(WorkerKind.JOBS).seconds_ago is not None
    assert not last_heartbeat(WorkerKind.LISTENERS).alive  # not a listener host


def test_the_listener_worker_writes_its_heartbeat_and_removes_it_on_stop(
    tmp_path: Path, transactional_db: Any
) -> None:
    """A real Celery worker started as the run command starts the listener worker."""
    log_path = tmp_path / "listener-worker.log"
    env = {**os.environ, "DATABASE_URL": conftest.test_database_url(), "CONSOLE_LISTENER_HOST": "1",
           "DJANGO_SETTINGS_MODULE": "tests.settings",
           "CONSOLE_QUEUE_PREFIX": django_settings.QUEUE_PREFIX}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "console", "worker",
             "-Q", django_settings.LISTENERS_QUEUE,
             "-n", f"{django_settings.QUEUE_PREFIX}listeners@%h", "--pool", "threads",
             "--concurrency", "1", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not last_heartbeat(WorkerKind.LISTENERS).alive:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        finally:
            stop_process(process, grace=15)
    assert not last_heartbeat(WorkerKind.LISTENERS).alive  # removed on a clean stop


def test_redis_and_the_database_are_reported_reachable(viewer: User) -> None:
    html = page(viewer)
    assert re.search(r'data-service="redis" data-ok="true"', html)
    assert re.search(r'data-service="database" data-ok="true"', html)


def test_an_unreachable_redis_is_reported_with_the_error() -> None:
    closed = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    check = redis_check(closed)
    assert not check.ok
    assert "refused" in check.detail.lower() or "connect" in check.detail.lower()
    assert not last_heartbeat(WorkerKind.JOBS, closed).alive
    assert "Redis" in last_heartbeat(WorkerKind.JOBS, closed).error
