"""``create`` jobs through a real Celery worker: files from a server path become DICOM
objects of one new series — of a new patient, an archived patient or an archived study —
with a template's attributes, each passing dciodvfy, and a bad file fails alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pydicom import dcmread
from pydicom.encaps import generate_fragments

from archive.models import Instance, InstanceSource, Patient, Series, Study
from archive.storage import absolute_path, storage_root
from netjobs.models import ItemOutcome, JobStatus
from tests.archive_helpers import corpus, import_folder
from tests.conftest import logged_in
from tests.conversion_helpers import archive_corpus, run_conversion
from tests.object_helpers import dciodvfy_errors
from tests.object_job_helpers import (
    make_jpeg,
    make_mp4,
    make_pdf,
    make_png,
)

pytestmark = pytest.mark.django_db(transaction=True)

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
VL_PHOTOGRAPHIC = "1.2.840.10008.5.1.4.1.1.77.1.4"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
VIDEO_ENDOSCOPIC = "1.2.840.10008.5.1.4.1.1.77.1.1.1"


def test_a_jpeg_a_pdf_and_a_video_become_one_series_of_a_new_patient(
        celery_worker_process: Path, operator: User) -> None:
    with import_folder() as folder:
        jpeg = make_jpeg(folder / "a-photo.jpg")
        pdf = make_pdf(folder / "b-letter.pdf", title="Discharge letter")
        video = make_mp4(folder / "c-scope.mp4")
        job = run_conversion("create", operator, seconds=120, path=str(folder),
                             output="archive", patient_name="Doe^Jane", patient_id="NEW-1",
                             patient_sex="F", study_description="Outside material",
                             image_class="vl_photographic", video_class="endoscopic")
        sources = {p.name: p.read_bytes() for p in (jpeg, pdf, video)}

    assert job.status == JobStatus.SUCCEEDED, (job.error, list(job.items.values("name", "message")))
    instances = list(Instance.objects.order_by("instance_number"))
    assert [i.instance_number for i in instances] == [1, 2, 3]
    assert {i.series_id for i in instances} == {instances[0].series_id}
    assert all(i.source == InstanceSource.CREATED and i.source_job_id == job.pk
               for i in instances)
    patient = Patient.objects.get()
    assert (patient.patient_name, patient.patient_id, patient.sex) == ("Doe^Jane", "NEW-1", "F")
    assert Study.objects.get().study_description == "Outside material"
    classes = [i.sop_class_uid for i in instances]
    assert classes == [VL_PHOTOGRAPHIC, ENCAPSULATED_PDF, VIDEO_ENDOSCOPIC]

    photo, letter, scope = (dcmread(absolute_path(i.file_path)) for i in instances)
    fragments = b"".join(generate_fragments(photo.PixelData))
    assert fragments.rstrip(b"\0") == sources["a-photo.jpg"].rstrip(b"\0")
    assert letter.EncapsulatedDocument[:len(sources["b-letter.pdf"])] == sources["b-letter.pdf"]
    assert letter.DocumentTitle == "Discharge letter"
    assert b"".join(generate_fragments(scope.PixelData))[:len(sources["c-scope.mp4"])] == \
        sources["c-scope.mp4"]
    for instance in instances:
        assert dciodvfy_errors(absolute_path(instance.file_path)) == [], instance.sop_class_uid
    # The series' thumbnail is its picture, not the document or the video in the middle.
    thumb = logged_in(operator).get(f"/archive/series/{instances[0].series_id}/thumbnail.png")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/png"


def test_objects_attached_to_an_archived_study_copy_its_patient_and_study(
        celery_worker_process: Path, operator: User) -> None:
    (archived,) = archive_corpus("MR-SIEMENS-DICOM-WithOverlays.dcm")
    study = archived.series.study
    original = dcmread(corpus("MR-SIEMENS-DICOM-WithOverlays.dcm"), stop_before_pixels=True)
    with import_folder() as folder:
        make_jpeg(folder / "photo.jpg")
        job = run_conversion("create", operator, path=str(folder), output="archive",
                             attach_study=study.pk, series_description="Photos")

    assert job.status == JobStatus.SUCCEEDED, job.error
    created = Instance.objects.get(source=InstanceSource.CREATED)
    assert created.series.study_id == study.pk and created.series_id != archived.series_id
    ds = dcmread(absolute_path(created.file_path), stop_before_pixels=True)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyID", "AccessionNumber"):
        assert str(ds.get(keyword, "")) == str(original.get(keyword, "")), keyword
    assert ds.SeriesDescription == "Photos"
    assert created.series.series_number == (original.SeriesNumber or 0) + 1
    assert Study.objects.count() == 1 and Patient.objects.count() == 1


def test_a_template_supplies_attributes_but_not_what_the_content_decides(
        celery_worker_process: Path, operator: User) -> None:
    template = {"00080080": {"vr": "LO", "Value": ["Hospital of Tests"]},
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Template^Tom"}]},
                "00081030": {"vr": "LO", "Value": ["From the template"]},
                "00280010": {"vr": "US", "Value": [999]},
                "00080016": {"vr": "UI", "Value": ["1.2.3.4"]}}
    with import_folder() as folder:
        make_png(folder / "scan.png", size=(40, 30))
        job = run_conversion("create", operator, path=str(folder), output="archive",
                             patient_id="T-1", template=json.dumps(template))

    assert job.status == JobStatus.SUCCEEDED, job.error
    ds = dcmread(absolute_path(Instance.objects.get().file_path))
    assert ds.InstitutionName == "Hospital of Tests"
    assert ds.StudyDescription == "From the template"
    assert (ds.Rows, ds.Columns) == (30, 40)  # the image decides, not the template
    assert ds.SOPClassUID == SECONDARY_CAPTURE
    assert ds.PatientID == "T-1"  # typed in the form: over the template
    assert ds.PatientName == "Template^Tom"  # left empty in the form: the template's


def test_several_images_become_one_multiframe_instance(
        celery_worker_process: Path, operator: User) -> None:
    with import_folder() as folder:
        for n in range(3):
            make_png(folder / f"frame{n}.png", size=(32, 24), seed=n)
        job = run_conversion("create", operator, path=str(folder), output="archive",
                             multi_frame=True)

    assert job.status == JobStatus.SUCCEEDED, job.error
    instance = Instance.objects.get()
    assert instance.number_of_frames == 3
    assert dciodvfy_errors(absolute_path(instance.file_path)) == []


def test_a_bad_file_fails_alone_and_nothing_of_it_is_archived(
        celery_worker_process: Path, operator: User) -> None:
    with import_folder() as folder:
        whole = make_jpeg(folder / "whole.jpg").read_bytes()
        (folder / "cut.jpg").write_bytes(whole[: len(whole) // 2])
        (folder / "notes.pdf").write_text("this is not a PDF at all\n")
        make_pdf(folder / "letter.pdf")
        job = run_conversion("create", operator, path=str(folder), output="archive")

    assert job.status == JobStatus.PARTIAL, job.error
    outcomes = dict(job.items.values_list("name", "outcome"))
    assert outcomes == {"cut.jpg": ItemOutcome.FAILED, "notes.pdf": ItemOutcome.FAILED,
                        "letter.pdf": ItemOutcome.SUCCEEDED, "whole.jpg": ItemOutcome.SUCCEEDED}
    cut = job.items.get(name="cut.jpg").message.lower()
    assert "jpeg" in cut and ("truncated" in cut or "end" in cut), cut
    assert Instance.objects.count() == 2 and Series.objects.count() == 1


def test_objects_attached_to_an_archived_patient_make_a_new_study(
        celery_worker_process: Path, operator: User) -> None:
    (archived,) = archive_corpus("MR-SIEMENS-DICOM-WithOverlays.dcm")
    patient = archived.series.study.patient
    original = dcmread(corpus("MR-SIEMENS-DICOM-WithOverlays.dcm"), stop_before_pixels=True)
    with import_folder() as folder:
        make_jpeg(folder / "photo.jpg")
        make_pdf(folder / "letter.pdf")
        job = run_conversion("create", operator, path=str(folder), output="archive",
                             attach_patient=patient.pk, study_description="Outside photos",
                             accession_number="ACC-77", image_class="vl_photographic")

    assert job.status == JobStatus.SUCCEEDED, (job.error, list(job.items.values("message")))
    created = list(Instance.objects.filter(source=InstanceSource.CREATED))
    assert len(created) == 2 and len({i.series_id for i in created}) == 1
    study = created[0].series.study
    assert study.pk != archived.series.study_id and study.patient_id == patient.pk
    assert study.study_instance_uid != original.StudyInstanceUID
    assert (study.study_description, study.accession_number) == ("Outside photos", "ACC-77")
    assert created[0].series.series_number == 1
    assert Patient.objects.count() == 1 and Study.objects.count() == 2
    for instance in created:
        ds = dcmread(absolute_path(instance.file_path), stop_before_pixels=True)
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
            assert str(ds.get(keyword, "")) == str(original.get(keyword, "")), keyword
        assert ds.StudyInstanceUID == study.study_instance_uid
        assert (ds.StudyDescription, ds.AccessionNumber) == ("Outside photos", "ACC-77")
        assert dciodvfy_errors(absolute_path(instance.file_path)) == [], instance.sop_class_uid


def test_a_file_with_no_video_stream_fails_alone_and_nothing_of_it_is_archived(
        celery_worker_process: Path, operator: User) -> None:
    with import_folder() as folder:
        make_jpeg(folder / "photo.jpg")
        audio = folder / "voice.m4a"  # an MP4 container holding sound only
        made = subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=1",
                               str(audio)], capture_output=True, timeout=60, check=False)
        assert made.returncode == 0, made.stderr
        before = set(storage_root().rglob("*.dcm"))
        job = run_conversion("create", operator, path=str(folder), output="archive")

    assert job.status == JobStatus.PARTIAL, job.error
    outcomes = dict(job.items.values_list("name", "outcome"))
    assert outcomes == {"photo.jpg": ItemOutcome.SUCCEEDED, "voice.m4a": ItemOutcome.FAILED}
    assert "no video stream" in job.items.get(name="voice.m4a").message
    instance = Instance.objects.get()
    assert instance.sop_class_uid == SECONDARY_CAPTURE
    stored = set(storage_root().rglob("*.dcm")) - before
    assert stored == {absolute_path(instance.file_path)}  # no file of the failed item


@pytest.mark.parametrize(("params", "words"), [
    ({"studies": [1]}, "server path or an upload"),
    ({"path": "{folder}", "target": "jpeg_baseline"}, "lossy"),
    ({"path": "{folder}", "template": "<Nope/>"}, "NativeDicomModel"),
    ({"path": "{folder}", "attach_study": 1, "patient_name": "X"}, "new patient"),
])
def test_bad_create_requests_are_422(operator: User, params: dict[str, object],
                                     words: str) -> None:
    with import_folder() as folder:
        body = {k: (str(folder) if v == "{folder}" else v) for k, v in params.items()}
        response = logged_in(operator).post("/api/jobs", {"kind": "create", "params": body},
                                            content_type="application/json")
    assert response.status_code == 422
    assert words in json.dumps(response.json()), response.json()
