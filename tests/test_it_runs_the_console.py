"""The run command's supervisor: every process up with its log prefix, a private Redis when
REDIS_URL does not answer, a job run through it, and a clean stop on Ctrl-C (SIGINT)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from tests.peers import dcmtk_storescp, free_port

ROOT = Path(__file__).resolve().parent.parent


def call(url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def wait_for_line(log: Path, pattern: str, seconds: float, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        match = re.search(pattern, text)
        if match:
            return match.group(0)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in the run command's output:\n{log.read_text()[-4000:]}")


def test_run_command_serves_runs_jobs_and_stops_cleanly(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="console.settings",
        CONSOLE_VAR_DIR=str(var_dir),
        CONSOLE_BIND=f"127.0.0.1:{port}",
        CONSOLE_QUEUE_PREFIX=f"runtest{os.getpid()}-",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # nothing there: private Redis
        CONSOLE_ADMIN_USER="boss",
        CONSOLE_ADMIN_PASSWORD="a long admin password",
        WEB_WORKERS="1",
        WORKER_CONCURRENCY="2",
    )
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.supervisor"], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_line(log, r"web answers at \S+ \([0-9.]+ s after start\)", 90, process)
        wait_for_line(log, r"worker\s*\|.*jobs@\S+ ready", 60, process)
        wait_for_line(log, r"listener\s*\|.*listeners@\S+ ready", 60, process)
        text = log.read_text()
        for prefix in ("setup", "redis", "web", "worker", "listener", "beat"):
            assert re.search(rf"^{prefix}\s*\|", text, re.M), prefix
        assert "Created administrator 'boss' from CONSOLE_ADMIN_*" in text
        assert (var_dir / "secret_key").stat().st_mode & 0o777 == 0o600
        assert (var_dir / "console.sqlite3").exists()

        base = f"http://127.0.0.1:{port}"
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(f"{base}/login/", timeout=10).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page)
        assert csrf
        form = urllib.parse.urlencode(
            {
                "username": "boss",
                "password": "a long admin password",
                "csrfmiddlewaretoken": csrf[1],
            }
        ).encode()
        dashboard = opener.open(f"{base}/login/", data=form, timeout=10)
        assert dashboard.url == f"{base}/" and b"Dashboard" in dashboard.read()
        css = opener.open(f"{base}/static/vendor/pico/pico.min.css", timeout=10)
        assert css.status == 200

        token = subprocess.run(
            [sys.executable, "manage.py", "create_api_token", "boss"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()
        with dcmtk_storescp(tmp_path) as peer:
            ae = call(f"{base}/api/aes", token, {"ae_title": peer.ae_title, "host": "127.0.0.1",
                                                 "port": peer.port})
            job = call(f"{base}/api/jobs", token, {"kind": "echo", "params": {"ae": ae["id"]}})
            deadline = time.monotonic() + 30
            while job["status"] in {"pending", "running"} and time.monotonic() < deadline:
                time.sleep(0.2)
                job = call(f"{base}/api/jobs/{job['id']}", token)
        assert job["status"] == "succeeded", job
        assert job["associations"][0]["tcp_nodelay"] is True

        # The listener worker hosts a listener created through the API, and stops it.
        dicom_port = free_port()
        listener = call(f"{base}/api/listeners", token, {"name": "in", "ae_title": "CONSOLE",
                                                         "port": dicom_port})
        deadline = time.monotonic() + 30
        while listener["status"] != "running" and time.monotonic() < deadline:
            time.sleep(0.3)
            listener = call(f"{base}/api/listeners/{listener['id']}", token)
        assert listener["status"] == "running", listener
        echo = subprocess.run(["echoscu", "-aec", "CONSOLE", "127.0.0.1", str(dicom_port)],
                              capture_output=True, env={**os.environ, "TCP_NODELAY": "1"})
        assert echo.returncode == 0, echo.stderr
        call(f"{base}/api/listeners/{listener['id']}/stop", token, {})
        deadline = time.monotonic() + 15
        while listener["status"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.3)
            listener = call(f"{base}/api/listeners/{listener['id']}", token)
        assert listener["status"] == "stopped"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", dicom_port), timeout=2)

        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert time.monotonic() - started < 60
        text = log.read_text()
        assert re.search(r"^console\s*\| stopped", text, re.M)
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{base}/login/", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    leftovers = subprocess.run(
        ["pgrep", "-f", f"runtest{os.getpid()}-"], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == []
