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


def synthetic_ct(path: Path, index: int, study: str, series: str) -> None:
    """A CT slice: a body-like ellipse of soft tissue and bone over air, with noise (so that
    compressors meet realistic data, not one image copied)."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rows, columns = np.mgrid[-256:256, -256:256]
    body = (rows / 200.0) ** 2 + (columns / 170.0) ** 2 < 1
    bone = ((rows / 60.0) ** 2 + ((columns - 20 + index) / 40.0) ** 2) < 1
    noise = np.random.default_rng(index).normal(0, 12, (512, 512))
    image = np.where(body, 40 + noise, -1000 + noise / 4) + np.where(bone, 900, 0)
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.Modality, ds.PatientName, ds.PatientID, ds.InstanceNumber = "CT", "Bench^CT", "B1", index
    ds.Rows = ds.Columns = 512
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    ds.PixelData = image.astype(np.int16).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)


def make_synthetic_ct_files(folder: Path, count: int) -> list[Path]:
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    files = [folder / f"CT{index:05d}.dcm" for index in range(count)]
    for index, path in enumerate(files):
        synthetic_ct(path, index + 1, study, series)
    return files


@contextlib.contextmanager
def celery_worker(concurrency: int = 4, name: str = "jobs") -> Iterator[None]:
    """The job worker as the supervisor runs it (prefork, 4 processes by default), on this
    run's queue, with this process's environment (database, storage under WORK)."""
    prefix = os.environ["CONSOLE_QUEUE_PREFIX"]
    log_path = WORK / f"worker-{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "console", "worker", "-Q",
             f"{prefix}jobs", "-n", f"{prefix}{name}@%h", "--concurrency", str(concurrency),
             "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
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
