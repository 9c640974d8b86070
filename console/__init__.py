"""The DICOM console project: settings, Celery app, UI shell, accounts and the API root."""

from console.celery import app as celery_app

__all__ = ["celery_app"]
