"""AE titles per PS3.5 (VR AE), hosts and ports: model validation, form and API."""

import pytest
from django.core.exceptions import ValidationError

from netjobs.models import AEKind, ApplicationEntity
from netjobs.validators import validate_ae_title, validate_host
from tests.conftest import logged_in


@pytest.mark.parametrize(
    "title", ["A", "STORESCP", "ORTHANC_1", "SIXTEEN_CHARS_AE", " PADDED ", "my ae"]
)
def test_it_accepts_valid_ae_titles(title: str) -> None:
    validate_ae_title(title)


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("", "ae_empty"),
        ("    ", "ae_empty"),
        ("SEVENTEEN_CHARS_X", "ae_length"),
        ("BACK\\SLASH", "ae_backslash"),
        ("TAB\tAE", "ae_control"),
        ("NEW\nLINE", "ae_control"),
        ("ESC\x1bAE", "ae_control"),
        ("ÄRZTE", "ae_charset"),
    ],
)
def test_it_rejects_invalid_ae_titles(title: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_ae_title(title)
    assert info.value.code == code


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "pacs.example.org", "localhost", "a-b.c"])
def test_it_accepts_hosts(host: str) -> None:
    validate_host(host)


@pytest.mark.parametrize("host", ["", "bad host", "-lead.example", "x" * 64 + ".org", "a..b"])
def test_it_rejects_hosts(host: str) -> None:
    with pytest.raises(ValidationError):
        validate_host(host)


FORM = {
    "kind": "remote",
    "ae_title": "PACS",
    "host": "127.0.0.1",
    "port": "104",
    "description": "",
    "max_pdu": "131072",
    "connect_timeout": "10",
    "acse_timeout": "30",
    "dimse_timeout": "60",
    "network_timeout": "60",
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ae_title", "WAY_TOO_LONG_AE_TITLE", "at most 16 characters"),
        ("ae_title", "A\\B", "backslash"),
        ("ae_title", "   ", "required"),
        ("port", "0", "greater than or equal to 1"),
        ("port", "65536", "less than or equal to 65535"),
        ("port", "http", "whole number"),
        ("host", "not a host", "neither an IP address"),
    ],
)
def test_it_shows_inline_errors_and_saves_nothing(
    administrator: object, field: str, value: str, message: str
) -> None:
    client = logged_in(administrator)  # type: ignore[arg-type]
    response = client.post("/aes/new/", {**FORM, field: value})
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert 'aria-invalid="true"' in body
    assert ApplicationEntity.objects.count() == 0


def test_it_strips_and_saves_a_valid_ae(administrator: object) -> None:
    client = logged_in(administrator)  # type: ignore[arg-type]
    response = client.post("/aes/new/", {**FORM, "ae_title": "  PACS  "})
    assert response.status_code == 302
    ae = ApplicationEntity.objects.get()
    assert (ae.ae_title, ae.port, ae.kind) == ("PACS", 104, AEKind.REMOTE)


def test_it_enforces_uniqueness_in_form_and_database(administrator: object) -> None:
    client = logged_in(administrator)  # type: ignore[arg-type]
    assert client.post("/aes/new/", FORM).status_code == 302
    response = client.post("/aes/new/", FORM)
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert ApplicationEntity.objects.count() == 1
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ApplicationEntity.objects.create(kind="remote", ae_title="PACS", host="127.0.0.1", port=104)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApplicationEntity.objects.create(kind="remote", ae_title="X", host="127.0.0.1", port=70000)


def test_it_allows_one_local_ae_per_title(administrator: object) -> None:
    client = logged_in(administrator)  # type: ignore[arg-type]
    local = {**FORM, "kind": "local", "ae_title": "CONSOLE"}
    assert client.post("/aes/new/", local).status_code == 302
    response = client.post("/aes/new/", {**local, "port": "11113"})
    assert "A local AE with this AE title already exists" in response.content.decode()


def test_api_rejects_bad_values_with_422_field_errors(administrator: object) -> None:
    client = logged_in(administrator)  # type: ignore[arg-type]
    bad = {"ae_title": "BAD\\AE", "host": "127.0.0.1", "port": 70000}
    response = client.post("/api/aes", bad, content_type="application/json")
    assert response.status_code == 422
    fields = {error["loc"][-1] for error in response.json()["detail"]}
    assert fields == {"ae_title", "port"}
    wrong_type = client.post(
        "/api/aes", {"ae_title": "OK", "host": "h", "port": "x"}, content_type="application/json"
    )
    assert wrong_type.status_code == 422
    assert ApplicationEntity.objects.count() == 0
