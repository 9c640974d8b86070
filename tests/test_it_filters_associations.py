"""The association monitor's filters (the GET parameters other pages link to): direction,
AE title (calling or called), listener, job, result, failed DIMSE responses, since/until;
bad values give a message, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from netjobs.association_filters import AssociationFilterSet
from netjobs.models import (
    Association,
    AssociationOutcome,
    AssociationRole,
    Job,
    Listener,
)
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


def record(**fields: Any) -> Association:
    values: dict[str, Any] = {
        "role": AssociationRole.ACCEPTOR, "outcome": AssociationOutcome.RELEASED,
        "calling_ae_title": "MODALITY", "called_ae_title": "CONSOLE",
        "peer_host": "127.0.0.1", "peer_port": 40000, "started_at": timezone.now()}
    values.update(fields)
    return Association.objects.create(**values)


@pytest.fixture
def recorded() -> dict[str, Association]:
    listener = Listener.objects.create(name="main", ae_title="CONSOLE", port=11112)
    other = Listener.objects.create(name="other", ae_title="OTHER", port=11113)
    job = Job.objects.create(kind="echo", params={})
    now = timezone.now()
    return {
        "in_recent": record(listener=listener, started_at=now - timedelta(hours=1)),
        "in_old": record(listener=listener, calling_ae_title="CT1",
                         started_at=now - timedelta(days=3)),
        "in_other_rejected": record(listener=other, calling_ae_title="CT1",
                                    called_ae_title="OTHER",
                                    outcome=AssociationOutcome.REJECTED,
                                    started_at=now - timedelta(days=10)),
        "out_failed_dimse": record(job=job, role=AssociationRole.REQUESTOR,
                                   calling_ae_title="CONSOLE", called_ae_title="PACS",
                                   dimse_failures=2, started_at=now - timedelta(minutes=5)),
        "out_aborted": record(job=job, role=AssociationRole.REQUESTOR,
                              calling_ae_title="CONSOLE", called_ae_title="CT1",
                              outcome=AssociationOutcome.ABORTED,
                              started_at=now - timedelta(hours=30)),
    }


def matching(recorded: dict[str, Association], **params: Any) -> set[str]:
    filterset = AssociationFilterSet(
        {k: str(v) for k, v in params.items()}, queryset=Association.objects.all())
    assert filterset.is_valid(), filterset.errors
    pks = set(filterset.qs.values_list("pk", flat=True))
    return {name for name, a in recorded.items() if a.pk in pks}


def test_each_filter_narrows_to_exactly_its_associations(
        recorded: dict[str, Association]) -> None:
    listener = recorded["in_recent"].listener
    assert listener is not None
    job = recorded["out_aborted"].job
    assert matching(recorded) == set(recorded)
    assert matching(recorded, direction="inbound") == {"in_recent", "in_old",
                                                       "in_other_rejected"}
    assert matching(recorded, direction="outbound") == {"out_failed_dimse", "out_aborted"}
    assert matching(recorded, ae="CT1") == {"in_old", "in_other_rejected", "out_aborted"}
    assert matching(recorded, ae="PACS") == {"out_failed_dimse"}
    assert matching(recorded, listener=listener.pk) == {"in_recent", "in_old"}
    assert job is not None and matching(recorded, job=job.pk) == {"out_failed_dimse",
                                                                   "out_aborted"}
    assert matching(recorded, result="rejected") == {"in_other_rejected"}
    assert matching(recorded, result="aborted") == {"out_aborted"}
    assert matching(recorded, failures=1) == {"out_failed_dimse"}
    assert matching(recorded, direction="inbound", ae="CT1", result="released") == {"in_old"}


def test_since_and_until_take_relative_and_iso_times(recorded: dict[str, Association]) -> None:
    assert matching(recorded, since="24h") == {"in_recent", "out_failed_dimse"}
    assert matching(recorded, since="30min") == {"out_failed_dimse"}
    assert matching(recorded, since="7d") == set(recorded) - {"in_other_rejected"}
    two_days_ago = (timezone.localtime() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert matching(recorded, until=two_days_ago) == {"in_old", "in_other_rejected"}
    assert matching(recorded, since="7d", until=two_days_ago) == {"in_old"}


@pytest.mark.parametrize(("params", "message"), [
    ("since=yesterday", "24h, 7d"),
    ("until=2024-02-31T10:00", "date and time"),
    ("listener=99999", "Select a valid choice"),
    ("listener=abc", "Select a valid choice"),
    ("job=abc", "Enter a number"),
    ("result=exploded", "Select a valid choice"),
    ("direction=sideways", "Select a valid choice"),
])
def test_bad_values_give_a_message_not_a_500(viewer: User, recorded: dict[str, Association],
                                             params: str, message: str) -> None:
    response = logged_in(viewer).get(f"/associations/?{params}")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="form-errors"' in page and message in page
    assert 'id="association-' not in page


def test_the_page_lists_newest_first_and_pages(viewer: User,
                                               recorded: dict[str, Association]) -> None:
    page = logged_in(viewer).get("/associations/?page=999").content.decode()  # → last page
    order = [page.index(f'id="association-{recorded[name].pk}"')
             for name in ("out_failed_dimse", "in_recent", "out_aborted", "in_old",
                          "in_other_rejected")]
    assert order == sorted(order)
    assert logged_in(viewer).get("/associations/?page=abc").status_code == 200


def test_the_monitor_needs_a_login_and_a_role(client: Any, no_role_user: User) -> None:
    assert client.get("/associations/").status_code == 302
    assert logged_in(no_role_user).get("/associations/").status_code == 403
