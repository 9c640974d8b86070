"""Shared fixtures: users per role, logged-in clients, a real Celery worker, job waiting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from console.roles import Role, ensure_role_groups
from netjobs.listeners.manager import ListenerManager
from netjobs.models import AEKind, ApplicationEntity, Job
from tests.peers import free_port, require_tool, stop_process

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session", autouse=True)
def clean_test_folders() -> None:
    """Storage, uploads, import folders and job results of the test settings start empty
    each run (the test database starts afresh, so job IDs repeat across runs)."""
    import shutil

    from archive.deid.jobs.params import key_folder
    from archive.deid.jobs.run import held_folder

    for folder in (settings.STORAGE_ROOT, settings.UPLOAD_DIR, *settings.IMPORT_ROOTS,
                   settings.CONVERSION_DIR, held_folder(0).parent, key_folder()):
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)


def make_user(username: str, role: Role | None) -> User:
    ensure_role_groups()
    user = User.objects.create_user(username=username, password=PASSWORD)
    if role is not None:
        user.groups.add(Group.objects.get(name=role.group_name))
    return user


@pytest.fixture
def viewer(db: Any) -> User:
    return make_user("vera-viewer", Role.VIEWER)


@pytest.fixture
def operator(db: Any) -> User:
    return make_user("otto-operator", Role.OPERATOR)


@pytest.fixture
def administrator(db: Any) -> User:
    return make_user("ada-admin", Role.ADMINISTRATOR)


@pytest.fixture
def no_role_user(db: Any) -> User:
    return make_user("nora-norole", None)


def logged_in(user: User, enforce_csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    return client


@pytest.fixture
def remote_ae(db: Any) -> Callable[..., ApplicationEntity]:
    def make(**fields: Any) -> ApplicationEntity:
        values: dict[str, Any] = {
            "kind": AEKind.REMOTE,
            "ae_title": "STORESCP",
            "host": "127.0.0.1",
            "port": 11112,
            "connect_timeout": 3,
            "acse_timeout": 5,
            "dimse_timeout": 5,
            "network_timeout": 5,
        }
        values.update(fields)
        return ApplicationEntity.objects.create(**values)

    return make


def test_database_url() -> str:
    """The URL of the test database, for the worker subprocess."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgresql://{auth}{host}:{port}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: Any, tmp_path_factory: Any) -> Iterator[Path]:
    """A real Celery worker (a subprocess) consuming this test run's job queue."""
    from console.celery import app

    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CONSOLE_QUEUE_PREFIX": settings.QUEUE_PREFIX,
    }
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.JOBS_QUEUE)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"), "-A", "console", "worker",
                "-Q", settings.JOBS_QUEUE, "-n", f"{settings.QUEUE_PREFIX}jobs@%h",
                "--pool", "threads", "--concurrency", "4", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the Celery worker did not start:\n" + log_path.read_text())
            time.sleep(0.1)
        try:
            yield log_path
        finally:
            stop_process(process, grace=15)


def wait_for_job(job: Job, seconds: float = 30, until: Callable[[Job], bool] | None = None) -> Job:
    """Poll the database until the job is terminal (or ``until`` holds)."""
    check = until or (lambda j: j.is_terminal)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if check(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job.pk} still {job.status} after {seconds} s: {job.error}")


@pytest.fixture
def manager(settings: Any, tmp_path: Path) -> Iterator[ListenerManager]:
    """A listener manager in this process; its listeners are stopped after the test."""
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.LISTENER_RETRY_SECONDS = 1
    mgr = ListenerManager(owner="test-worker")
    try:
        yield mgr
    finally:
        for listener_id in list(mgr.running):
            mgr.running.pop(listener_id).stop()


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run([require_tool("openssl"), *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki() -> Iterator[Path]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, under an
    allowed TLS root."""
    root = Path(settings.TLS_FILE_ROOTS[0]) / f"test-{free_port()}"
    root.mkdir(parents=True)
    try:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                "/CN=Test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=root)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                "-keyout", "server.key", "-out", "server.csr", cwd=root)
        (root / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "server.pem",
                cwd=root)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=modality",
                "-keyout", "client.key", "-out", "client.csr", cwd=root)
        openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-out", "client.pem", cwd=root)
        yield root
    finally:
        shutil.rmtree(root)
