"""Navigation (grouped menus of the pages the user's role may open) and the user's theme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from console.models import Theme, UserPreference
from console.roles import Role, has_role, user_role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    role: Role
    prefixes: tuple[str, ...]

    def url(self) -> str:
        return reverse(self.url_name)

    def is_current(self, path: str) -> bool:
        return any(path == "/" if p == "/$" else path.startswith(p) for p in self.prefixes)


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: tuple[NavItem, ...]


NAVIGATION: tuple[NavGroup, ...] = (
    NavGroup("Archive", (
        NavItem("Browse studies", "archive:study_list", Role.VIEWER,
                ("/archive/studies", "/archive/series", "/archive/instances", "/archive/$")),
        NavItem("Import", "archive:import", Role.OPERATOR, ("/archive/import/",)),
        NavItem("Inspect a file", "archive:inspect_home", Role.VIEWER, ("/inspect/",)),
        NavItem("Tools", "archive:tools", Role.VIEWER, ("/tools/",)),
        NavItem("Conversions", "archive:conversions", Role.VIEWER, ("/conversions/",)),
        NavItem("De-identification", "deid:home", Role.OPERATOR, ("/deidentify/",)),
        NavItem("Media (DICOMDIR)", "media:home", Role.VIEWER, ("/media/",)),
    )),
    NavGroup("Network", (
        NavItem("Application Entities", "netjobs:ae_list", Role.VIEWER, ("/aes/",)),
        NavItem("DICOMweb endpoints", "netjobs:endpoint_list", Role.VIEWER, ("/endpoints/",)),
        NavItem("Listeners", "netjobs:listener_list", Role.VIEWER, ("/listeners/",)),
        NavItem("Jobs", "netjobs:job_list", Role.VIEWER, ("/jobs/",)),
        NavItem("New job", "netjobs:job_new_index", Role.OPERATOR, ()),
    )),
    NavGroup("Monitoring", (
        NavItem("Associations", "netjobs:association_list", Role.VIEWER, ("/associations/",)),
        NavItem("Storage commitment", "netjobs:commitment_list", Role.VIEWER,
                ("/commitments/",)),
        NavItem("MPPS", "netjobs:mpps_list", Role.VIEWER, ("/notifications/mpps/",)),
        NavItem("Instance availability", "netjobs:ian_list", Role.VIEWER,
                ("/notifications/ian/",)),
    )),
    NavGroup("Admin", (
        NavItem("Users", "admin:auth_user_changelist", Role.ADMINISTRATOR, ()),
        NavItem("API tokens", "tokens", Role.VIEWER, ("/account/tokens/",)),
        NavItem("API docs", "api:openapi-view", Role.VIEWER, ("/api/",)),
        NavItem("Django admin", "admin:index", Role.ADMINISTRATOR, ("/admin/",)),
    )),
)


def _matches(prefix: str, path: str) -> bool:
    if prefix == "/$":
        return path == "/"
    if prefix.endswith("$"):
        return path == prefix[:-1]
    return path.startswith(prefix)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_groups": [], "console_role": None, "theme": Theme.AUTO.value}
    path = request.path
    groups = []
    for group in NAVIGATION:
        items = [
            {"label": item.label, "url": item.url(),
             "current": any(_matches(p, path) for p in item.prefixes)}
            for item in group.items if has_role(user, item.role)
        ]
        if items:
            groups.append({"label": group.label, "items": items,
                           "current": any(i["current"] for i in items)})
    role = user_role(user)
    preference = UserPreference.objects.filter(user=user).values_list("theme", flat=True).first()
    return {
        "nav_groups": groups,
        "dashboard_current": path == "/",
        "console_role": role.label if role else None,
        "is_operator": has_role(user, Role.OPERATOR),
        "is_administrator": has_role(user, Role.ADMINISTRATOR),
        "theme": preference or Theme.AUTO.value,
        "themes": Theme.choices,
    }
