from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_groups(**kwargs: object) -> None:
    from console.roles import ensure_role_groups

    ensure_role_groups()


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The migration creates the groups; a test flush removes them, and this puts them back.
        post_migrate.connect(_ensure_groups, sender=self)
