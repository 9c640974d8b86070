"""Orthanc's DICOMweb client (Debian's orthanc-dicomweb plugin) against the console's
/dicomweb/, with the console under gunicorn on 127.0.0.1 as README's run serves it: Orthanc
sends STOW-RS bodies with ``Transfer-Encoding: chunked``, which Django's development server
(and so pytest-django's live_server) cannot read, so every test here uses gunicorn.

Orthanc stores its instances into the console (``/dicom-web/servers/console/stow``) and the
console then holds each file byte for byte as Orthanc holds it (Orthanc's multipart boundary
is 73 characters, over RFC 2046's 70, and is taken); Orthanc searches the console
(``/qido`` and ``/get``) and finds what pydicom reads from the seeded files; Orthanc pulls a
study (``/retrieve``) and then holds each file byte for byte as the console stores it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from pydicom import dcmread

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from archive.storage import absolute_path
from console.tokens import issue_token
from tests import conftest
from tests.archive_helpers import corpus
from tests.peers import OrthancPeer, free_port, orthanc, require_orthanc_dicomweb, stop_process

pytestmark = pytest.mark.django_db(transaction=True)

# One CT study of two instances (JPEG 2000 and Explicit VR Little Endian), and studies in
# JPEG Lossless, JPEG-LS (10 frames), RLE (2 frames), Implicit and Explicit Big Endian.
FILES = ["693_J2KR.dcm", "693_UNCI.dcm", "JPEG-LL.dcm", "emri_small_jpeg_ls_lossless.dcm",
         "OBXXXX1A_rle_2frame.dcm", "gdcm-US-ALOKA-16.dcm", "SC_rgb_expb.dcm"]
CT_STUDY_FILES = ["693_J2KR.dcm", "693_UNCI.dcm"]
# Each access log line: method, path, status, and how the body came (chunked or a length).
ACCESS_FORMAT = "%(m)s %(U)s %(s)s te=%({transfer-encoding}i)s cl=%({content-length}i)s"


@dataclass
class Console:
    url: str
    access_log: Path

    def requests(self) -> list[str]:
        return self.access_log.read_text().splitlines()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:  # not listening yet, or 503 while the database does not answer
        return False


@contextmanager
def console_under_gunicorn(workdir: Path) -> Iterator[Console]:
    """The console's WSGI application under gunicorn (gthread, as console/supervisor.py
    starts it) on a loopback port, on the test database and this test's storage."""
    port = free_port()
    access_log = workdir / "gunicorn-access.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": conftest.test_database_url(), "STORAGE_ROOT": str(settings.STORAGE_ROOT)}
    argv = [str(Path(sys.executable).parent / "gunicorn"), "console.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
            "--worker-class", "gthread", "--timeout", "120", "--graceful-timeout", "5",
            "--access-logfile", str(access_log), "--access-logformat", ACCESS_FORMAT,
            "--no-control-socket"]
    with (workdir / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(argv, cwd=conftest.ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while not _answers(f"{url}/healthz"):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not serve the console:\n"
                                + (workdir / "gunicorn.log").read_text())
                time.sleep(0.2)
            yield Console(url, access_log)
        finally:
            stop_process(process, grace=10)


@pytest.fixture
def console(settings: Any, tmp_path: Path) -> Iterator[Console]:
    require_orthanc_dicomweb()
    settings.STORAGE_ROOT = tmp_path / "storage"
    with console_under_gunicorn(tmp_path) as running:
        yield running


@contextmanager
def orthanc_knowing(console: Console, user: User, workdir: Path) -> Iterator[OrthancPeer]:
    """Orthanc whose DICOMweb client knows the console as "console", with a token of
    ``user`` in the headers it sends."""
    token = issue_token(user, "orthanc").raw
    servers = {"console": {"Url": f"{console.url}/dicomweb/",
                           "HttpHeaders": {"Authorization": f"Bearer {token}"}}}
    with orthanc(workdir, {}, dicomweb_servers=servers) as peer:
        yield peer


def corpus_bytes(name: str) -> bytes:
    return corpus(name).read_bytes()


def upload(peer: OrthancPeer, data: bytes) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(peer.call("POST", "/instances", data))
    assert answer["Status"] == "Success", answer
    return answer


def orthanc_instance(peer: OrthancPeer, sop_instance_uid: str) -> str:
    found = json.loads(peer.call("POST", "/tools/lookup", sop_instance_uid.encode()))
    (instance,) = [f["ID"] for f in found if f["Type"] == "Instance"]
    return str(instance)


def stored_bytes(sop_instance_uid: str) -> bytes:
    instance = Instance.objects.get(sop_instance_uid=sop_instance_uid)
    return absolute_path(instance.file_path).read_bytes()


def same_instance(got: bytes, expected: bytes) -> None:
    """SOP Instance UID and decoded pixels first (what matters if bytes differ), then the
    bytes themselves."""
    ours, theirs = dcmread(BytesIO(got)), dcmread(BytesIO(expected))
    assert ours.SOPInstanceUID == theirs.SOPInstanceUID
    assert ours.file_meta.TransferSyntaxUID == theirs.file_meta.TransferSyntaxUID
    assert np.array_equal(ours.pixel_array, theirs.pixel_array)
    assert got == expected


def seed_console() -> dict[str, Path]:
    """The files archived as an import would, by SOP Instance UID."""
    seeded = {}
    for name in FILES:
        result = store_file(corpus(name), source=InstanceSource.UPLOAD)
        seeded[result.instance.sop_instance_uid] = corpus(name)
    return seeded


def test_orthanc_stores_its_instances_into_the_console(console: Console, operator: User,
                                                       tmp_path: Path) -> None:
    with orthanc_knowing(console, operator, tmp_path) as peer:
        uploaded = [upload(peer, corpus_bytes(name)) for name in FILES]
        ct_study = uploaded[0]["ParentStudy"]
        assert uploaded[1]["ParentStudy"] == ct_study
        # A study (Orthanc expands it to its instances) and single instances.
        resources = [ct_study] + [u["ID"] for u in uploaded[len(CT_STUDY_FILES):]]
        peer.rest("POST", "/dicom-web/servers/console/stow",
                  {"Resources": resources, "Synchronous": True}, timeout=120)
        assert Instance.objects.count() == len(FILES)
        for sent in uploaded:
            held = peer.instance_file(sent["ID"])
            same_instance(stored_bytes(str(dcmread(BytesIO(held)).SOPInstanceUID)), held)
    assert set(Instance.objects.values_list("source_detail", flat=True)) == {
        "STOW-RS, otto-operator"}
    stows = [line for line in console.requests() if line.startswith("POST /dicomweb/studies ")]
    assert stows and all(" 200 " in line for line in stows), stows
    assert all("te=chunked" in line for line in stows), stows  # what live_server cannot read


def get(peer: OrthancPeer, uri: str, arguments: dict[str, str] | None = None) -> Any:
    """The console's answer to a GET that Orthanc makes (/dicom-web/servers/console/get),
    as it came."""
    body = {"Uri": uri, "Arguments": arguments or {}}
    return json.loads(peer.call("POST", "/dicom-web/servers/console/get",
                                json.dumps(body).encode()))


def test_orthanc_searches_the_console(console: Console, viewer: User, tmp_path: Path) -> None:
    seeded = seed_console()
    read = [dcmread(path, stop_before_pixels=True) for path in seeded.values()]
    studies: dict[str, list[Any]] = {}
    for ds in read:
        studies.setdefault(str(ds.StudyInstanceUID), []).append(ds)
    ct = read[0]  # 693_J2KR.dcm, of the study of two instances
    with orthanc_knowing(console, viewer, tmp_path) as peer:
        # /qido: Orthanc's simplified form (the first value of each attribute; Orthanc 1.7
        # leaves the numbers of the DICOM JSON out of it).
        found = peer.rest("POST", "/dicom-web/servers/console/qido", {
            "Uri": "/studies", "Arguments": {"includefield": "00081030,00080060"}})
        by_study = {item["0020000D"]["Value"]: item for item in found}
        assert set(by_study) == set(studies)
        for uid, datasets in studies.items():
            item = by_study[uid]
            assert item["00100020"].get("Value", "") == str(datasets[0].get("PatientID", ""))
            assert item["00080061"]["Value"] in {str(ds.Modality) for ds in datasets}
        # /get: the console's DICOM JSON as it came.
        counted = {s["0020000D"]["Value"][0]: s["00201208"]["Value"] for s in get(
            peer, "/studies")}
        assert counted == {uid: [len(datasets)] for uid, datasets in studies.items()}
        series = get(peer, f"/studies/{ct.StudyInstanceUID}/series")
        assert [s["0020000E"]["Value"] for s in series] == [[str(ct.SeriesInstanceUID)]]
        instances = get(peer, f"/studies/{ct.StudyInstanceUID}/instances")
        assert sorted(i["00080018"]["Value"][0] for i in instances) == sorted(
            str(ds.SOPInstanceUID) for ds in studies[str(ct.StudyInstanceUID)])
        matched = peer.rest("POST", "/dicom-web/servers/console/qido", {
            "Uri": "/studies", "Arguments": {"PatientID": str(ct.PatientID)}})
        assert {m["0020000D"]["Value"] for m in matched} == {
            str(ds.StudyInstanceUID) for ds in read if ds.PatientID == ct.PatientID}


def test_orthanc_retrieves_a_study_from_the_console(console: Console, viewer: User,
                                                    tmp_path: Path) -> None:
    seeded = seed_console()
    wanted = {str(dcmread(path, stop_before_pixels=True).StudyInstanceUID)
              for path in seeded.values()}
    with orthanc_knowing(console, viewer, tmp_path) as peer:
        peer.rest("POST", "/dicom-web/servers/console/retrieve", {
            "Resources": [{"Study": uid} for uid in sorted(wanted)], "Synchronous": True},
            timeout=120)
        held = peer.rest("GET", "/instances")
        assert len(held) == len(seeded)
        for uid in seeded:
            same_instance(peer.instance_file(orthanc_instance(peer, uid)), stored_bytes(uid))
        # One series only, by its series resource.
        ct = dcmread(seeded[next(iter(seeded))], stop_before_pixels=True)
        for instance in held:
            peer.call("DELETE", f"/instances/{instance}")
        peer.rest("POST", "/dicom-web/servers/console/retrieve", {"Resources": [
            {"Study": str(ct.StudyInstanceUID), "Series": str(ct.SeriesInstanceUID)}],
            "Synchronous": True}, timeout=120)
        again = peer.rest("GET", "/instances?expand")
        assert sorted(i["MainDicomTags"]["SOPInstanceUID"] for i in again) == sorted(
            uid for uid, path in seeded.items() if path.name in CT_STUDY_FILES)
    retrieves = [line for line in console.requests() if line.startswith("GET /dicomweb/")]
    assert retrieves and all(" 200 " in line for line in retrieves), retrieves
