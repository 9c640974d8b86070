"""Django admin, open to the Administrator role (not only to staff users)."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

from console.roles import Role, has_role


class ConsoleAdminSite(admin.AdminSite):
    site_header = "DICOM console administration"
    site_title = "DICOM console admin"

    def has_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, Role.ADMINISTRATOR)


class ConsoleAdminConfig(AdminConfig):
    default_site = "console.adminsite.ConsoleAdminSite"
