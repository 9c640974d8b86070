"""DICOMweb benchmark: the console's /dicomweb/ beside Orthanc's DICOMweb plugin, on loopback.

    DATABASE_URL=postgresql://…/scratch .venv/bin/python bench/dicomweb_bench.py \\
        [--count 500] [--batch 50] [--frames 100] [--rounds 3] [--quick]

N CT files of 512 KB (one study, one series, Explicit VR Little Endian) are made. The
console runs under gunicorn as README's run serves it (console/supervisor.py's web service:
gthread, WEB_WORKERS workers of 4 threads, 2 by default), on this database and a storage
folder of its own; Orthanc 1.10 with Debian's orthanc-dicomweb plugin (1.7) stores under the
same scratch folder, HTTP compression off on both sides. The same client (requests, one
keep-alive session per server, ``Accept-Encoding: identity``) times, for each server:

(a) STOW-RS of the N instances, ``--batch`` per request, each body sent with a
    Content-Length (batches alternate between the servers, so both meet the page cache
    alike); every instance must be in the ReferencedSOPSequence;
(b) WADO-RS of the whole study (``transfer-syntax=*``), every part read;
(c) the study's metadata (DICOM JSON of every instance);
(d) frame 1 of ``--frames`` instances, one request each, as a viewer's image loader asks
    (``type=application/octet-stream; transfer-syntax=*``), every byte read.

(b) to (d) run ``--rounds`` times; the median is shown, with the ratio console/Orthanc
(above 1: the console is slower). ``--quick`` is 50 instances, 20 frames, one round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests
from common import WORK, cleanup, free_port, make_ct_files, setup_django, wait_for_port

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
STUDY_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"
FRAME_FALLBACK = 'multipart/related; type="application/octet-stream"'
TIMEOUT = 600  # seconds, any one request


@dataclass
class Server:
    name: str
    base: str  # the DICOMweb root, without a trailing slash
    session: requests.Session


def session(headers: dict[str, str]) -> requests.Session:
    made = requests.Session()
    made.headers.update({"Accept-Encoding": "identity", **headers})
    return made


def wait_for_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} does not answer 200 after {seconds} s")


@contextlib.contextmanager
def console_under_gunicorn() -> Iterator[str]:
    """The console's web service as console/supervisor.py starts it, on a loopback port."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "console.settings",
           "STORAGE_ROOT": str(WORK / "console-storage")}
    argv = [str(Path(sys.executable).parent / "gunicorn"), "console.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", os.environ.get("WEB_WORKERS", "2"),
            "--threads", "4", "--worker-class", "gthread", "--timeout", str(TIMEOUT),
            "--graceful-timeout", "10", "--no-control-socket"]
    with (WORK / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(argv, cwd=Path(__file__).resolve().parent.parent, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz")
            yield f"http://127.0.0.1:{port}/dicomweb"
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextlib.contextmanager
def orthanc_dicomweb() -> Iterator[str]:
    """Orthanc with its DICOMweb plugin, storing under WORK, REST API on loopback only."""
    if not PLUGIN.is_file():
        raise SystemExit(f"{PLUGIN} is missing: apt-get install orthanc-dicomweb")
    http_port, dicom_port = free_port(), free_port()
    storage = WORK / "orthanc-storage"
    config = WORK / "orthanc.json"
    config.write_text(json.dumps({
        "Name": "bench", "StorageDirectory": str(storage), "IndexDirectory": str(storage),
        "DicomAet": "ORTHANC", "DicomPort": dicom_port, "HttpPort": http_port,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "StorageCompression": False, "HttpCompressionEnabled": False, "SaveJobs": False,
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False,
                     "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
    }))
    with (WORK / "orthanc.log").open("wb") as log:
        process = subprocess.Popen(["Orthanc", str(config)], stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            wait_for_port(http_port)
            wait_for_http(f"http://127.0.0.1:{http_port}/system")
            yield f"http://127.0.0.1:{http_port}/dicom-web"
        finally:
            process.terminate()
            process.wait(timeout=30)


def operator_token() -> str:
    """A token of an Operator (STOW needs that role) in the bench database."""
    from django.contrib.auth.models import Group, User

    from console.roles import Role, ensure_role_groups
    from console.tokens import issue_token

    ensure_role_groups()
    user, _ = User.objects.get_or_create(username="dicomweb-bench")
    user.groups.add(Group.objects.get(name=Role.OPERATOR.group_name))
    return str(issue_token(user, f"bench-{uuid.uuid4().hex[:8]}").raw)


def warm_up(server: Server, requests_made: int = 8) -> None:
    for _ in range(requests_made):
        server.session.get(f"{server.base}/studies", params={"limit": "1"}, timeout=TIMEOUT,
                           headers={"Accept": "application/dicom+json"}).raise_for_status()


def stow_body(files: list[Path], boundary: str) -> bytes:
    chunks = []
    for path in files:
        chunks += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
                   path.read_bytes(), b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def stow_batch(server: Server, body: bytes, boundary: str, count: int) -> float:
    started = time.perf_counter()
    response = server.session.post(f"{server.base}/studies", data=body, timeout=TIMEOUT, headers={
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json"})
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{server.name} STOW-RS: {response.status_code} {response.text[:500]}")
    stored = response.json().get("00081199", {}).get("Value", [])
    if len(stored) != count:
        raise RuntimeError(f"{server.name} STOW-RS stored {len(stored)} of {count}")
    return elapsed


def stow_all(servers: list[Server], files: list[Path], batch: int) -> dict[str, float]:
    """Every batch to each server in turn; the seconds each server took in all."""
    took = {server.name: 0.0 for server in servers}
    for start in range(0, len(files), batch):
        part = files[start:start + batch]
        boundary = uuid.uuid4().hex
        body = stow_body(part, boundary)
        order = servers if (start // batch) % 2 == 0 else servers[::-1]
        for server in order:
            took[server.name] += stow_batch(server, body, boundary, len(part))
    return took


def read_all(response: requests.Response) -> int:
    size = 0
    for chunk in response.iter_content(1024 * 1024):
        size += len(chunk)
    return size


def boundary_of(content_type: str) -> bytes:
    for parameter in content_type.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"').encode()
    raise RuntimeError(f"no boundary in {content_type}")


def retrieve_study(server: Server, study: str, count: int) -> float:
    started = time.perf_counter()
    with server.session.get(f"{server.base}/studies/{study}", stream=True, timeout=TIMEOUT,
                            headers={"Accept": STUDY_ACCEPT}) as response:
        response.raise_for_status()
        boundary = boundary_of(response.headers["Content-Type"])
        body = b"".join(response.iter_content(1024 * 1024))
    elapsed = time.perf_counter() - started
    parts = body.count(b"--" + boundary + b"\r\n")
    if parts != count:
        raise RuntimeError(f"{server.name} WADO-RS: {parts} parts, not {count}")
    return elapsed


def study_metadata(server: Server, study: str, count: int) -> float:
    started = time.perf_counter()
    response = server.session.get(f"{server.base}/studies/{study}/metadata", timeout=TIMEOUT,
                                  headers={"Accept": "application/dicom+json"})
    response.raise_for_status()
    found = len(response.json())
    elapsed = time.perf_counter() - started
    if found != count:
        raise RuntimeError(f"{server.name} metadata: {found} instances, not {count}")
    return elapsed


def frame_accept(server: Server, url: str) -> str:
    """The viewer's Accept header, or plain octet-stream where the server refuses it."""
    response = server.session.get(url, headers={"Accept": FRAME_ACCEPT}, timeout=TIMEOUT)
    if response.ok:
        return FRAME_ACCEPT
    print(f"  {server.name} refuses frames with {FRAME_ACCEPT!r} ({response.status_code}); "
          f"it is asked {FRAME_FALLBACK!r}")
    return FRAME_FALLBACK


def frames(server: Server, urls: list[str], accept: str, frame_size: int) -> float:
    started = time.perf_counter()
    for url in urls:
        with server.session.get(url, headers={"Accept": accept}, stream=True,
                                timeout=TIMEOUT) as response:
            response.raise_for_status()
            if read_all(response) < frame_size:
                raise RuntimeError(f"{server.name} frames: {url} is short")
    return time.perf_counter() - started


def per_server(servers: list[Server], rounds: int,
               run: Callable[[Server], float]) -> dict[str, float]:
    """The median seconds of ``rounds`` runs, for each server."""
    return {server.name: statistics.median(run(server) for _ in range(rounds))
            for server in servers}


def frames_of(study: str, series: str, sops: list[str], frame_size: int,
              server: Server) -> Callable[[Server], float]:
    urls = [f"{server.base}/studies/{study}/series/{series}/instances/{sop}/frames/1"
            for sop in sops]
    accept = frame_accept(server, urls[0])
    return partial(frames, urls=urls, accept=accept, frame_size=frame_size)


def table(rows: list[tuple[str, dict[str, float]]]) -> str:
    lines = [f"| {'operation':<38} | {'console s':>9} | {'Orthanc s':>9} | console/Orthanc |",
             f"| {'-' * 38} | {'-' * 8}: | {'-' * 8}: | {'-' * 14}: |"]
    for label, took in rows:
        ratio = took["console"] / took["orthanc"]
        lines.append(f"| {label:<38} | {took['console']:>9.2f} | {took['orthanc']:>9.2f} | "
                     f"{ratio:>15.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="CT instances (500)")
    parser.add_argument("--batch", type=int, default=50, help="instances per STOW-RS (50)")
    parser.add_argument("--frames", type=int, default=100, help="instances whose frame is read")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the reads (3)")
    parser.add_argument("--quick", action="store_true", help="50 instances, 20 frames, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.count, args.frames, args.rounds = 50, 20, 1
    args.count = max(1, min(args.count, 10_000))
    args.frames = max(1, min(args.frames, args.count))
    args.rounds = max(1, min(args.rounds, 10))
    setup_django()
    from django.db import connection
    from pydicom import dcmread

    try:
        folder = WORK / "ct"
        make_ct_files(folder, args.count)
        files = sorted(folder.iterdir())
        first = dcmread(files[0], stop_before_pixels=True)
        study, series = str(first.StudyInstanceUID), str(first.SeriesInstanceUID)
        sops = [str(dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files]
        megabytes = sum(f.stat().st_size for f in files) / 1024**2
        frame_size = int(first.Rows) * int(first.Columns) * int(first.BitsAllocated) // 8
        print(f"database: {connection.vendor}; {args.count} CT files, {megabytes:.0f} MB, "
              f"STOW-RS batches of {args.batch}; {os.cpu_count()} CPUs")
        token = operator_token()
        connection.close()  # gunicorn's workers have their own
        with console_under_gunicorn() as console_base, orthanc_dicomweb() as orthanc_base:
            servers = [Server("console", console_base,
                              session({"Authorization": f"Bearer {token}"})),
                       Server("orthanc", orthanc_base, session({}))]
            for server in servers:  # the first requests load code (Django's, per worker)
                warm_up(server)
            rows = [(f"(a) STOW-RS {args.count} instances", stow_all(servers, files,
                                                                      args.batch))]
            rows.append((f"(b) WADO-RS study ({megabytes:.0f} MB)", per_server(
                servers, args.rounds, partial(retrieve_study, study=study, count=args.count))))
            rows.append(("(c) metadata of the study", per_server(
                servers, args.rounds, partial(study_metadata, study=study, count=args.count))))
            took: dict[str, float] = {}
            for server in servers:
                run = frames_of(study, series, sops[: args.frames], frame_size, server)
                took.update(per_server([server], args.rounds, run))
            rows.append((f"(d) frames of {args.frames} instances", took))
        print(f"\nmedian of {args.rounds} round(s) for (b)-(d)")
        print(table(rows))
    finally:
        shutil.rmtree(WORK / "console-storage", ignore_errors=True)
        cleanup()


if __name__ == "__main__":
    main()
