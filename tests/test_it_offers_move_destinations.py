"""The move form's destination is a drop-down of the console's storage listeners and the AEs
marked as accepting C-MOVE destinations; any other AE title posted is a field error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User

from netjobs.models import Job
from tests.conftest import logged_in
from tests.listener_helpers import make_listener

pytestmark = pytest.mark.django_db


def destination_options(page: str) -> list[str]:
    select = re.search(r'<select name="destination"[^>]*>(.*?)</select>', page, re.S)
    assert select, "the destination is not a drop-down"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_only_move_destinations_are_offered(operator: User, remote_ae: Any) -> None:
    qr = remote_ae(ae_title="QRSCP", port=11112)
    remote_ae(ae_title="WORKSTATION", port=11113, accepts_move_destination=True)
    remote_ae(ae_title="NOTADEST", port=11114, accepts_move_destination=False)
    make_listener(name="inbox", ae_title="INBOX", storage=True)
    make_listener(name="echo only", ae_title="ECHOONLY", storage=False)
    page = logged_in(operator).get(f"/jobs/new/move/?ae={qr.pk}").content.decode()
    options = destination_options(page)
    assert [o for o in options if o] == ["INBOX", "WORKSTATION"]
    assert '<input type="text" name="destination"' not in page


def test_a_destination_not_offered_is_a_field_error(operator: User, remote_ae: Any) -> None:
    qr = remote_ae(ae_title="QRSCP", port=11112)
    remote_ae(ae_title="WORKSTATION", port=11113, accepts_move_destination=True)
    remote_ae(ae_title="NOTADEST", port=11114)
    response = logged_in(operator).post("/jobs/new/move/", {
        "ae": qr.pk, "model": "study_root", "level": "STUDY", "destination": "NOTADEST",
        "study_instance_uid": "1.2.3"})
    assert response.status_code == 422
    page = response.content.decode()
    summary = re.search(r'<div class="form-errors".*?</div>', page, re.S)
    assert summary and 'href="#id_destination">Move destination</a>' in summary.group(0)
    assert "NOTADEST is not one of the available choices" in page
    assert 'name="destination" aria-invalid="true"' in page or re.search(
        r'<select name="destination"[^>]*aria-invalid="true"', page)
    assert not Job.objects.exists()


def test_a_marked_destination_starts_the_move(operator: User, remote_ae: Any) -> None:
    qr = remote_ae(ae_title="QRSCP", port=11112)
    remote_ae(ae_title="WORKSTATION", port=11113, accepts_move_destination=True)
    response = logged_in(operator).post("/jobs/new/move/", {
        "ae": qr.pk, "model": "study_root", "level": "STUDY", "destination": "WORKSTATION",
        "study_instance_uid": "1.2.3"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Job.objects.get().params["destination"] == "WORKSTATION"
