"""DICOMweb jobs end to end (API → a real Celery worker → HTTP) against the console's own
DICOMweb service on loopback: a qido search equal to the archive's rows, a stow of server
files that the archive then holds byte for byte, a wado retrieve that replaces the stored
files with the bytes served, metadata only, and checks that say why an endpoint fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pydicom import dcmread
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from console.tokens import issue_token
from netjobs.models import DicomwebEndpoint, EndpointAuth, ItemOutcome, Job, JobStatus
from tests.archive_helpers import corpus, import_folder, make_object
from tests.conftest import logged_in, wait_for_job
from tests.peers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def api(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'test').raw}"})


def run(user: User, kind: str, params: dict[str, Any], seconds: float = 90) -> Job:
    response = api(user).post("/api/jobs", {"kind": kind, "params": params},
                              content_type="application/json")
    assert response.status_code == 201, response.content
    return wait_for_job(Job.objects.get(pk=response.json()["id"]), seconds)


@pytest.fixture
def console(live_server: Any, operator: User) -> DicomwebEndpoint:
    """The console's own /dicomweb/, reached over HTTP with an Operator's token."""
    return DicomwebEndpoint.objects.create(
        name="self", base_url=f"{live_server.url}/dicomweb", auth=EndpointAuth.BEARER,
        token=issue_token(operator, "endpoint").raw)


@pytest.fixture
def study(tmp_path: Path) -> str:
    uid = generate_uid()
    series = generate_uid()
    for rows in (8, 24, 40):
        store_file(make_object(tmp_path, patient_name="Web^Jane", patient_id="DW1",
                               study_date="20240311", modality="OT", study_uid=uid,
                               series_uid=series, rows=rows), source=InstanceSource.UPLOAD)
    return uid


def test_qido_lists_what_the_archive_holds(celery_worker_process: Path, operator: User,
                                           console: DicomwebEndpoint, study: str) -> None:
    job = run(operator, "qido", {"endpoint": console.pk, "matching": {"PatientID": "DW1"}})
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result == {"matches": 1}
    (item,) = job.items.all()
    match = json.loads(item.message)
    assert match["0020000D"]["Value"] == [study] == [item.name]
    assert match["00201208"]["Value"] == [3]  # NumberOfStudyRelatedInstances
    series = run(operator, "qido", {"endpoint": console.pk, "level": "instances",
                                    "study": study})
    assert sorted(series.items.values_list("name", flat=True)) == sorted(
        Instance.objects.filter(series__study__study_instance_uid=study).values_list(
            "sop_instance_uid", flat=True))
    page = logged_in(operator).get(f"/jobs/{job.pk}/")
    assert page.status_code == 200 and "/jobs/new/wado/?" in page.content.decode()
    csv_body = logged_in(operator).get(f"/jobs/{job.pk}/download/csv/").content.decode("utf-8-sig")
    assert study in csv_body and "Web^Jane" in csv_body


def test_stow_sends_server_files_that_arrive_byte_for_byte(
        celery_worker_process: Path, operator: User, console: DicomwebEndpoint) -> None:
    names = ["693_J2KR.dcm", "emri_small_big_endian.dcm", "SC_rgb_2frame.dcm"]
    with import_folder() as folder:
        for name in names:
            shutil.copy(corpus(name), folder / name)
        (folder / "notes.txt").write_text("not DICOM")
        job = run(operator, "stow", {"endpoint": console.pk, "path": str(folder),
                                     "batch_size": 2})
        page = logged_in(operator).get(f"/jobs/{job.pk}/").content.decode()
        assert "stowrs --bearer &quot;$TOKEN&quot; -a json --url" in page  # dcm4che's line
    assert job.status == JobStatus.PARTIAL, job.error
    outcomes = dict(job.items.values_list("name", "outcome"))
    assert outcomes == {**dict.fromkeys(names, ItemOutcome.SUCCEEDED),
                        "notes.txt": ItemOutcome.FAILED}
    for name in names:
        uid = str(dcmread(corpus(name), stop_before_pixels=True).SOPInstanceUID)
        stored = Instance.objects.get(sop_instance_uid=uid)
        assert stored.source == InstanceSource.DICOMWEB
        assert absolute_path(stored.file_path).read_bytes() == corpus(name).read_bytes()


def test_wado_retrieves_the_study_as_served(celery_worker_process: Path, operator: User,
                                            console: DicomwebEndpoint, study: str) -> None:
    before = dict(Instance.objects.filter(series__study__study_instance_uid=study)
                  .values_list("sop_instance_uid", "file_path"))
    job = run(operator, "wado", {"endpoint": console.pk, "study": study,
                                 "duplicates": "replace"})
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result == {"stored": 3, "duplicates": 0, "failed": 0}
    after = dict(Instance.objects.filter(series__study__study_instance_uid=study)
                 .values_list("sop_instance_uid", "file_path"))
    assert after.keys() == before.keys() and set(after.values()).isdisjoint(before.values())
    kept = run(operator, "wado", {"endpoint": console.pk, "study": study})
    assert kept.result == {"stored": 0, "duplicates": 3, "failed": 0}
    assert set(kept.items.values_list("outcome", flat=True)) == {ItemOutcome.WARNING}
    assert Study.objects.filter(study_instance_uid=study).count() == 1


def test_wado_metadata_only_keeps_the_dicom_json(celery_worker_process: Path, operator: User,
                                                 console: DicomwebEndpoint, study: str) -> None:
    count = Instance.objects.count()
    job = run(operator, "wado", {"endpoint": console.pk, "study": study, "mode": "metadata"})
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert Instance.objects.count() == count  # nothing stored
    document = json.loads(logged_in(operator).get(f"/jobs/{job.pk}/download/metadata/").content)
    assert len(document) == 3
    assert {d["0020000D"]["Value"][0] for d in document} == {study}
    page = logged_in(operator).get(f"/jobs/{job.pk}/").content.decode()
    assert "<h2>Instances</h2>" in page and "3 instances." in page
    assert all(d["00080018"]["Value"][0] in page for d in document)
    assert "/download/instances.csv/" not in page  # the items hold JSON: no CSV of them
    for ds in document:  # pixel data over 1 KiB is named by a BulkDataURI, smaller inline
        rows = ds["00280010"]["Value"][0]
        assert ("BulkDataURI" in ds["7FE00010"]) == (rows * rows * 2 > 1024)


def test_checks_say_why_an_endpoint_fails(celery_worker_process: Path, operator: User,
                                          console: DicomwebEndpoint,
                                          live_server: Any) -> None:
    good = run(operator, "dicomweb_check", {"endpoint": console.pk})
    assert good.status == JobStatus.SUCCEEDED, good.error
    assert good.items.get(name="QIDO-RS search").outcome == ItemOutcome.SUCCEEDED
    wrong_token = DicomwebEndpoint.objects.create(
        name="bad-token", base_url=f"{live_server.url}/dicomweb", auth=EndpointAuth.BEARER,
        token="not-a-token")
    refused = run(operator, "dicomweb_check", {"endpoint": wrong_token.pk})
    assert refused.status == JobStatus.FAILED
    assert "401" in refused.error and "credentials" in refused.error
    closed = DicomwebEndpoint.objects.create(
        name="nothing-there", base_url=f"http://127.0.0.1:{free_port()}/dicomweb")
    down = run(operator, "dicomweb_check", {"endpoint": closed.pk})
    assert down.status == JobStatus.FAILED and "refused the connection" in down.error
    wrong_root = DicomwebEndpoint.objects.create(
        name="wrong-root", base_url=f"{live_server.url}/nowhere")
    missing = run(operator, "dicomweb_check", {"endpoint": wrong_root.pk})
    assert missing.status == JobStatus.FAILED and "base URL" in missing.error
