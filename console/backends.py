"""Authentication backend: model permissions, plus every permission for Administrators."""

from typing import Any

from django.contrib.auth.backends import ModelBackend

from console.roles import Role, has_role


class RoleBackend(ModelBackend):
    """Model permissions as usual, plus every permission for Administrators.

    Django admin asks for model permissions; Administrators get them through their role
    instead of a permission list that would have to track every model.
    """

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if has_role(user_obj, Role.ADMINISTRATOR):
            return True
        return super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        if has_role(user_obj, Role.ADMINISTRATOR):
            return True
        return super().has_module_perms(user_obj, app_label)
