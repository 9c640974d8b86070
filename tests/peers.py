"""Real DICOM peers (DCMTK) started on loopback for the tests, with bounded lifetimes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never one this test process has handed out before
    (the kernel may give a just-released ephemeral port twice in a row, and two listeners
    made by one test on the same port break the unique address constraint)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no fresh loopback port after 100 tries")


def wait_for_port(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; bin/test installs it (apt-get install dcmtk)")
    return path


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class RunningPeer:
    ae_title: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}  # Debian's DCMTK keeps Nagle on without it


@contextmanager
def _running(argv: list[str], ae_title: str, port: int, log_path: Path) -> Iterator[RunningPeer]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=DCMTK_ENV, cwd=log_path.parent
        )
        try:
            wait_for_port(port)
            yield RunningPeer(ae_title, port, process, log_path)
        finally:
            stop_process(process)


@contextmanager
def dcmtk_storescp(workdir: Path, ae_title: str = "STORESCP") -> Iterator[RunningPeer]:
    """DCMTK storescp: accepts Verification and Storage from any AE title."""
    port = free_port()
    out = workdir / "storescp-in"
    out.mkdir(parents=True, exist_ok=True)
    argv = [require_tool("storescp"), "-v", "-aet", ae_title, "-od", str(out), str(port)]
    with _running(argv, ae_title, port, workdir / "storescp.log") as peer:
        yield peer


@contextmanager
def dcmtk_qrscp(workdir: Path, ae_title: str = "QRSCP") -> Iterator[RunningPeer]:
    """DCMTK dcmqrscp: rejects any called AE title other than its own (reason 7)."""
    port = free_port()
    db = workdir / "qrdb"
    db.mkdir(parents=True, exist_ok=True)
    config = workdir / "dcmqrscp.cfg"
    config.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
        "HostTable BEGIN\nHostTable END\n\nVendorTable BEGIN\nVendorTable END\n\n"
        f"AETable BEGIN\n{ae_title} {db} RW (9, 1024mb) ANY\nAETable END\n"
    )
    # Forking mode: Debian's DCMTK 3.6.7 dcmqrscp --single-process segfaults when it
    # rejects an association after having served one.
    argv = [require_tool("dcmqrscp"), "-v", "-c", str(config)]
    with _running(argv, ae_title, port, workdir / "dcmqrscp.log") as peer:
        echo_until_ready(ae_title, port)
        yield peer


def echo_until_ready(ae_title: str, port: int, seconds: float = 10.0) -> None:
    echoscu = require_tool("echoscu")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = subprocess.run(
            [echoscu, "-to", "2", "-aec", ae_title, "127.0.0.1", str(port)],
            env=DCMTK_ENV, capture_output=True, check=False,
        )
        if done.returncode == 0:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{ae_title} on port {port} does not answer C-ECHO")


@contextmanager
def silent_tcp_server() -> Iterator[int]:
    """Accepts TCP connections and never answers: a peer that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


@contextmanager
def pynetdicom_verification_scp(
    on_echo: Callable[[Any], int], ae_title: str = "PYSCP"
) -> Iterator[int]:
    """A pynetdicom Verification SCP whose C-ECHO handler the test chooses (to abort, stall…)."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title=ae_title)
    ae.add_supported_context(Verification)
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_ECHO, on_echo)]
    )
    assert server is not None
    try:
        yield port
    finally:
        server.shutdown()


ORTHANC_DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def require_orthanc_dicomweb() -> Path:
    """Debian's Orthanc DICOMweb plugin, or a skip that says how to install it."""
    if not ORTHANC_DICOMWEB_PLUGIN.is_file():
        pytest.skip(f"Orthanc's DICOMweb plugin {ORTHANC_DICOMWEB_PLUGIN} is not installed; "
                    "bin/test installs it (apt-get install orthanc-dicomweb)")
    return ORTHANC_DICOMWEB_PLUGIN


@dataclass
class OrthancPeer:
    ae_title: str
    dicom_port: int
    http_port: int
    log_path: Path | None = None

    @property
    def dicomweb_url(self) -> str:
        """The root of its DICOMweb server (when started with ``dicomweb=True``)."""
        return f"http://127.0.0.1:{self.http_port}/dicom-web"

    def call(self, method: str, path: str, data: bytes | None = None,
             timeout: float = 60) -> bytes:
        """A call to its REST API with ``data`` as the body; the answer's bytes."""
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", method=method, data=data)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read())

    def rest(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        """A call with ``body`` sent as JSON; a JSON answer decoded, any other as bytes."""
        import json

        data = self.call(method, path, None if body is None else json.dumps(body).encode(),
                         timeout)
        return json.loads(data) if data[:1] in (b"{", b"[") else data

    def instance_file(self, instance_id: str) -> bytes:
        """The file Orthanc holds for an instance, byte for byte."""
        return self.call("GET", f"/instances/{instance_id}/file")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


DicomwebServer = list[str] | dict[str, Any]


def _dicomweb_config(servers: Mapping[str, DicomwebServer]) -> dict[str, Any]:
    """The plugin's section: its server under /dicom-web/, and the remote servers its client
    knows (Orthanc's DicomWeb.Servers: ``[url, user, password]`` or an object with "Url",
    "Username", "Password", "HttpHeaders", "Timeout", "ChunkedTransfers",
    "HasWadoRsUniversalTransferSyntax"…)."""
    return {"Enable": True, "Root": "/dicom-web/", "EnableWado": False,
            "Servers": dict(servers)}


@contextmanager
def orthanc(workdir: Path, modalities: dict[str, tuple[str, str, int]],
            ae_title: str = "ORTHANC", dicomweb: bool = False,
            dicomweb_servers: Mapping[str, DicomwebServer] | None = None,
            ) -> Iterator[OrthancPeer]:
    """Debian's Orthanc on loopback ports, with the given DICOM modalities (name: AE title,
    host, port), its REST API open on 127.0.0.1 only. With ``dicomweb`` (or
    ``dicomweb_servers``) it loads Debian's DICOMweb plugin (skipping the test when it is
    not installed): a DICOMweb server under /dicom-web/ and a client of those servers
    (/dicom-web/servers/{name}/stow, /qido, /get, /retrieve)."""
    import json

    plugins: list[str] = []
    extra: dict[str, Any] = {}
    if dicomweb or dicomweb_servers:
        plugins.append(str(require_orthanc_dicomweb()))
        extra["DicomWeb"] = _dicomweb_config(dicomweb_servers or {})
    dicom_port, http_port = free_port(), free_port()
    storage = workdir / "orthanc-db"
    config = workdir / "orthanc.json"
    config.write_text(json.dumps({
        "Name": "test", "StorageDirectory": str(storage), "IndexDirectory": str(storage),
        "DicomAet": ae_title, "DicomPort": dicom_port, "HttpPort": http_port,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False, "Plugins": plugins, "StorageCompression": False,
        "DicomAlwaysAllowStore": True, "DicomAlwaysAllowEcho": True,
        "DicomModalities": {name: list(entry) for name, entry in modalities.items()},
        **extra,
    }))
    argv = [require_tool("Orthanc"), str(config)]
    log_path = workdir / "orthanc.log"
    with _running(argv, ae_title, dicom_port, log_path):
        wait_for_port(http_port)
        yield OrthancPeer(ae_title, dicom_port, http_port, log_path)
