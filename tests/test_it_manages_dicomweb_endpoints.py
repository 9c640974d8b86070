"""DICOMweb endpoints in the browser and the API: Administrators add and change them,
Viewers see them; a password or token is never shown or returned once stored, and an edit
that leaves it empty keeps it; bad base URLs and missing credentials are refused."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from console.tokens import issue_token
from netjobs.models import DicomwebEndpoint, EndpointAuth
from tests.conftest import logged_in

SECRET = "s3cr3t-token-value"


def form(**fields: Any) -> dict[str, Any]:
    return {"name": "pacs", "base_url": "http://pacs.example.org:8042/dicom-web",
            "description": "", "auth": "bearer", "username": "", "password": "",
            "token": SECRET, "verify_tls": "on", "tls_ca_file": "", "connect_timeout": 10,
            "read_timeout": 120, **fields}


def test_an_administrator_adds_an_endpoint_whose_token_is_never_shown(
        administrator: User, viewer: User) -> None:
    client = logged_in(administrator)
    response = client.post("/endpoints/new/", form())
    endpoint = DicomwebEndpoint.objects.get(name="pacs")
    assert response.status_code == 302 and response["Location"] == f"/endpoints/{endpoint.pk}/"
    assert endpoint.token == SECRET and endpoint.auth == EndpointAuth.BEARER
    for user in (administrator, viewer):
        for page in ("/endpoints/", f"/endpoints/{endpoint.pk}/"):
            body = logged_in(user).get(page).content.decode()
            assert "pacs" in body and SECRET not in body
    assert SECRET not in client.get(f"/endpoints/{endpoint.pk}/edit/").content.decode()
    client.post(f"/endpoints/{endpoint.pk}/edit/", form(token="", description="main PACS"))
    endpoint.refresh_from_db()
    assert endpoint.token == SECRET and endpoint.description == "main PACS"


def test_bad_values_are_refused_with_the_reason(administrator: User) -> None:
    client = logged_in(administrator)
    for fields, message in (({"base_url": "ftp://pacs/dicom-web"}, "starting with http://"),
                            ({"base_url": "http://pacs:99999/rs"}, "port"),
                            ({"base_url": "http://bad host/rs"}, "neither an IP address"),
                            ({"base_url": "http://pacs/rs?x=1"}, "no query"),
                            ({"base_url": "http://u:p@pacs/rs"}, "credentials"),
                            ({"token": ""}, "Give the bearer token"),
                            ({"auth": "basic", "token": ""}, "needs a username"),
                            ({"connect_timeout": 0}, "greater than or equal to 1")):
        response = client.post("/endpoints/new/", form(**fields))
        assert response.status_code == 200, fields
        assert message in response.content.decode(), fields
    assert not DicomwebEndpoint.objects.exists()


def test_only_administrators_change_endpoints(operator: User, viewer: User) -> None:
    endpoint = DicomwebEndpoint.objects.create(name="orthanc", base_url="http://o:8042/dw")
    for user in (operator, viewer):
        client = logged_in(user)
        assert client.get("/endpoints/").status_code == 200
        assert client.post("/endpoints/new/", form()).status_code == 403
        assert client.post(f"/endpoints/{endpoint.pk}/delete/").status_code == 403
    assert Client().get("/endpoints/").status_code == 302  # to the login page
    assert DicomwebEndpoint.objects.count() == 1


def test_the_api_hides_secrets_and_validates(administrator: User, viewer: User) -> None:
    admin = Client(headers={"Authorization": f"Bearer {issue_token(administrator, 'a').raw}"})
    reader = Client(headers={"Authorization": f"Bearer {issue_token(viewer, 'v').raw}"})
    created = admin.post("/api/dicomweb-endpoints", {
        "name": "vna", "base_url": "https://vna:8443/rs", "auth": "basic",
        "username": "console", "password": "pw"}, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["password_set"] is True and "password" not in body and "token" not in body
    listed = reader.get("/api/dicomweb-endpoints").json()
    assert [e["name"] for e in listed] == ["vna"] and "pw" not in str(listed)
    assert reader.post("/api/dicomweb-endpoints", {"name": "x", "base_url": "http://x/rs"},
                       content_type="application/json").status_code == 403
    bad = admin.patch(f"/api/dicomweb-endpoints/{body['id']}", {"base_url": "not a url"},
                      content_type="application/json")
    assert bad.status_code == 422 and "base_url" in str(bad.json())
    assert admin.delete(f"/api/dicomweb-endpoints/{body['id']}").status_code == 204
    assert not DicomwebEndpoint.objects.exists()


def test_a_study_page_offers_to_send_it_over_dicomweb(operator: User, tmp_path: Any) -> None:
    from archive.indexing import store_file
    from archive.models import InstanceSource
    from tests.archive_helpers import make_object

    instance = store_file(make_object(tmp_path, patient_name="A^B", patient_id="P9",
                                      study_date="20240101", modality="OT"),
                          source=InstanceSource.UPLOAD).instance
    study = instance.series.study
    DicomwebEndpoint.objects.create(name="orthanc", base_url="http://127.0.0.1:8042/dicom-web")
    client = logged_in(operator)
    page = client.get(f"/archive/studies/{study.pk}/").content.decode()
    link = f"/jobs/new/stow/?studies={study.pk}"
    assert link in page
    form = client.get(link).content.decode()
    assert "orthanc" in form and study.study_instance_uid in form  # the study is chosen
