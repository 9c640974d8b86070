"""CSRF protection on forms and on session-authenticated API calls; tokens need none."""

from typing import Any

from django.contrib.auth.models import User

from console.tokens import issue_token
from netjobs.models import ApplicationEntity
from tests.conftest import logged_in

AE = {"ae_title": "PACS", "host": "127.0.0.1", "port": 104}


def test_form_post_without_csrf_token_is_refused(administrator: User) -> None:
    client = logged_in(administrator, enforce_csrf=True)
    response = client.post("/aes/new/", {**AE, "kind": "remote"})
    assert response.status_code == 403
    assert not ApplicationEntity.objects.exists()


def test_form_post_with_csrf_token_is_accepted(administrator: User) -> None:
    client = logged_in(administrator, enforce_csrf=True)
    page = client.get("/aes/new/")
    token = page.context["csrf_token"]
    form = {
        **AE, "kind": "remote", "max_pdu": 0, "connect_timeout": 5, "acse_timeout": 5,
        "dimse_timeout": 5, "network_timeout": 5, "csrfmiddlewaretoken": token,
    }
    assert client.post("/aes/new/", form).status_code == 302
    assert ApplicationEntity.objects.count() == 1


def test_session_api_call_without_csrf_is_refused(administrator: User) -> None:
    client = logged_in(administrator, enforce_csrf=True)
    response = client.post("/api/aes", AE, content_type="application/json")
    assert response.status_code in (401, 403)
    assert not ApplicationEntity.objects.exists()


def test_session_api_call_with_csrf_header_is_accepted(administrator: User) -> None:
    client = logged_in(administrator, enforce_csrf=True)
    client.get("/aes/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/aes", AE, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201


def test_bearer_token_calls_need_no_csrf(administrator: User, db: Any) -> None:
    from django.test import Client

    raw = issue_token(administrator, "script").raw
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/aes", AE, content_type="application/json", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 201
