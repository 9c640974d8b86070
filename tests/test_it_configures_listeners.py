"""Listener configuration and control: roles, validation, and the desired state."""

from typing import Any

from django.contrib.auth.models import User

from netjobs.models import DesiredState, Listener
from tests.conftest import logged_in

BODY = {"name": "main", "ae_title": "CONSOLE", "port": 11112}


def test_only_administrators_configure(viewer: User, operator: User,
                                       administrator: User) -> None:
    for user in (viewer, operator):
        response = logged_in(user).post("/api/listeners", BODY, content_type="application/json")
        assert response.status_code == 403
    created = logged_in(administrator).post("/api/listeners", BODY,
                                            content_type="application/json")
    assert created.status_code == 201 and created.json()["status"] == "stopped"
    assert logged_in(viewer).get("/listeners/new/").status_code == 403
    assert logged_in(administrator).get("/listeners/new/").status_code == 200


def test_bad_values_are_422_and_ports_are_unique(administrator: User) -> None:
    client = logged_in(administrator)
    for bad in ({"port": 0}, {"ae_title": "A\\B"}, {"bind_address": "not a host"}):
        response = client.post("/api/listeners", {**BODY, **bad},
                               content_type="application/json")
        assert response.status_code == 422, bad
    assert client.post("/api/listeners", BODY, content_type="application/json").status_code == 201
    again = client.post("/api/listeners", {**BODY, "name": "second"},
                        content_type="application/json")
    assert again.status_code == 422 and "address and port" in again.content.decode()
    assert Listener.objects.count() == 1


def test_operators_start_stop_and_restart(operator: User, viewer: User, db: Any) -> None:
    listener = Listener.objects.create(**BODY)
    assert logged_in(viewer).post(f"/api/listeners/{listener.pk}/stop").status_code == 403
    client = logged_in(operator)
    stopped = client.post(f"/api/listeners/{listener.pk}/stop").json()
    assert stopped["desired_state"] == DesiredState.STOPPED
    started = client.post(f"/api/listeners/{listener.pk}/start").json()
    assert started["desired_state"] == DesiredState.RUNNING
    assert client.post(f"/api/listeners/{listener.pk}/explode").status_code == 422
    page = client.post(f"/listeners/{listener.pk}/restart/", follow=True)
    assert "Restart requested" in page.content.decode()
    listener.refresh_from_db()
    assert listener.restart_requested_at is not None
    detail = logged_in(viewer).get(f"/listeners/{listener.pk}/").content.decode()
    assert 'id="listener-status"' in detail
