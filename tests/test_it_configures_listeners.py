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


def test_transfer_syntaxes_per_service_are_validated(administrator: User) -> None:
    client = logged_in(administrator)
    for bad, message in (({"storage": []}, "non-empty"), ({"printing": ["1.2.840.10008.1.2"]},
                                                          "Unknown service"),
                         ({"storage": ["1.2.3"]}, "unknown transfer syntax")):
        response = client.post("/api/listeners", {**BODY, "transfer_syntaxes": bad},
                               content_type="application/json")
        assert response.status_code == 422 and message in response.content.decode(), bad
    good = client.post("/api/listeners", {**BODY, "transfer_syntaxes": {
        "storage": ["1.2.840.10008.1.2.1"]}}, content_type="application/json")
    assert good.status_code == 201
    assert good.json()["transfer_syntaxes"] == {"storage": ["1.2.840.10008.1.2.1"]}


def test_the_form_keeps_only_syntax_choices_that_differ_from_the_defaults(
        administrator: User) -> None:
    client = logged_in(administrator)
    form = client.get("/listeners/new/").content.decode()
    assert 'name="syntaxes_storage"' in form and 'name="syntaxes_mpps"' in form
    from netjobs.listeners.services import ListenerService, default_syntaxes
    data: dict[str, Any] = {
        "name": "tls", "ae_title": "CONSOLE", "bind_address": "127.0.0.1", "port": 11113,
        "verification": "on", "storage": "on", "calling_policy": "any",
        "duplicate_policy": "keep", "max_associations": 10, "max_pdu": 131072,
        "acse_timeout": 30, "dimse_timeout": 60, "network_timeout": 60, "enabled": "on"}
    for service in ListenerService:
        data[f"syntaxes_{service.value}"] = default_syntaxes(service)
    data["syntaxes_storage"] = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90"]
    response = client.post("/listeners/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    listener = Listener.objects.get(name="tls")
    assert listener.transfer_syntaxes == {"storage": ["1.2.840.10008.1.2.1",
                                                      "1.2.840.10008.1.2.4.90"]}
    detail = client.get(listener.get_absolute_url()).content.decode()
    assert "JPEG 2000 Image Compression (Lossless Only)" in detail
    data.update(name="tls2", port=11114, tls_enabled="on", tls_cert_file="/etc/passwd",
                tls_key_file="")
    refused = client.post("/listeners/new/", data).content.decode()
    assert "outside the folders allowed" in refused and "certificate and key" in refused
