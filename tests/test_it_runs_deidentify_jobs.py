"""``deidentify`` and ``reidentify`` jobs through a real Celery worker: pseudonyms from the
project's table, the same UIDs for a second delivery, files that may show burned-in text held
back, refused files failing alone, and a reversible delivery restored attribute for attribute
by its private key."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from pydicom import dcmread
from pydicom.dataset import Dataset

from archive.deid.jobs.params import key_file
from archive.deid.models import DeidProject, Pseudonym, PseudonymOrigin
from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from netjobs.jobs.services import create_job
from netjobs.models import ItemOutcome, Job, JobStatus
from tests.archive_helpers import corpus, import_folder
from tests.conftest import logged_in, wait_for_job
from tests.conversion_helpers import run_conversion
from tests.deid_certificates import make_key_and_certificate
from tests.peers import dcmtk_storescp

pytestmark = pytest.mark.django_db(transaction=True)

PATIENT = {"PatientName": "Doe^Jane^Q", "PatientID": "MRN-4471",
           "PatientBirthDate": "19610214", "AccessionNumber": "ACC99812",
           "InstitutionName": "St Mary Hospital", "ReferringPhysicianName": "House^Gregory",
           "StudyDate": "20240311"}


def archived_with_phi(*names: str, **extra: str) -> list[Instance]:
    """Corpus files given one patient's identifying values, archived."""
    instances = []
    with import_folder() as folder:
        for name in names:
            ds = dcmread(corpus(name))
            for keyword, value in {**PATIENT, **extra}.items():
                setattr(ds, keyword, value)
            path = folder / name
            ds.save_as(path)
            instances.append(store_file(path, source=InstanceSource.PATH_IMPORT).instance)
    return instances


def outputs(job_pk: int) -> list[Instance]:
    return list(Instance.objects.filter(source_job_id=job_pk).order_by("pk"))


def test_a_second_delivery_of_the_same_patient_gets_the_same_pseudonym_and_uids(
        celery_worker_process: Path, operator: User) -> None:
    project = DeidProject.objects.create(name="trial-a")
    Pseudonym.objects.create(project=project, original_patient_id="MRN-4471",
                             pseudonym_id="SUBJ-007", pseudonym_name="Subject^007",
                             origin=PseudonymOrigin.UPLOADED)
    first, second = archived_with_phi("693_UNCI.dcm", "MR2_UNCI.dcm")

    job = run_conversion("deidentify", operator, instances=[first.pk], project="trial-a",
                         output="archive")
    assert job.status == JobStatus.SUCCEEDED, (job.error, list(job.items.values("message")))
    [made] = outputs(job.pk)
    ds = dcmread(absolute_path(made.file_path))
    assert (ds.PatientID, str(ds.PatientName)) == ("SUBJ-007", "Subject^007")
    assert made.series.study.patient.patient_id == "SUBJ-007"
    assert ds.SOPInstanceUID != first.sop_instance_uid and ds.PatientIdentityRemoved == "YES"
    assert "AccessionNumber" not in ds or not ds.AccessionNumber
    assert made.source == InstanceSource.DEIDENTIFIED
    # nothing in the archive points back at the original (Viewers read instance pages)
    assert made.derived_from_id is None and first.sop_instance_uid not in made.source_detail

    again = run_conversion("deidentify", operator, instances=[first.pk, second.pk],
                           project="trial-a", output="archive")
    assert again.status == JobStatus.SUCCEEDED, list(again.items.values("message"))
    # the same input UIDs gave the same output UIDs: the first file was already archived
    messages = " ".join(again.items.values_list("message", flat=True))
    assert "already in the archive" in messages
    assert made.sop_instance_uid not in messages  # the job page does not link the two
    assert Instance.objects.filter(sop_instance_uid=made.sop_instance_uid).count() == 1
    studies = Study.objects.filter(patient__patient_id="SUBJ-007")
    assert studies.count() == 2  # CT and MR were two studies; each is mapped, never merged
    assert Pseudonym.objects.filter(project=project).count() == 1


def test_a_patient_missing_from_the_table_gets_a_generated_pseudonym_kept_for_next_time(
        celery_worker_process: Path, operator: User) -> None:
    project = DeidProject.objects.create(name="trial-b", pseudonym_prefix="TB")
    [instance] = archived_with_phi("693_UNCI.dcm")
    job = run_conversion("deidentify", operator, instances=[instance.pk], project="trial-b",
                         output="archive")
    assert job.status == JobStatus.SUCCEEDED, list(job.items.values("message"))
    row = Pseudonym.objects.get(project=project)
    assert row.origin == PseudonymOrigin.GENERATED and row.original_patient_id == "MRN-4471"
    assert row.pseudonym_id.startswith("TB") and row.original_patient_name == "Doe^Jane^Q"
    [made] = outputs(job.pk)
    assert dcmread(absolute_path(made.file_path)).PatientID == row.pseudonym_id


def test_a_file_that_may_show_burned_in_text_is_held_back_and_not_released(
        celery_worker_process: Path, operator: User, viewer: User) -> None:
    DeidProject.objects.create(name="trial-c")
    ct, us = archived_with_phi("693_UNCI.dcm", "US1_UNCI.dcm")
    job = run_conversion("deidentify", operator, instances=[ct.pk, us.pk], project="trial-c",
                         output="zip")
    assert job.status == JobStatus.SUCCEEDED, list(job.items.values("message"))
    assert job.result["held_back"] == 1, list(job.items.values("name", "message"))
    held = job.items.get(sop_instance_uid=us.sop_instance_uid)
    assert held.outcome == ItemOutcome.WARNING and "held back for review" in held.message
    client = logged_in(operator)
    released = zipfile.ZipFile(io.BytesIO(b"".join(
        client.get(f"/jobs/{job.pk}/download/files/").streaming_content)))  # type: ignore[attr-defined]
    assert len(released.namelist()) == 1
    assert dcmread(io.BytesIO(released.read(released.namelist()[0]))).Modality == "CT"
    review = client.get(f"/jobs/{job.pk}/download/held/")
    assert review.status_code == 200
    [name] = zipfile.ZipFile(io.BytesIO(b"".join(
        review.streaming_content))).namelist()  # type: ignore[attr-defined]
    assert logged_in(viewer).get(f"/jobs/{job.pk}/download/held/").status_code == 403
    assert "MRN-4471" not in name and name.endswith(".dcm")


def test_an_unreadable_file_fails_alone_with_the_reason(
        celery_worker_process: Path, operator: User) -> None:
    DeidProject.objects.create(name="trial-d")
    with import_folder() as folder:
        ds = dcmread(corpus("693_UNCI.dcm"))
        ds.save_as(folder / "good.dcm")
        (folder / "broken.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 40)
        job = run_conversion("deidentify", operator, path=str(folder), project="trial-d",
                             output="zip")
    assert job.status == JobStatus.PARTIAL
    broken = job.items.get(name__endswith="broken.dcm")
    assert broken.outcome == ItemOutcome.FAILED and "cannot be read" in broken.message
    assert job.items.get(name__endswith="good.dcm").outcome == ItemOutcome.SUCCEEDED


def test_a_reversible_delivery_is_restored_by_its_private_key(
        celery_worker_process: Path, operator: User, administrator: User,
        tmp_path: Path) -> None:
    key, certificate = make_key_and_certificate(tmp_path)
    DeidProject.objects.create(name="trial-e", certificate_pem=certificate.read_text())
    [instance] = archived_with_phi("MR2_UNCI.dcm")
    original = dcmread(absolute_path(instance.file_path))
    job = run_conversion("deidentify", operator, instances=[instance.pk], project="trial-e",
                         reversible=True, output="archive")
    assert job.status == JobStatus.SUCCEEDED, list(job.items.values("message"))
    [made] = outputs(job.pk)
    deidentified = dcmread(absolute_path(made.file_path))
    assert "EncryptedAttributesSequence" in deidentified

    back = run_conversion("reidentify", administrator, instances=[made.pk],
                          private_key=key.read_text(), output="zip")
    assert back.status == JobStatus.SUCCEEDED, list(back.items.values("message"))
    content = b"".join(logged_in(administrator).get(
        f"/jobs/{back.pk}/download/files/").streaming_content)  # type: ignore[attr-defined]
    archive = zipfile.ZipFile(io.BytesIO(content))
    restored = dcmread(io.BytesIO(archive.read(archive.namelist()[0])))
    assert _encoded(restored) == _encoded(original)
    # the re-identified files are the patients' again: an Operator cannot fetch them
    assert logged_in(operator).get(f"/jobs/{back.pk}/download/files/").status_code == 403
    assert back.params["private_key"].startswith("key:")  # the job never held the PEM
    assert key_file(back.params["private_key"]) is None  # and the key went with the job


def test_a_key_with_a_password_is_opened_at_once_and_neither_is_kept(
        celery_worker_process: Path, operator: User, administrator: User,
        tmp_path: Path) -> None:
    key, certificate = make_key_and_certificate(tmp_path, password="s3cret-pass")
    DeidProject.objects.create(name="trial-pw", certificate_pem=certificate.read_text())
    [instance] = archived_with_phi("MR2_UNCI.dcm")
    job = run_conversion("deidentify", operator, instances=[instance.pk], project="trial-pw",
                         reversible=True, output="archive")
    [made] = outputs(job.pk)
    client = logged_in(administrator)
    wrong = client.post("/api/jobs", {"kind": "reidentify", "params": {
        "instances": [made.pk], "private_key": key.read_text(), "password": "nope"}},
        content_type="application/json")
    assert wrong.status_code == 422 and "wrong password" in wrong.content.decode()
    back = run_conversion("reidentify", administrator, instances=[made.pk],
                          private_key=key.read_text(), password="s3cret-pass", output="zip")
    assert back.status == JobStatus.SUCCEEDED, list(back.items.values("message"))
    stored = json.dumps(back.params) + json.dumps(list(back.log_entries.values("message")))
    assert "s3cret-pass" not in stored and "PRIVATE KEY" not in stored
    assert back.params["password"] is None
    assert key_file(back.params["private_key"]) is None


def _encoded(ds: Dataset) -> dict[str, bytes]:
    """Each top-level attribute as Explicit VR Little Endian bytes (the file meta apart)."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    encoded = {}
    for element in ds:
        buffer = DicomBytesIO()
        buffer.is_little_endian, buffer.is_implicit_VR = True, False
        write_data_element(buffer, element)
        encoded[str(element.tag)] = buffer.getvalue()
    return encoded


def test_the_api_refuses_what_cannot_run(operator: User) -> None:
    DeidProject.objects.create(name="no-cert")
    client = logged_in(operator)

    def post(params: dict[str, object]) -> dict[str, object]:
        response = client.post("/api/jobs", {"kind": "deidentify", "params": params},
                               content_type="application/json")
        assert response.status_code == 422, response.content
        return response.json()

    assert "no de-identification project" in str(post({"project": "nope", "path": "/x"}))
    assert "has no certificate" in str(post({"project": "no-cert", "reversible": True,
                                              "studies": [1]}))
    assert "not both" in str(post({"project": "no-cert", "studies": [1], "options": [
        "retain_full_dates", "retain_modified_dates"]}))
    assert "dumb mode" in str(post({"project": "no-cert", "studies": [1], "dumb": True}))
    assert "Retain UIDs" in str(post({"project": "no-cert", "studies": [1], "output": "archive",
                                       "options": ["retain_uids"]}))
    reid = client.post("/api/jobs", {"kind": "reidentify", "params": {
        "studies": [1], "private_key": "x"}}, content_type="application/json")
    assert reid.status_code == 403  # re-identification restores PHI: Administrators only


def test_released_files_go_straight_to_a_remote_ae_by_a_store_job(
        celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path) -> None:
    DeidProject.objects.create(name="trial-f")
    ct, us = archived_with_phi("693_UNCI.dcm", "US1_UNCI.dcm")
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = run_conversion("deidentify", operator, instances=[ct.pk, us.pk],
                             project="trial-f", output="zip", send_to=ae.pk)
        assert job.status == JobStatus.SUCCEEDED, list(job.items.values("message"))
        store = Job.objects.get(kind="store")
        store = wait_for_job(store, seconds=60)
        assert store.status == JobStatus.SUCCEEDED, (store.error, store.summary)
    received = [p for p in (tmp_path / "storescp-in").iterdir() if p.is_file()]
    assert len(received) == 1  # the ultrasound image was held back, not sent
    sent = dcmread(received[0])
    assert sent.Modality == "CT" and sent.PatientID != PATIENT["PatientID"]
    assert sent.PatientIdentityRemoved == "YES"


def test_an_attribute_no_rule_covers_fails_the_file(
        celery_worker_process: Path, operator: User) -> None:
    DeidProject.objects.create(name="trial-g")
    with import_folder() as folder:
        ds = dcmread(corpus("693_UNCI.dcm"))
        ds.add_new(0x00311010, "LO", "private: removed")  # private is covered (X)
        ds.add_new(0x00431010, "LO", "x")
        ds.save_as(folder / "private.dcm")
        unknown = dcmread(corpus("693_UNCI.dcm"))
        unknown.add_new(0x00FE0010, "LO", "who knows")  # even group, in no dictionary
        unknown.save_as(folder / "unknown.dcm")
        job = run_conversion("deidentify", operator, path=str(folder), project="trial-g",
                             output="zip")
    assert job.status == JobStatus.PARTIAL
    refused = job.items.get(name__endswith="unknown.dcm")
    assert refused.outcome == ItemOutcome.FAILED
    assert "(00FE,0010)" in refused.message and "no rule" in refused.message
    assert job.items.get(name__endswith="private.dcm").outcome == ItemOutcome.SUCCEEDED


def test_a_project_deleted_after_submission_fails_the_job_with_the_reason(
        celery_worker_process: Path, operator: User) -> None:
    project = DeidProject.objects.create(name="short-lived")
    [instance] = archived_with_phi("693_UNCI.dcm")
    with transaction.atomic():  # the job is queued on commit: the project goes first
        job = create_job("deidentify", {"instances": [instance.pk], "project": "short-lived",
                                        "output": "zip"}, owner=operator)
        project.delete()
    job = wait_for_job(job, seconds=60)
    assert job.status == JobStatus.FAILED and "no de-identification project" in job.error
