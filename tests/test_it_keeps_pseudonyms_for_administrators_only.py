"""The pseudonym mapping table links each pseudonym back to the original Patient ID and
Patient Name, so only Administrators see it (pages, CSV, API); Operators see the projects
they choose from in the de-identify form, never an original ID; Viewers and users without a
role see nothing of de-identification."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from archive.deid.models import DeidProject, Pseudonym, PseudonymOrigin
from console.tokens import issue_token
from netjobs.models import Job
from tests.conftest import logged_in

ORIGINAL_ID = "MRN-ORIGINAL-4711"
ORIGINAL_NAME = "Geheim^Gertrud"
PSEUDONYM = "STUDY-0001"
ADMIN, OPERATOR, VIEWER, NOBODY = "administrator", "operator", "viewer", "no role"


@pytest.fixture
def project(db: Any) -> DeidProject:
    project = DeidProject.objects.create(name="STUDY", description="Trial 9",
                                         pseudonym_prefix="STUDY", created_by="ada-admin")
    Pseudonym.objects.create(project=project, original_patient_id=ORIGINAL_ID,
                             original_patient_name=ORIGINAL_NAME, pseudonym_id=PSEUDONYM,
                             pseudonym_name="STUDY^0001", origin=PseudonymOrigin.GENERATED)
    return project


@pytest.fixture
def clients(administrator: User, operator: User, viewer: User,
            no_role_user: User) -> dict[str, Client]:
    return {ADMIN: logged_in(administrator), OPERATOR: logged_in(operator),
            VIEWER: logged_in(viewer), NOBODY: logged_in(no_role_user)}


def page_urls(project: DeidProject) -> dict[str, str]:
    base = f"/deidentify/projects/{project.pk}/"
    return {"home": "/deidentify/", "new": "/deidentify/projects/new/", "detail": base,
            "edit": f"{base}edit/", "csv": f"{base}pseudonyms.csv"}


ALLOWED = {"home": {ADMIN, OPERATOR}, "new": {ADMIN}, "detail": {ADMIN}, "edit": {ADMIN},
           "csv": {ADMIN}}


@pytest.mark.parametrize("who", [ADMIN, OPERATOR, VIEWER, NOBODY])
@pytest.mark.parametrize("page", sorted(ALLOWED))
def test_each_page_needs_its_role(clients: dict[str, Client], project: DeidProject,
                                  who: str, page: str) -> None:
    response = clients[who].get(page_urls(project)[page])
    assert response.status_code == (200 if who in ALLOWED[page] else 403)


@pytest.mark.parametrize("page", sorted(ALLOWED))
def test_anonymous_visitors_go_to_login(db: Any, project: DeidProject, page: str) -> None:
    response = Client().get(page_urls(project)[page])
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("who", [ADMIN, OPERATOR, VIEWER, NOBODY])
def test_only_administrators_change_projects_and_tables(clients: dict[str, Client],
                                                        project: DeidProject, who: str) -> None:
    urls = page_urls(project)
    created = clients[who].post(urls["new"], {"name": f"by {who}", "pseudonym_prefix": "X"})
    edited = clients[who].post(urls["edit"], {"name": "STUDY", "pseudonym_prefix": "HACKED"})
    uploaded = clients[who].post(f"{urls['detail']}pseudonyms/upload/", {
        "table": SimpleUploadedFile("t.csv", f"{ORIGINAL_ID},STOLEN\n".encode())})
    expected = 302 if who == ADMIN else 403
    assert (created.status_code, edited.status_code, uploaded.status_code) == (expected,) * 3
    project.refresh_from_db()
    assert DeidProject.objects.filter(name=f"by {who}").exists() == (who == ADMIN)
    assert (project.pseudonym_prefix == "HACKED") == (who == ADMIN)


def test_unknown_projects_are_404_for_administrators(clients: dict[str, Client],
                                                     project: DeidProject) -> None:
    for url in page_urls(project).values():
        if str(project.pk) in url:
            missing = url.replace(f"/{project.pk}/", f"/{project.pk + 999}/")
            assert clients[ADMIN].get(missing).status_code == 404
            assert clients[OPERATOR].get(missing).status_code == 403


def test_posts_need_the_csrf_token(administrator: User, project: DeidProject) -> None:
    client = logged_in(administrator, enforce_csrf=True)
    response = client.post("/deidentify/projects/new/", {"name": "x", "pseudonym_prefix": "X"})
    assert response.status_code == 403
    assert not DeidProject.objects.filter(name="x").exists()


def test_the_home_shows_operators_projects_but_no_original_id(clients: dict[str, Client],
                                                              project: DeidProject) -> None:
    Job.objects.create(kind="deidentify", summary="De-identify 3 files for STUDY",
                       params={"project": "STUDY"})
    Job.objects.create(kind="echo", summary="C-ECHO to somewhere")
    page = clients[OPERATOR].get("/deidentify/")
    html = page.content.decode()
    assert ORIGINAL_ID not in html and ORIGINAL_NAME not in html
    assert "STUDY" in html and "Trial 9" in html
    assert "/jobs/new/deidentify/" in html and "/deidentify/preview/" in html
    assert f"/deidentify/projects/{project.pk}/" not in html  # no link to the table
    assert "/deidentify/projects/new/" not in html
    assert "De-identify 3 files for STUDY" in html and "C-ECHO to somewhere" not in html
    rows = page.context["project_rows"]
    assert [(p.name, p.pseudonym_count, cert) for p, cert in rows] == [("STUDY", 1, None)]

    admin_html = clients[ADMIN].get("/deidentify/").content.decode()
    assert f"/deidentify/projects/{project.pk}/" in admin_html
    assert "/deidentify/projects/new/" in admin_html
    assert ORIGINAL_ID not in admin_html  # the home lists projects, not tables


def test_administrators_see_the_table(clients: dict[str, Client], project: DeidProject) -> None:
    html = clients[ADMIN].get(page_urls(project)["detail"]).content.decode()
    assert ORIGINAL_ID in html and ORIGINAL_NAME in html and PSEUDONYM in html
    assert project.secret not in html
    csv_text = clients[ADMIN].get(page_urls(project)["csv"]).content.decode()
    assert ORIGINAL_ID in csv_text and project.secret not in csv_text
    assert ORIGINAL_ID not in clients[OPERATOR].get(page_urls(project)["csv"]).content.decode()


# -- the API -------------------------------------------------------------------------------------

def api_get(client: Client, path: str, **extra: Any) -> Any:
    return client.get(f"/api{path}", **extra)


@pytest.mark.parametrize("who", [ADMIN, OPERATOR, VIEWER, NOBODY])
def test_api_roles(clients: dict[str, Client], project: DeidProject, who: str) -> None:
    projects = api_get(clients[who], "/deid/projects")
    table = api_get(clients[who], f"/deid/projects/{project.pk}/pseudonyms")
    assert projects.status_code == (200 if who in {ADMIN, OPERATOR} else 403)
    assert table.status_code == (200 if who == ADMIN else 403)
    if who != ADMIN:
        assert ORIGINAL_ID not in table.content.decode()


def test_api_without_credentials_is_401(db: Any, project: DeidProject) -> None:
    assert api_get(Client(), "/deid/projects").status_code == 401
    assert api_get(Client(), f"/deid/projects/{project.pk}/pseudonyms").status_code == 401


def test_operators_list_projects_without_pseudonyms(clients: dict[str, Client],
                                                    project: DeidProject) -> None:
    DeidProject.objects.create(name="EMPTY", certificate_pem="")
    response = api_get(clients[OPERATOR], "/deid/projects")
    assert ORIGINAL_ID not in response.content.decode()
    assert PSEUDONYM not in response.content.decode()
    assert response.json() == [
        {"id": DeidProject.objects.get(name="EMPTY").pk, "name": "EMPTY", "description": "",
         "has_certificate": False, "pseudonyms": 0},
        {"id": project.pk, "name": "STUDY", "description": "Trial 9", "has_certificate": False,
         "pseudonyms": 1}]


def test_tokens_follow_the_same_roles(operator: User, administrator: User,
                                      project: DeidProject) -> None:
    operator_token = issue_token(operator, "script").raw
    admin_token = issue_token(administrator, "script").raw
    path = f"/deid/projects/{project.pk}/pseudonyms"
    denied = api_get(Client(), path, HTTP_AUTHORIZATION=f"Bearer {operator_token}")
    assert denied.status_code == 403 and ORIGINAL_ID not in denied.content.decode()
    listed = api_get(Client(), "/deid/projects", HTTP_AUTHORIZATION=f"Bearer {operator_token}")
    assert listed.status_code == 200
    allowed = api_get(Client(), path, HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert allowed.status_code == 200 and allowed.json()["count"] == 1


def test_administrators_page_the_table(clients: dict[str, Client], project: DeidProject) -> None:
    Pseudonym.objects.bulk_create(
        Pseudonym(project=project, original_patient_id=f"MRN{i:03}", pseudonym_id=f"S-{i:03}",
                  pseudonym_name=f"S-{i:03}", origin=PseudonymOrigin.UPLOADED)
        for i in range(30))
    body = api_get(clients[ADMIN], f"/deid/projects/{project.pk}/pseudonyms",
                   data={"limit": 10, "offset": 5}).json()
    expected = sorted([ORIGINAL_ID, *(f"MRN{i:03}" for i in range(30))])
    assert body["count"] == 31
    assert [item["original_patient_id"] for item in body["items"]] == expected[5:15]
    first = next(i for i in api_get(clients[ADMIN], f"/deid/projects/{project.pk}/pseudonyms",
                                    data={"limit": 100}).json()["items"]
                 if i["original_patient_id"] == ORIGINAL_ID)
    assert (first["pseudonym_id"], first["original_patient_name"], first["origin"]) == (
        PSEUDONYM, ORIGINAL_NAME, "generated")
    missing = api_get(clients[ADMIN], f"/deid/projects/{project.pk + 999}/pseudonyms")
    assert missing.status_code == 404
    assert api_get(clients[ADMIN], f"/deid/projects/{project.pk}/pseudonyms",
                   data={"limit": "many"}).status_code == 422
