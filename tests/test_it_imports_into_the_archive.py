"""Imports from a server folder into the archive, through a real Celery worker."""

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Count

from archive.models import Instance, Series, Study
from archive.storage import absolute_path
from netjobs.jobs.services import create_job
from netjobs.models import ItemOutcome, Job, JobStatus
from tests.archive_helpers import GOOD, copy_corpus, corpus, import_folder
from tests.conftest import logged_in, wait_for_job
from tests.peers import require_tool

pytestmark = pytest.mark.django_db(transaction=True)


def run_import(user: User, **params: Any) -> Any:
    return wait_for_job(create_job("import", params, owner=user), seconds=60)


def test_a_folder_import_archives_good_files_and_lists_bad_ones(
    celery_worker_process: Path, operator: User
) -> None:
    with import_folder() as folder:
        copy_corpus(folder, GOOD)
        (folder / "sub").mkdir()
        copy_corpus(folder / "sub", ["emri_small.dcm"])
        (folder / "empty.dcm").write_bytes(b"")
        (folder / "notes.txt").write_text("not dicom at all\n" * 20)
        (folder / "garbage.dcm").write_bytes(bytes(range(256)) * 40)
        truncated = corpus("693_UNCI.dcm").read_bytes()[:300_000]
        (folder / "truncated.dcm").write_bytes(truncated)
        job = run_import(operator, path=str(folder))

    assert job.status == JobStatus.PARTIAL, job.error
    assert job.counters["stored"] == len(GOOD) + 1
    assert job.counters["rejected"] == 4
    reasons = {item.name: item.message for item in job.items.filter(outcome=ItemOutcome.FAILED)}
    assert reasons["empty.dcm"] == "empty file (0 bytes)"
    assert "not a DICOM file" in reasons["notes.txt"]
    assert "not a DICOM file" in reasons["garbage.dcm"]
    assert "truncated: Pixel Data declares 524288 bytes" in reasons["truncated.dcm"]

    # Every good file is archived byte for byte, with its checksum and source.
    for name in [*GOOD, "sub/emri_small.dcm"]:
        source = corpus(Path(name).name).read_bytes()
        item = job.items.get(name=name)
        instance = Instance.objects.get(sop_instance_uid=item.sop_instance_uid)
        stored = absolute_path(instance.file_path).read_bytes()
        assert stored == source, name
        assert instance.sha256 == hashlib.sha256(source).hexdigest()
        assert instance.file_size == len(source)
        assert (instance.source, instance.source_detail, instance.source_job_id) == (
            "path", name, job.pk
        )

    # Counts per series and study agree with the rows.
    for series in Series.objects.annotate(n=Count("instances")):
        assert series.number_of_instances == series.n
    for study in Study.objects.annotate(
        n=Count("series__instances", distinct=True), s=Count("series", distinct=True)
    ):
        assert (study.number_of_instances, study.number_of_series) == (study.n, study.s)


def test_duplicates_follow_the_policy(celery_worker_process: Path, operator: User) -> None:
    with import_folder() as folder:
        copy_corpus(folder, ["693_UNCI.dcm", "MR2_UNCI.dcm"])
        first = run_import(operator, path=str(folder))
        kept = run_import(operator, path=str(folder))
        rejected = run_import(operator, path=str(folder), duplicates="reject")
        replaced = run_import(operator, path=str(folder), duplicates="replace")
    assert first.status == JobStatus.SUCCEEDED and first.counters["stored"] == 2
    assert kept.status == JobStatus.SUCCEEDED and kept.counters["duplicates"] == 2
    assert "first copy is kept" in kept.items.values_list("message", flat=True)[0]
    assert rejected.status == JobStatus.FAILED and rejected.counters["rejected"] == 2
    assert "already in the archive" in rejected.items.values_list("message", flat=True)[0]
    assert replaced.status == JobStatus.SUCCEEDED and replaced.counters["replaced"] == 2
    assert Instance.objects.count() == 2
    assert set(Instance.objects.values_list("source_job", flat=True)) == {replaced.pk}


def test_a_zip_is_read_member_by_member(celery_worker_process: Path, operator: User) -> None:
    with import_folder() as folder:
        archive = folder / "study.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(corpus("MR2_J2KR.dcm"), "a/MR2_J2KR.dcm")
            zf.write(corpus("OBXXXX1A_rle.dcm"), "a/b/OBXXXX1A_rle.dcm")
            zf.writestr("README.txt", "hello")
        job = run_import(operator, path=str(archive))
    assert job.status == JobStatus.PARTIAL
    assert job.counters["stored"] == 2 and job.counters["rejected"] == 1
    names = set(job.items.values_list("name", flat=True))
    assert names == {"study.zip:a/MR2_J2KR.dcm", "study.zip:a/b/OBXXXX1A_rle.dcm",
                     "study.zip:README.txt"}
    stored = Instance.objects.get(source_detail="study.zip:a/MR2_J2KR.dcm")
    assert absolute_path(stored.file_path).read_bytes() == corpus("MR2_J2KR.dcm").read_bytes()


def test_a_dicomdir_is_followed(celery_worker_process: Path, operator: User) -> None:
    with import_folder() as folder:
        media = folder / "cd"
        (media / "IMAGES").mkdir(parents=True)
        for number, name in enumerate(("MR2_UNCI.dcm", "693_UNCI.dcm"), start=1):
            shutil.copyfile(corpus(name), media / "IMAGES" / f"IMG{number:05d}")
        # DCMTK builds the DICOMDIR (inventing the Type 1 keys these test files lack).
        subprocess.run([require_tool("dcmmkdir"), "+r", "-Pgp", "+I", "+id", str(media),
                        "--output-file", str(media / "DICOMDIR"), "IMAGES"],
                       check=True, capture_output=True)
        (media / "LOOSE.DCM").write_bytes(corpus("emri_small.dcm").read_bytes())  # not listed
        job = run_import(operator, path=str(media))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.counters["stored"] == 2
    assert set(job.items.values_list("name", flat=True)) == {"IMAGES/IMG00001", "IMAGES/IMG00002"}
    assert not Instance.objects.filter(source_detail__contains="LOOSE").exists()


def test_paths_outside_the_roots_are_refused(celery_worker_process: Path, operator: User,
                                            tmp_path: Path) -> None:
    client = logged_in(operator)
    with import_folder() as folder:
        (folder / "escape").symlink_to("/etc")
        for path in ("/etc", str(folder / ".." / ".." / ".."), str(folder / "escape"),
                     "relative/path", str(folder / "missing")):
            response = client.post("/api/jobs", {"kind": "import", "params": {"path": path}},
                                   content_type="application/json")
            assert response.status_code == 422, path
        link = folder / "link.dcm"
        link.symlink_to(corpus("693_UNCI.dcm"))  # the corpus is outside the import roots
        ok = client.post("/api/jobs", {"kind": "import", "params": {"path": str(folder)}},
                         content_type="application/json")
        assert ok.status_code == 201
        # the job runs before the test ends (a worker still at work on it would race the
        # database flush that follows)
        wait_for_job(Job.objects.get(pk=ok.json()["id"]), seconds=60)
    detail = response.json()["detail"]
    assert detail[0]["loc"][-1] == "path"
