"""``since`` on the Jobs page and GET /api/jobs: the last 24 h exactly (what the dashboard's
problem links use), 30min/7d or an ISO date and time; a bad value is an error, never a 500."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from netjobs.models import Job, JobStatus
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


def make_failed_jobs(owner: User, hours_ago: list[float]) -> list[Job]:
    now = timezone.now()
    return [Job.objects.create(kind="echo", status=JobStatus.FAILED, owner=owner,
                               summary=f"C-ECHO {h} h ago", created_at=now - timedelta(hours=h))
            for h in hours_ago]


def test_since_24h_is_the_last_24_hours_not_whole_days(viewer: User, operator: User) -> None:
    recent, _, _ = make_failed_jobs(operator, [1, 25, 47])
    client = logged_in(viewer)
    body = client.get("/api/jobs", {"status": "failed", "since": "24h"}).json()
    assert [item["id"] for item in body["items"]] == [recent.pk]
    page = client.get("/jobs/", {"status": "failed", "since": "24h"}).content.decode()
    assert "C-ECHO 1 h ago" in page and "C-ECHO 25 h ago" not in page
    assert client.get("/api/jobs", {"since": "7d"}).json()["count"] == 3
    assert client.get("/api/jobs", {"since": "30min"}).json()["count"] == 0
    moment = (timezone.now() - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M")
    assert client.get("/api/jobs", {"since": moment}).json()["count"] == 2


@pytest.mark.parametrize("value", ["yesterday", "24x", "2024-02-31T10:00"])
def test_bad_since_values_are_refused_with_a_reason(viewer: User, value: str) -> None:
    client = logged_in(viewer)
    assert client.get("/api/jobs", {"since": value}).status_code == 422
    response = client.get("/jobs/", {"since": value})
    assert response.status_code in (200, 422)
    assert "date and time" in response.content.decode()
