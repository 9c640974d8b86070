"""The AE list shows each remote AE's latest echo or connectivity check, found for all AEs in
a fixed number of queries (not one per AE)."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from netjobs.models import Job, JobStatus
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


def aes_with_checks(remote_ae: Any, operator: User, start: int, count: int) -> list[Job]:
    latest = []
    for index in range(start, start + count):
        ae = remote_ae(ae_title=f"PEER{index}", port=11000 + index)
        Job.objects.create(kind="echo", status=JobStatus.FAILED, owner=operator,
                           params={"ae": ae.pk}, summary=f"old check of PEER{index}")
        latest.append(Job.objects.create(kind="connectivity", status=JobStatus.SUCCEEDED,
                                         owner=operator, params={"ae": ae.pk},
                                         summary=f"new check of PEER{index}"))
    return latest


def queries_for_list(user: User) -> tuple[int, str]:
    client = logged_in(user)
    client.get("/aes/")  # session and permission caches warm
    with CaptureQueriesContext(connection) as captured:
        html = client.get("/aes/").content.decode()
    return len(captured.captured_queries), html


def test_each_ae_shows_its_latest_check_with_bounded_queries(
    remote_ae: Any, operator: User, viewer: User
) -> None:
    first = aes_with_checks(remote_ae, operator, 0, 1)
    one, html = queries_for_list(viewer)
    assert f'href="/jobs/{first[0].pk}/"' in html
    more = aes_with_checks(remote_ae, operator, 1, 7)
    eight, html = queries_for_list(viewer)
    assert eight == one, f"{one} queries for 1 AE, {eight} for 8"
    for job in [*first, *more]:
        assert f'href="/jobs/{job.pk}/"' in html
    old = Job.objects.filter(summary__startswith="old check")
    for job in old:
        assert f'href="/jobs/{job.pk}/"' not in html
