"""Who may call /dicomweb/: the console's accounts, by session or bearer token.

DICOMweb clients (viewers, dicomweb-client, curl) cannot follow the login page, so an
anonymous call is answered 401 with a WWW-Authenticate challenge, and a call without the
role 403; both say why in plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from console.roles import Role, has_role
from console.tokens import authenticate_token

View = Callable[..., HttpResponseBase]


def caller(request: HttpRequest) -> User | AnonymousUser:
    """The session's user, else the owner of a valid bearer token, else anonymous."""
    if request.user.is_authenticated:
        return request.user
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        found = authenticate_token(credentials.strip())
        if found is not None:
            return found
    return AnonymousUser()


def refusal(status: int, reason: str) -> HttpResponse:
    response = HttpResponse(reason + "\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="dicomweb"'
    return response


def dicomweb_role(role: Role) -> Callable[[View], View]:
    """401 for an anonymous call, 403 without ``role``; the user is set on the request."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = caller(request)
            if not user.is_authenticated:
                return refusal(401, "Log in, or send an API token as 'Authorization: Bearer "
                                    "<token>' (made on the console's API tokens page).")
            if not has_role(user, role):
                return refusal(403, f"This needs the {role.label} role.")
            request.user = user
            return view(request, *args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorator
