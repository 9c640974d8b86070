"""The REST API root at /api/: authentication, error shapes, and the account endpoints.

Session authentication (with CSRF) serves the browser; ``Authorization: Bearer <token>``
serves scripts. Every endpoint requires one of the two.
"""


from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, NinjaAPI, Router, Schema, Status
from ninja.errors import HttpError
from ninja.security import HttpBearer
from ninja.security.session import SessionAuth

from console.models import ApiToken
from console.roles import Role, has_role, request_user, user_role
from console.tokens import authenticate_token, issue_token


class RoleMixin:
    """After authenticating, 403 unless the user holds the role (before the body is parsed)."""

    role: Role

    def check_role(self, user: Any) -> Any:
        if user is not None and not has_role(user, self.role):
            raise HttpError(403, f"This needs the {self.role.label} role.")
        return user


class BearerTokenAuth(RoleMixin, HttpBearer):
    def __init__(self, role: Role) -> None:
        super().__init__()
        self.role = role

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = authenticate_token(token)
        if user is None:
            return None
        request.user = user
        return self.check_role(user)


class SessionRoleAuth(RoleMixin, SessionAuth):
    """Django session (with CSRF on unsafe methods) plus the role check."""

    def __init__(self, role: Role) -> None:
        super().__init__()
        self.role = role

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return self.check_role(super().authenticate(request, key))


def roles(role: Role) -> list[Any]:
    """The ``auth`` of an endpoint that needs ``role``: a bearer token or the session."""
    return [BearerTokenAuth(role), SessionRoleAuth(role)]


api = NinjaAPI(
    title="DICOM console API",
    version="1",
    description="Application Entities, jobs and their association records. "
    "Authenticate with the browser session or `Authorization: Bearer <token>`.",
    auth=roles(Role.VIEWER),
    docs_decorator=login_required,
    urls_namespace="api",
)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Forbidden"}, status=403)


def field_errors_response(request: HttpRequest, errors: list[dict[str, Any]]) -> HttpResponse:
    """422 in the same shape django-ninja gives for schema errors."""
    return api.create_response(request, {"detail": errors}, status=422)


# --- account ----------------------------------------------------------------------------
account = Router(tags=["account"])


class MeOut(Schema):
    username: str
    role: str | None


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]*$")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str


@account.get("/me", response=MeOut)
def me(request: HttpRequest) -> dict[str, Any]:
    role = user_role(request.user)
    return {"username": request.user.get_username(), "role": role.label if role else None}


@account.get("/tokens", response=list[TokenOut])
def list_tokens(request: HttpRequest) -> Any:
    return ApiToken.objects.filter(user=request_user(request))


@account.post("/tokens", response={201: TokenCreatedOut})
def create_token(request: HttpRequest, payload: TokenIn) -> Status[dict[str, Any]]:
    issued = issue_token(request_user(request), payload.name)
    token = issued.token
    return Status(201, {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "last_used_at": None,
        "revoked_at": None,
        "token": issued.raw,
    })


@account.post("/tokens/{token_id}/revoke", response=TokenOut)
def revoke_token(request: HttpRequest, token_id: int) -> ApiToken:
    token = get_object_or_404(ApiToken, pk=token_id, user=request_user(request))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


api.add_router("/", account)
api.add_router("/", "netjobs.api.router")
api.add_router("/", "netjobs.endpoint_api.router")
api.add_router("/", "netjobs.jobs.api.router")
api.add_router("/", "archive.api.router")
api.add_router("/", "archive.deid.api.router")
api.add_router("/", "archive.media.api.router")
api.add_router("/", "netjobs.listeners.api.router")
api.add_router("/", "netjobs.listeners.notifications_api.router")
api.add_router("/", "netjobs.listeners.commitment_api.router")
