"""Django settings for the DICOM console.

Every deployment-specific value comes from the environment (see README.md, "Configuration").
Embedded defaults: SQLite under var/, file storage under var/storage, Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from console.config import env_bool, env_choice, env_int, env_list, load_or_create_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CONSOLE_VAR_DIR", BASE_DIR / "var")).resolve()

SECRET_KEY = os.environ.get("SECRET_KEY") or load_or_create_secret_key(VAR_DIR / "secret_key")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "console.adminsite.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "console",
    "archive",
    "netjobs",
]

MIDDLEWARE = [
    "console.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.middleware.ConsoleLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.navigation",
            ],
        },
    },
]

DEFAULT_SQLITE_PATH = VAR_DIR / "console.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, job workers and the listener worker write concurrently: WAL and a
    # generous busy timeout keep SQLite from answering "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        # FULL: a commit (an instance acknowledged to a sender) survives a power loss.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    }
    # Tests run a real Celery worker in another process: it must see a file, not memory.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-console.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["console.backends.RoleBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("STATIC_MANIFEST", True)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", False)

# --- DICOM console -------------------------------------------------------------------------
STORAGE_ROOT = Path(os.environ.get("STORAGE_ROOT", VAR_DIR / "storage")).resolve()
# Server-side folders that imports may read from (administrator-configured).
IMPORT_ROOTS = [Path(p).resolve() for p in env_list("IMPORT_ROOTS", str(VAR_DIR / "import"))]
UPLOAD_DIR = Path(os.environ.get("UPLOAD_DIR", VAR_DIR / "uploads")).resolve()
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 2 * 1024**3)
# Browser uploads a job did not remove (kept for "retry failed only", or never submitted)
STAGED_UPLOAD_RETENTION_HOURS = env_int("STAGED_UPLOAD_RETENTION_HOURS", 72)
# Server-side folders conversion jobs may write into (same confinement rules as imports).
EXPORT_ROOTS = [Path(p).resolve() for p in env_list("EXPORT_ROOTS", str(VAR_DIR / "export"))]
# Where conversion jobs stage their outputs (ZIP downloads live here until swept).
CONVERSION_DIR = Path(os.environ.get("CONVERSION_DIR", VAR_DIR / "conversions")).resolve()
# Helper tasks a conversion job offers to other worker processes (0: the job works alone).
CONVERSION_HELPERS = env_int("CONVERSION_HELPERS", 3)
# A finished conversion's ZIP stays downloadable this long (swept hourly by beat).
CONVERSION_RETENTION_HOURS = env_int("CONVERSION_RETENTION_HOURS", 72)
CONVERSION_BATCH_FILES = env_int("CONVERSION_BATCH_FILES", 8)
IMPORT_ZIP_MAX_BYTES = env_int("IMPORT_ZIP_MAX_BYTES", 20 * 1024**3)
# STOW-RS (POST /dicomweb/studies): the largest request body and the largest part in it
# (413 beyond), and what a SOP instance already in the archive gets ("keep", "replace" or
# "reject", as a listener's duplicate policy).
DICOMWEB_STOW_MAX_BYTES = env_int("DICOMWEB_STOW_MAX_BYTES", 4 * 1024**3)
DICOMWEB_STOW_MAX_PART_BYTES = env_int("DICOMWEB_STOW_MAX_PART_BYTES", 2 * 1024**3)
DICOMWEB_STOW_DUPLICATE_POLICY = env_choice("DICOMWEB_STOW_DUPLICATE_POLICY", "keep",
                                            ("keep", "replace", "reject"))
FILE_UPLOAD_TEMP_DIR = str(UPLOAD_DIR / "tmp")
FILE_UPLOAD_HANDLERS = ["archive.imports.uploads.LimitedTemporaryFileUploadHandler"]
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("UPLOAD_MAX_FILES", 20000)
ARCHIVE_PAGE_SIZE = 50
# The URL clients reach /dicomweb/ by, for the RetrieveURLs and BulkDataURIs in answers
# (behind a proxy, or for clients that send a Host header without the port, as
# dicomweb-client does); empty: taken from each request.
DICOMWEB_PUBLIC_URL = os.environ.get("DICOMWEB_PUBLIC_URL", "").rstrip("/")
# Largest frame (rows × columns × samples) the console decodes for display.
RENDER_MAX_PIXELS = env_int("RENDER_MAX_PIXELS", 64 * 1024 * 1024)
INSPECT_DIR = Path(os.environ.get("INSPECT_DIR", VAR_DIR / "inspect")).resolve()
THUMBNAIL_DIR = Path(os.environ.get("THUMBNAIL_DIR", VAR_DIR / "thumbnails")).resolve()
# The AE title the console uses when it calls a peer and no local AE is chosen.
CONSOLE_AE_TITLE = os.environ.get("CONSOLE_AE_TITLE", "DICOMCONSOLE")
# Certificates and keys named in AE TLS settings must lie under one of these folders.
TLS_FILE_ROOTS = [Path(p).resolve() for p in env_list("TLS_FILE_ROOTS", str(VAR_DIR / "tls"))]
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10)
LISTENER_RETRY_SECONDS = env_int("LISTENER_RETRY_SECONDS", 10)
JOB_ORPHAN_AFTER_SECONDS = env_int("JOB_ORPHAN_AFTER_SECONDS", 120)
JOBS_PAGE_SIZE = 25
# DIMSE messages recorded per association; the rest are only counted.
ASSOCIATION_MAX_RECORDED_MESSAGES = env_int("ASSOCIATION_MAX_RECORDED_MESSAGES", 500)

# --- Celery ----------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE_PREFIX = os.environ.get("CONSOLE_QUEUE_PREFIX", "")
JOBS_QUEUE = f"{QUEUE_PREFIX}jobs"
LISTENERS_QUEUE = f"{QUEUE_PREFIX}listeners"
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # outcomes live in the Job table, not in Redis
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = JOBS_QUEUE
CELERY_TASK_ROUTES = {"netjobs.tasks.reap_orphaned_jobs": {"queue": JOBS_QUEUE},
                      "netjobs.tasks.sweep_staged_uploads": {"queue": JOBS_QUEUE}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False  # a redelivered job would run twice; see field notes
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "reap-orphaned-jobs": {
        "task": "netjobs.tasks.reap_orphaned_jobs",
        "schedule": 60.0,
    },
    "sweep-staged-uploads": {
        "task": "netjobs.tasks.sweep_staged_uploads",
        "schedule": 3600.0,
    },
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "pynetdicom": {"level": os.environ.get("PYNETDICOM_LOG_LEVEL", "WARNING")},
        "django.db.backends": {"level": "WARNING"},
        # pylibjpeg-openjpeg logs every tile of every frame at INFO
        "openjpeg": {"level": "WARNING"},
    },
}
