"""compose.yaml is a valid multi-host deployment (checked by Debian's docker-compose)."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_ENV = {"SECRET_KEY": "not-a-real-key", "POSTGRES_PASSWORD": "not-a-real-password"}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed; bin/test installs it")
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED_ENV}
    return subprocess.run(
        [binary, "-f", str(ROOT / "compose.yaml"), *args],
        env={**clean, **env}, capture_output=True, text=True, check=False, cwd=ROOT,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    done = compose("config", env=REQUIRED_ENV)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_docker_compose_validates_it() -> None:
    done = compose("config", "-q", env=REQUIRED_ENV)
    assert done.returncode == 0, done.stderr


def test_secrets_are_required_not_defaulted() -> None:
    done = compose("config", "-q", env={"POSTGRES_PASSWORD": "x"})
    assert done.returncode != 0 and "SECRET_KEY" in done.stderr
    text = (ROOT / "compose.yaml").read_text()
    assert "SECRET_KEY: ${SECRET_KEY:?" in text


def test_it_has_every_service_with_health_checks(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "listener", "beat"}
    for name in ("db", "redis", "web", "worker", "listener", "beat"):
        assert services[name]["healthcheck"]["test"], name
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert "gunicorn" in services["web"]["command"]


def test_worker_scales(resolved: dict[str, Any]) -> None:
    worker = resolved["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "%h" in " ".join(worker["command"])  # unique node name per replica


def test_state_lives_in_named_volumes(resolved: dict[str, Any]) -> None:
    assert {"pgdata", "storage", "redisdata"} <= set(resolved["volumes"])
    db_volumes = resolved["services"]["db"]["volumes"]
    assert any("pgdata" in str(v) for v in db_volumes)
    for name in ("web", "worker", "listener"):
        volumes = " ".join(str(v) for v in resolved["services"][name]["volumes"])
        assert "storage" in volumes and "/data/storage" in volumes
        env = resolved["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_app_services_wait_for_migrations(resolved: dict[str, Any]) -> None:
    for name in ("web", "worker", "listener", "beat"):
        depends = resolved["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == "service_healthy"


def test_dockerfile_copies_what_the_services_run() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for path in ("console", "archive", "netjobs", "templates", "static", "manage.py"):
        assert f"COPY {path}" in dockerfile
        assert (ROOT / path).exists()
    assert "collectstatic" in dockerfile and "USER console" in dockerfile
