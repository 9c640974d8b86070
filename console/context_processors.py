"""Navigation: only the pages that exist and that the user's role may open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from console.roles import Role, has_role, user_role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    role: Role
    prefix: str

    def url(self) -> str:
        return reverse(self.url_name)


NAVIGATION = (
    NavItem("Dashboard", "dashboard", Role.VIEWER, "/$"),
    NavItem("Archive", "archive:study_list", Role.VIEWER, "/archive/"),
    NavItem("Import", "archive:import", Role.OPERATOR, "/archive/import/"),
    NavItem("Tools", "archive:tools", Role.VIEWER, "/tools/"),
    NavItem("Application Entities", "netjobs:ae_list", Role.VIEWER, "/aes/"),
    NavItem("Listeners", "netjobs:listener_list", Role.VIEWER, "/listeners/"),
    NavItem("Storage commitment", "netjobs:commitment_list", Role.VIEWER, "/commitments/"),
    NavItem("Notifications", "netjobs:mpps_list", Role.VIEWER, "/notifications/"),
    NavItem("Jobs", "netjobs:job_list", Role.VIEWER, "/jobs/"),
    NavItem("API tokens", "tokens", Role.VIEWER, "/account/"),
    NavItem("API docs", "api:openapi-view", Role.VIEWER, "/api/"),
    NavItem("Admin", "admin:index", Role.ADMINISTRATOR, "/admin/"),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "console_role": None}
    path = request.path
    items = []
    for item in NAVIGATION:
        if has_role(user, item.role):
            current = path == "/" if item.prefix == "/$" else path.startswith(item.prefix)
            items.append({"label": item.label, "url": item.url(), "current": current})
    role = user_role(user)
    return {
        "nav_items": items,
        "console_role": role.label if role else None,
        "is_operator": has_role(user, Role.OPERATOR),
        "is_administrator": has_role(user, Role.ADMINISTRATOR),
    }
