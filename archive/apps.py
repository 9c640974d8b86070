from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Archive"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from archive.dicomdict import register_newer_transfer_syntaxes

        register_newer_transfer_syntaxes()
        from pathlib import Path

        from django.conf import settings

        for folder in (settings.STORAGE_ROOT, settings.FILE_UPLOAD_TEMP_DIR):
            Path(folder).mkdir(parents=True, exist_ok=True)
