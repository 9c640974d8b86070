"""Every page and endpoint needs login and the right role."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from netjobs.models import ApplicationEntity, Job
from tests.conftest import logged_in

PAGES = ["/", "/aes/", "/aes/new/", "/jobs/", "/account/tokens/", "/admin/", "/api/docs"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_login(db: Any, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].split("?")[0] in {"/login/", "/admin/login/"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/aes"), ("get", "/api/jobs"), ("post", "/api/jobs"), ("get", "/api/me")],
)
def test_anonymous_api_calls_get_401(db: Any, method: str, path: str) -> None:
    response = getattr(Client(), method)(path, content_type="application/json")
    assert response.status_code == 401


def test_login_page_is_open_and_logs_in(administrator: User) -> None:
    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post(
        "/login/", {"username": "ada-admin", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_a_user_without_role_sees_nothing(no_role_user: User) -> None:
    client = logged_in(no_role_user)
    for path in ["/", "/aes/", "/jobs/"]:
        assert client.get(path).status_code == 403
    assert client.get("/api/aes").status_code == 403


def test_viewer_reads_but_cannot_configure_or_run(viewer: User, remote_ae: Any) -> None:
    ae = remote_ae()
    client = logged_in(viewer)
    assert client.get("/aes/").status_code == 200
    assert client.get(f"/aes/{ae.pk}/").status_code == 200
    assert client.get("/aes/new/").status_code == 403
    assert client.get(f"/aes/{ae.pk}/edit/").status_code == 403
    assert client.post(f"/aes/{ae.pk}/delete/").status_code == 403
    assert client.post(f"/aes/{ae.pk}/echo/").status_code == 403
    assert client.get("/admin/").status_code == 302  # admin login page: not for viewers
    api = client.post(
        "/api/jobs", {"kind": "echo", "params": {"ae": ae.pk}}, content_type="application/json"
    )
    assert api.status_code == 403
    assert client.post("/api/aes", {}, content_type="application/json").status_code == 403
    assert client.delete(f"/api/aes/{ae.pk}").status_code == 403
    assert Job.objects.count() == 0
    assert ApplicationEntity.objects.filter(pk=ae.pk).exists()


def test_navigation_shows_only_allowed_pages(viewer: User, administrator: User) -> None:
    viewer_page = logged_in(viewer).get("/").content.decode()
    admin_page = logged_in(administrator).get("/").content.decode()
    assert 'href="/admin/"' not in viewer_page
    assert 'href="/admin/"' in admin_page
    for page in (viewer_page, admin_page):
        assert 'href="/aes/"' in page and 'href="/jobs/"' in page


def test_operator_runs_jobs_but_cannot_configure(operator: User, remote_ae: Any) -> None:
    ae = remote_ae()
    client = logged_in(operator)
    assert client.get("/aes/new/").status_code == 403
    assert client.patch(
        f"/api/aes/{ae.pk}", {"port": 1}, content_type="application/json"
    ).status_code == 403
    response = client.post(
        "/api/jobs", {"kind": "echo", "params": {"ae": ae.pk}}, content_type="application/json"
    )
    assert response.status_code == 201


def test_administrator_configures_aes_and_opens_admin(administrator: User) -> None:
    client = logged_in(administrator)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/netjobs/applicationentity/").status_code == 200
    created = client.post(
        "/api/aes",
        {"ae_title": "PACS", "host": "127.0.0.1", "port": 104},
        content_type="application/json",
    )
    assert created.status_code == 201
    ae_id = created.json()["id"]
    patched = client.patch(f"/api/aes/{ae_id}", {"port": 105}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["port"] == 105
    assert client.delete(f"/api/aes/{ae_id}").status_code == 204
    assert not ApplicationEntity.objects.exists()


def test_operators_control_only_their_own_jobs(
    operator: User, administrator: User, remote_ae: Any
) -> None:
    other = User.objects.create_user("oscar-operator", password="x")
    from django.contrib.auth.models import Group

    other.groups.add(Group.objects.get(name="Operator"))
    job = Job.objects.create(kind="echo", params={"ae": remote_ae().pk}, owner=operator)
    assert logged_in(other).post(f"/api/jobs/{job.pk}/cancel").status_code == 403
    assert logged_in(administrator).post(f"/api/jobs/{job.pk}/cancel").status_code == 200
