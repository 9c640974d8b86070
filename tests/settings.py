"""Settings for the test suite: the console's own, on an isolated Redis DB and queue names.

The Celery worker that the job tests start in a subprocess imports this module too, and
gets the same queue names through the environment the test process hands down.
"""

import os
from urllib.parse import urlparse, urlunparse

os.environ.setdefault("STATIC_MANIFEST", "0")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_VAR = os.environ.get("CONSOLE_VAR_DIR", os.path.join(_ROOT, "var"))
os.environ.setdefault("STORAGE_ROOT", os.path.join(_VAR, "test-storage"))
os.environ.setdefault("IMPORT_ROOTS", os.path.join(_VAR, "test-import"))
os.environ.setdefault("UPLOAD_DIR", os.path.join(_VAR, "test-uploads"))
os.environ.setdefault("EXPORT_ROOTS", os.path.join(_VAR, "test-export"))
os.environ.setdefault("CONVERSION_DIR", os.path.join(_VAR, "test-conversions"))
os.environ.setdefault("CONSOLE_QUEUE_PREFIX", f"test{os.getpid()}-")

from console.settings import *  # noqa: E402,F403
from console.settings import REDIS_URL  # noqa: E402

# TEST_REDIS_DB lets runs that share one Redis (parallel checkouts) keep apart.
_REDIS_DB = os.environ.get("TEST_REDIS_DB", "15")
REDIS_URL = urlunparse(urlparse(REDIS_URL)._replace(path=f"/{_REDIS_DB}"))
CELERY_BROKER_URL = REDIS_URL
QUEUE_PREFIX = os.environ["CONSOLE_QUEUE_PREFIX"]
JOBS_QUEUE = f"{QUEUE_PREFIX}jobs"
LISTENERS_QUEUE = f"{QUEUE_PREFIX}listeners"
CELERY_TASK_DEFAULT_QUEUE = JOBS_QUEUE
CELERY_TASK_ROUTES = {"netjobs.tasks.reap_orphaned_jobs": {"queue": JOBS_QUEUE}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
JOB_HEARTBEAT_SECONDS = 1

# WhiteNoise warns about a missing STATIC_ROOT; tests serve from the finders instead.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
