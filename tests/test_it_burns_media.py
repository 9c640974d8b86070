"""``mkmedia`` jobs through a real Celery worker: archive studies onto a ZIP, an ISO image
and an export folder, each a File-set whose DICOMDIR DCMTK reads and dciodvfy passes, with
every file byte for byte the archived one, and a medium imported back whole."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pydicom.fileset import FileSet

from archive.indexing import delete_studies
from archive.media.dicomdir.reader import read_dicomdir
from archive.media.jobs.run import medium_file
from archive.media.models import Medium, MediumFormat
from archive.models import Instance, Study
from netjobs.jobs.services import create_job
from netjobs.models import ItemOutcome, Job, JobStatus
from tests.conftest import logged_in, wait_for_job
from tests.conversion_helpers import archive_corpus, export_folder, run_conversion
from tests.media_helpers import (
    archived_digests,
    dciodvfy_errors,
    dcmtk_records,
    medium_digests,
    unzip,
)

pytestmark = pytest.mark.django_db(transaction=True)


def studies_of(instances: list[Instance]) -> list[int]:
    return sorted({i.series.study_id for i in instances})


def test_a_zip_medium_holds_every_archived_file_and_a_dicomdir_dcmtk_reads(
        celery_worker_process: Path, operator: User, tmp_path: Path) -> None:
    instances = archive_corpus("693_UNCI.dcm", "MR2_UNCI.dcm", "emri_small.dcm")
    job = run_conversion("mkmedia", operator, studies=studies_of(instances), medium="zip",
                         fileset_id="CASE 42", invent=True)
    assert job.status == JobStatus.SUCCEEDED, (job.error, list(job.items.values("message")))
    medium = Medium.objects.get(job=job)
    assert (medium.format, medium.fileset_id, medium.instances) == (MediumFormat.ZIP,
                                                                    "CASE 42", 3)
    assert medium.studies == len(studies_of(instances)) and medium.is_present

    response = logged_in(operator).get(f"/jobs/{job.pk}/download/medium/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    folder = tmp_path / "medium"
    (tmp_path / "m.zip").write_bytes(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    unzip(tmp_path / "m.zip", folder)

    records = dcmtk_records(folder / "DICOMDIR")
    assert sorted(kind for kind, _, _ in records).count("IMAGE") == 3
    assert medium_digests(folder) == archived_digests(instances)
    assert dciodvfy_errors(folder / "DICOMDIR") == []
    assert (folder / "README").is_file() and b"CASE 42" in (folder / "README").read_bytes()
    fileset = FileSet(folder / "DICOMDIR")
    assert sorted(i.SOPInstanceUID for i in fileset) == sorted(archived_digests(instances))
    assert fileset.ID == "CASE 42"


def test_an_iso_medium_mounts_as_iso_9660_and_imports_back_byte_for_byte(
        celery_worker_process: Path, operator: User, tmp_path: Path) -> None:
    instances = archive_corpus("693_UNCI.dcm", "MR2_UNCI.dcm")
    before = archived_digests(instances)
    job = run_conversion("mkmedia", operator, instances=[i.pk for i in instances],
                         medium="iso", fileset_id="ISO_TEST", invent=True)
    assert job.status == JobStatus.SUCCEEDED, (job.error, list(job.items.values("message")))
    image = medium_file(job.pk, MediumFormat.ISO)
    info = subprocess.run(["isoinfo", "-d", "-i", str(image)], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    assert "Volume id: ISO_TEST" in info
    out = tmp_path / "mounted"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(image), "-extract", "/",
                    str(out)], capture_output=True, check=True, timeout=120)
    assert medium_digests(out) == before

    medium = Medium.objects.get(job=job)
    delete_studies(list(Study.objects.filter(pk__in=studies_of(instances))))
    assert not Instance.objects.exists()
    response = logged_in(operator).post("/media/import/", {"medium": medium.pk})
    assert response.status_code == 302
    imported = wait_for_job(Job.objects.get(kind="import"), seconds=60)
    assert imported.status == JobStatus.SUCCEEDED, (imported.error,
                                                   list(imported.items.values("message")))
    assert archived_digests(list(Instance.objects.all())) == before


def test_a_folder_medium_is_updated_then_a_record_deleted_and_compacted_away(
        celery_worker_process: Path, operator: User) -> None:
    first = archive_corpus("693_UNCI.dcm", "MR2_UNCI.dcm")
    [later] = archive_corpus("emri_small.dcm")
    with export_folder() as folder:
        job = run_conversion("mkmedia", operator, instances=[i.pk for i in first],
                             medium="folder", folder=str(folder), invent=True)
        assert job.status == JobStatus.SUCCEEDED, (job.error, list(job.items.values("message")))
        medium = Medium.objects.get(job=job)
        assert medium.location == str(folder.resolve()) and medium.instances == 2

        update = run_conversion("dicomdir-update", operator, instances=[later.pk],
                                fileset=str(folder), invent=True)
        assert update.status == JobStatus.SUCCEEDED, (update.error,
                                                      list(update.items.values("message")))
        assert medium_digests(folder) == archived_digests([*first, later])
        medium.refresh_from_db()
        assert (medium.instances, medium.last_job_id) == (3, update.pk)

        delete = run_conversion("dicomdir-delete", operator, fileset=str(folder),
                                sop_instance_uids=[later.sop_instance_uid])
        assert delete.status == JobStatus.SUCCEEDED, delete.error
        active = read_dicomdir(folder / "DICOMDIR").directory.active()
        assert sorted(r.sop_instance_uid for _, r in active.walk() if r.file_id) == sorted(
            i.sop_instance_uid for i in first)
        assert len(dcmtk_records(folder / "DICOMDIR")) > len(
            [r for r in dcmtk_records(folder / "DICOMDIR") if r[0] == "IMAGE"])
        medium.refresh_from_db()
        assert medium.instances == 2

        compact = run_conversion("dicomdir-compact", operator, fileset=str(folder),
                                 remove_files=True)
        assert compact.status == JobStatus.SUCCEEDED, compact.error
        uids = [uid for kind, _, uid in dcmtk_records(folder / "DICOMDIR") if uid]
        assert sorted(uids) == sorted(i.sop_instance_uid for i in first)
        assert medium_digests(folder) == archived_digests(first)
        assert compact.result["removed_files"] == 1
        assert dciodvfy_errors(folder / "DICOMDIR") == []


def test_a_file_the_profile_refuses_fails_alone_unless_transcoded(
        celery_worker_process: Path, operator: User, tmp_path: Path) -> None:
    plain, j2k = archive_corpus("MR2_UNCI.dcm", "693_J2KR.dcm")
    strict = run_conversion("mkmedia", operator, instances=[plain.pk, j2k.pk], medium="zip",
                            invent=True)
    assert strict.status == JobStatus.PARTIAL, strict.error
    failed = strict.items.get(outcome=ItemOutcome.FAILED)
    assert failed.sop_instance_uid == j2k.sop_instance_uid
    assert "JPEG 2000" in failed.message and "STD-GEN-CD" in failed.message

    transcoded = run_conversion("mkmedia", operator, instances=[plain.pk, j2k.pk],
                                medium="zip", transcode=True, invent=True)
    assert transcoded.status == JobStatus.SUCCEEDED, (transcoded.error,
                                                      list(transcoded.items.values("message")))
    folder = unzip(medium_file(transcoded.pk, MediumFormat.ZIP), tmp_path / "m")
    syntaxes = {uid: fid for _, fid, uid in dcmtk_records(folder / "DICOMDIR") if uid}
    assert set(syntaxes) == {plain.sop_instance_uid, j2k.sop_instance_uid}
    from pydicom import dcmread

    from archive.storage import absolute_path
    written = dcmread(folder.joinpath(*syntaxes[j2k.sop_instance_uid].split("\\")))
    assert written.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    source = dcmread(absolute_path(j2k.file_path))
    assert (written.pixel_array == source.pixel_array).all()


def test_bad_requests_are_refused_with_the_reason(operator: User, tmp_path: Path) -> None:
    client = logged_in(operator)

    def post(params: dict[str, object]) -> tuple[int, str]:
        response = client.post("/api/jobs", {"kind": "mkmedia", "params": params},
                               content_type="application/json")
        return response.status_code, response.content.decode()

    [instance] = archive_corpus("MR2_UNCI.dcm")
    status, text = post({"instances": [instance.pk], "medium": "folder", "folder": "/etc/x"})
    assert status == 422 and "outside the folders allowed" in text
    with export_folder() as folder:
        folder.mkdir(parents=True)
        (folder / "other.txt").write_text("x")
        status, text = post({"instances": [instance.pk], "medium": "folder",
                             "folder": str(folder)})
        assert status == 422 and "not empty" in text
        status, text = post({"instances": [instance.pk], "medium": "zip",
                             "fileset_id": "lower-case and far too long"})
        assert status == 422 and "File-set ID" in text
        response = client.post("/api/jobs", {"kind": "dicomdir-compact",
                                             "params": {"fileset": str(folder)}},
                               content_type="application/json")
        assert response.status_code == 422 and "holds no DICOMDIR" in response.content.decode()
    assert not Job.objects.exists()


def test_viewers_cannot_start_media_jobs_but_read_the_dashboard(
        viewer: User, operator: User) -> None:
    [instance] = archive_corpus("MR2_UNCI.dcm")
    response = logged_in(viewer).post("/api/jobs", {"kind": "mkmedia", "params": {
        "instances": [instance.pk]}}, content_type="application/json")
    assert response.status_code == 403
    assert logged_in(viewer).get("/media/").status_code == 200
    job = create_job("mkmedia", {"instances": [instance.pk]}, owner=operator)
    assert job.summary.startswith("Burn 1 instance to a STD-GEN-CD medium as a ZIP")


def test_an_imports_studies_open_the_burn_form(operator: User) -> None:
    instances = archive_corpus("693_UNCI.dcm", "MR2_UNCI.dcm")
    imported = Job.objects.create(kind="import", params={}, summary="import", owner=operator,
                                  status=JobStatus.SUCCEEDED)
    Instance.objects.filter(pk=instances[0].pk).update(source_job=imported)
    client = logged_in(operator)
    page = client.get(f"/jobs/{imported.pk}/")
    assert f'/media/burn/?job={imported.pk}' in page.content.decode()
    response = client.get("/media/burn/", {"job": imported.pk})
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/new/mkmedia/?studies={instances[0].series.study_id}"
    form = client.get(response["Location"]).content.decode()
    chips = form[form.find('id="id_studies-chosen"'):]
    assert f'value="{instances[0].series.study_id}"' in chips[:3000]
