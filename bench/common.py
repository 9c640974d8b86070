"""Pieces shared by the benchmarks: a throwaway console environment, CT test files, Orthanc."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = next((Path(c) for c in (os.environ.get("DICOM_CORPUS", ""),
                                  ROOT.parent / "shared" / "dicom-corpus",
                                  "/work/shared/dicom-corpus")
               if c and (Path(c) / "INDEX.tsv").is_file()),
              ROOT.parent / "shared" / "dicom-corpus")
WORK = Path(tempfile.mkdtemp(prefix="console-bench-"))


def setup_django() -> None:
    os.environ.setdefault("CONSOLE_VAR_DIR", str(WORK / "var"))
    os.environ["CONSOLE_QUEUE_PREFIX"] = f"bench{os.getpid()}-"  # a worker of its own
    os.environ["IMPORT_ROOTS"] = str(WORK / "in")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ["STATIC_MANIFEST"] = "0"  # pages are rendered in-process, without collectstatic
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def cleanup() -> None:
    shutil.rmtree(WORK, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}")


def make_ct_files(folder: Path, count: int) -> None:
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    template = dcmread(CORPUS / "693_UNCI.dcm")
    study, series = generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        template.StudyInstanceUID, template.SeriesInstanceUID = study, series
        template.SOPInstanceUID = generate_uid()
        template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
        template.InstanceNumber = index + 1
        template.save_as(folder / f"CT{index:05d}.dcm")


@contextlib.contextmanager
def celery_worker() -> Iterator[None]:
    """The job worker as the supervisor runs it (prefork, 4 processes), on this run's queue,
    with this process's environment (database, storage under WORK)."""
    prefix = os.environ["CONSOLE_QUEUE_PREFIX"]
    log_path = WORK / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "console", "worker", "-Q",
             f"{prefix}jobs", "-n", f"{prefix}jobs@%h", "--concurrency", "4", "--loglevel",
             "INFO", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while b" ready." not in log_path.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Celery worker did not start:\n"
                                       + log_path.read_text())
                time.sleep(0.1)
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


def storescu(port: int, ae_title: str, folder: Path) -> float:
    """DCMTK storescu -pdu 131072 +sd folder → 127.0.0.1:port; seconds taken."""
    started = time.perf_counter()
    subprocess.run(["storescu", "-aec", ae_title, "-pdu", "131072", "+sd", "127.0.0.1",
                    str(port), str(folder)], env={**os.environ, "TCP_NODELAY": "1"},
                   check=True, capture_output=True, timeout=900)
    return time.perf_counter() - started


class Orthanc:
    """Debian's Orthanc on loopback ports, storing under WORK."""

    def __init__(self) -> None:
        self.dicom_port, self.http_port = free_port(), free_port()
        storage = WORK / f"orthanc-{self.dicom_port}"
        config = WORK / f"orthanc-{self.dicom_port}.json"
        config.write_text(json.dumps({
            "Name": "bench", "StorageDirectory": str(storage),
            "IndexDirectory": str(storage), "DicomAet": "ORTHANC",
            "DicomPort": self.dicom_port, "HttpPort": self.http_port,
            "RemoteAccessAllowed": False, "DicomCheckCalledAet": False, "Plugins": [],
            "StorageCompression": False, "DicomAlwaysAllowStore": True,
        }))
        self.log = (WORK / f"orthanc-{self.dicom_port}.log").open("wb")
        self.process = subprocess.Popen(["Orthanc", str(config)], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        wait_for_port(self.dicom_port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
