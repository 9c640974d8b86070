"""The Jobs page and GET /api/jobs filter by kind, status, owner and date, with pagination."""

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from netjobs.models import Job, JobStatus
from tests.conftest import logged_in


def make_jobs(operator: User, administrator: User) -> None:
    now = timezone.now()
    for index in range(30):
        Job.objects.create(
            kind="echo",
            status=JobStatus.SUCCEEDED if index % 3 else JobStatus.FAILED,
            summary=f"C-ECHO to PEER{index}@127.0.0.1:104",
            owner=operator if index % 2 else administrator,
            created_at=now - timedelta(days=index),
        )


def test_api_filters_by_status_owner_and_date(
    viewer: User, operator: User, administrator: User
) -> None:
    make_jobs(operator, administrator)
    client = logged_in(viewer)
    failed = client.get("/api/jobs", {"status": "failed", "limit": "100"}).json()
    assert failed["count"] == 10
    assert {item["status"] for item in failed["items"]} == {"failed"}
    mine = client.get("/api/jobs", {"owner": "otto-operator", "limit": "100"}).json()
    assert mine["count"] == 15 and {i["owner"] for i in mine["items"]} == {"otto-operator"}
    since = (timezone.now() - timedelta(days=4)).date().isoformat()
    recent = client.get("/api/jobs", {"created_after": since, "limit": "100"}).json()
    assert recent["count"] == 5
    page = client.get("/api/jobs", {"limit": 7, "offset": 7}).json()
    assert page["count"] == 30 and len(page["items"]) == 7
    assert client.get("/api/jobs", {"status": "sleeping"}).status_code == 422


def test_jobs_page_filters_and_paginates(viewer: User, operator: User, administrator: User) -> None:
    make_jobs(operator, administrator)
    client = logged_in(viewer)
    first = client.get("/jobs/")
    assert first.status_code == 200
    assert first.context["page_obj"].paginator.count == 30
    assert len(first.context["page_obj"].object_list) == 25
    body = first.content.decode()
    assert "Page 1 of 2" in body
    assert 'class="badge badge-failed"' in body
    filtered = client.get("/jobs/", {"status": "failed", "owner": "ada-admin"})
    jobs = list(filtered.context["page_obj"].object_list)
    assert jobs and all(j.status == "failed" and j.owner == administrator for j in jobs)
    assert "PEER0@" in filtered.content.decode()


def test_job_page_shows_parameters_log_and_live_section(
    viewer: User, operator: User, remote_ae: Any
) -> None:
    job = Job.objects.create(
        kind="echo", params={"ae": remote_ae().pk}, owner=operator, summary="C-ECHO to X"
    )
    page = logged_in(viewer).get(f"/jobs/{job.pk}/").content.decode()
    assert f'hx-get="/jobs/{job.pk}/live/"' in page  # polls while not terminal
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    live = logged_in(viewer).get(f"/jobs/{job.pk}/live/").content.decode()
    assert "hx-get" not in live  # terminal: polling stops
    assert 'data-job-status="succeeded"' in live
