"""The run command's process supervisor: one foreground command for the whole console.

Prepares the database (migrate, static files, first administrator), then starts the web
server, the job worker, the listener worker and Celery beat, each with its own log prefix.
Redis comes from REDIS_URL when reachable; otherwise a private redis-server is started with
its data under var/redis. Ctrl-C (or SIGTERM) stops everything cleanly; if one process dies,
the others are stopped too and the exit status says so.

    python -m console.supervisor
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 20
COLOURS = ("36", "32", "35", "33", "34", "31")


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss"}:
        return False
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=timeout
        ) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Supervisor:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.services: list[Service] = []
        self.stopping = threading.Event()
        self.failed: str | None = None
        self.print_lock = threading.Lock()
        self.use_colour = sys.stdout.isatty()
        self.width = 8

    # output -----------------------------------------------------------------------------
    def say(self, name: str, line: str, colour: str = "1") -> None:
        prefix = f"{name:<{self.width}}|"
        if self.use_colour:
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self.print_lock:
            sys.stdout.write(f"{prefix} {line}\n")
            sys.stdout.flush()

    def _pump(self, service: Service, colour: str) -> None:
        assert service.process is not None and service.process.stdout is not None
        for raw in service.process.stdout:
            self.say(service.name, raw.decode("utf-8", "replace").rstrip("\n"), colour)

    # set-up -----------------------------------------------------------------------------
    def manage(self, *args: str) -> None:
        self.say("setup", "manage.py " + " ".join(args))
        proc = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            self.say("setup", line)
        if proc.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed with status {proc.returncode}")

    def wait_for_web(self, bind: str, since: float, seconds: float = 60) -> None:
        host, _, port = bind.rpartition(":")
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
                    self.say("console", f"web answers at http://{bind}/ "
                             f"({time.monotonic() - since:.1f} s after start)")
                    return
            except OSError:
                time.sleep(0.2)

    def plan(self, env: dict[str, str]) -> list[Service]:
        python = sys.executable
        bin_dir = Path(python).parent
        celery = str(bin_dir / "celery")
        bind = env.get("CONSOLE_BIND", "127.0.0.1:8000")
        prefix = env.get("CONSOLE_QUEUE_PREFIX", "")
        services = []
        if not redis_reachable(env["REDIS_URL"]):
            redis_server = shutil.which("redis-server")
            if redis_server is None:
                raise SystemExit(
                    f"Redis at {env['REDIS_URL']} is not reachable and redis-server is not "
                    "installed (apt-get install redis-server)."
                )
            port = free_port()
            redis_dir = self.var_dir / "redis"
            redis_dir.mkdir(parents=True, exist_ok=True)
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            services.append(
                Service(
                    "redis",
                    [
                        redis_server, "--bind", "127.0.0.1", "--port", str(port),
                        "--dir", str(redis_dir), "--appendonly", "yes", "--save", "",
                    ],
                )
            )
        services += [
            Service(
                "web",
                [
                    str(bin_dir / "gunicorn"), "console.wsgi:application",
                    "--bind", bind, "--workers", env.get("WEB_WORKERS", "2"),
                    "--threads", "4", "--worker-class", "gthread",
                    "--access-logfile", "-", "--error-logfile", "-",
                    "--graceful-timeout", "10",
                    "--control-socket", str(self.var_dir / "gunicorn.ctl"),
                ],
            ),
            Service(
                "worker",
                [
                    celery, "-A", "console", "worker", "-Q", f"{prefix}jobs",
                    "-n", f"{prefix}jobs@%h", "--concurrency", env.get("WORKER_CONCURRENCY", "4"),
                    "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                ],
            ),
            Service(
                "listener",
                [
                    celery, "-A", "console", "worker", "-Q", f"{prefix}listeners",
                    "-n", f"{prefix}listeners@%h", "--pool", "threads", "--concurrency", "4",
                    "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                ],
                {"CONSOLE_LISTENER_HOST": "1"},
            ),
            Service(
                "beat",
                [
                    celery, "-A", "console", "beat", "--loglevel", "INFO",
                    "--schedule", str(self.var_dir / "celerybeat-schedule"),
                ],
            ),
        ]
        return services

    # running ----------------------------------------------------------------------------
    def start(self, service: Service, env: dict[str, str], colour: str) -> None:
        service.process = subprocess.Popen(
            service.argv,
            cwd=BASE_DIR,
            env={**env, **service.env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the rest
        )
        threading.Thread(target=self._pump, args=(service, colour), daemon=True).start()
        pid = service.process.pid
        self.say(service.name, f"started (pid {pid}): {' '.join(service.argv)}", colour)

    def wait_for_redis(self, url: str, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while not redis_reachable(url):
            if time.monotonic() > deadline:
                raise SystemExit(f"The private redis-server did not answer at {url}.")
            time.sleep(0.1)

    def stop_all(self) -> None:
        # Stop in reverse order so that Redis outlives the workers that use it.
        for service in reversed(self.services):
            proc = service.process
            if proc is None or proc.poll() is not None:
                continue
            self.say("stop", f"stopping {service.name} (pid {proc.pid})")
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.say("stop", f"{service.name} did not stop in {STOP_GRACE_SECONDS} s; killing")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def run(self) -> int:
        started = time.monotonic()
        env = dict(os.environ)
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        env["CONSOLE_VAR_DIR"] = str(self.var_dir)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--no-input")
        self.manage("collectstatic", "--no-input", "-v0")
        self.manage("ensure_admin")

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())

        self.services = self.plan(env)
        for index, service in enumerate(self.services):
            self.start(service, env, COLOURS[index % len(COLOURS)])
            if service.name == "redis":
                self.wait_for_redis(env["REDIS_URL"])
        self.wait_for_web(env.get("CONSOLE_BIND", "127.0.0.1:8000"), started)
        while not self.stopping.wait(0.5):
            for service in self.services:
                assert service.process is not None
                code = service.process.poll()
                if code is not None:
                    self.failed = f"{service.name} exited with status {code}"
                    self.stopping.set()
                    break
        if self.failed:
            self.say("console", f"{self.failed}; stopping the others")
        else:
            self.say("console", "stopping (Ctrl-C)")
        self.stop_all()
        self.say("console", "stopped")
        return 1 if self.failed else 0


def main() -> None:
    var_dir = Path(os.environ.get("CONSOLE_VAR_DIR", BASE_DIR / "var")).resolve()
    sys.exit(Supervisor(var_dir).run())


if __name__ == "__main__":
    main()
