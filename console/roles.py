"""Roles of the console and their enforcement.

Three groups exist from a migration: Viewer (read), Operator (run and cancel jobs) and
Administrator (configure AEs, listeners and users). Each role includes the ones below it;
superusers hold every role.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Role(IntEnum):
    """Console roles, ordered so that a higher role includes every lower one."""

    VIEWER = 1
    OPERATOR = 2
    ADMINISTRATOR = 3

    @property
    def group_name(self) -> str:
        return self.name.capitalize()

    @property
    def label(self) -> str:
        return self.group_name


ROLE_BY_GROUP = {role.group_name: role for role in Role}


def user_role(user: Any) -> Role | None:
    """The highest role the user holds, or None (not logged in, inactive, or no group)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMINISTRATOR
    cached: Role | bool | None = getattr(user, "_console_role", False)
    if cached is not False:
        return cast(Role | None, cached)
    names = user.groups.filter(name__in=ROLE_BY_GROUP).values_list("name", flat=True)
    role = max((ROLE_BY_GROUP[name] for name in names), default=None)
    user._console_role = role
    return role


def request_user(request: HttpRequest) -> User:
    """The logged-in user of a request that passed the login and role checks."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied("Log in first.")
    return cast("User", user)


def has_role(user: Any, role: Role) -> bool:
    held = user_role(user)
    return held is not None and held >= role


def ensure_role_groups() -> None:
    """Create the role groups if they are missing (idempotent)."""
    from django.contrib.auth.models import Group

    for role in Role:
        Group.objects.get_or_create(name=role.group_name)


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponseBase])


def role_required(role: Role) -> Callable[[ViewFunc], ViewFunc]:
    """Decorator for function views: 403 unless the logged-in user holds ``role``."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_role(request.user, role):
                raise PermissionDenied(f"This needs the {role.label} role.")
            return view(request, *args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


class RoleRequiredMixin:
    """Mixin for class-based views: set ``required_role``; 403 unless the user holds it."""

    required_role: Role = Role.VIEWER

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_role(request.user, self.required_role):
            raise PermissionDenied(f"This needs the {self.required_role.label} role.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
