"""The Celery application shared by the web process, the job workers and the listener worker."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Connects the workers' heartbeat signals (the dashboard's "alive or not").
import console.heartbeats  # noqa: E402, F401
