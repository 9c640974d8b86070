"""Create the first administrator when the console has no user at all.

Takes CONSOLE_ADMIN_USER / CONSOLE_ADMIN_PASSWORD from the environment; without a password
it generates one and prints it once.
"""

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from console.roles import Role, ensure_role_groups


class Command(BaseCommand):
    help = "Create an administrator if no user exists (run by the run command)."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if User.objects.exists():
            return
        ensure_role_groups()
        username = os.environ.get("CONSOLE_ADMIN_USER", "admin")
        password = os.environ.get("CONSOLE_ADMIN_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, password=password, is_staff=True)
        user.groups.add(Group.objects.get(name=Role.ADMINISTRATOR.group_name))
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created administrator {username!r} with password {password!r} — "
                    "shown only this once; change it after logging in."
                )
            )
        else:
            self.stdout.write(f"Created administrator {username!r} from CONSOLE_ADMIN_*.")
