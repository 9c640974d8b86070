"""API bearer tokens: created in the UI and by a command, shown once, hashed, revocable."""

import hashlib
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from console.models import ApiToken
from tests.conftest import logged_in


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_command_prints_a_working_token(operator: User) -> None:
    out = StringIO()
    call_command("create_api_token", "otto-operator", stdout=out)
    raw = out.getvalue().strip()
    stored = ApiToken.objects.get(user=operator)
    assert stored.key_digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {stored.key_digest, stored.prefix, stored.name}
    response = Client().get("/api/me", headers=bearer(raw))
    assert response.status_code == 200
    assert response.json() == {"username": "otto-operator", "role": "Operator"}


def test_command_refuses_unknown_user(db: Any) -> None:
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", stdout=StringIO())


def test_ui_shows_the_token_once_and_revokes_it(viewer: User) -> None:
    client = logged_in(viewer)
    page = client.post("/account/tokens/", {"name": "nightly"})
    raw = page.context["new_token"].raw
    assert raw in page.content.decode()
    assert raw not in client.get("/account/tokens/").content.decode()
    assert Client().get("/api/aes", headers=bearer(raw)).status_code == 200
    token = ApiToken.objects.get(user=viewer)
    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert Client().get("/api/aes", headers=bearer(raw)).status_code == 401


def test_wrong_and_malformed_tokens_get_401(viewer: User) -> None:
    for value in ["Bearer dcon_nope", "Bearer ", "Basic abc", "dcon_x"]:
        assert Client().get("/api/aes", headers={"Authorization": value}).status_code == 401


def test_token_of_inactive_user_gets_401(viewer: User) -> None:
    out = StringIO()
    call_command("create_api_token", viewer.username, stdout=out)
    viewer.is_active = False
    viewer.save()
    assert Client().get("/api/aes", headers=bearer(out.getvalue().strip())).status_code == 401


def test_another_users_token_is_404(viewer: User, operator: User) -> None:
    call_command("create_api_token", operator.username, stdout=StringIO())
    token = ApiToken.objects.get(user=operator)
    client = logged_in(viewer)
    assert client.post(f"/api/tokens/{token.pk}/revoke").status_code == 404
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert token.pk not in [t["id"] for t in client.get("/api/tokens").json()]
    token.refresh_from_db()
    assert token.revoked_at is None


def test_api_creates_lists_and_revokes_tokens(operator: User) -> None:
    client = logged_in(operator)
    created = client.post("/api/tokens", {"name": "ci"}, content_type="application/json")
    assert created.status_code == 201
    raw = created.json()["token"]
    listed = client.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    revoked = Client().post(f"/api/tokens/{created.json()['id']}/revoke", headers=bearer(raw))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
