"""An edit with ``replace`` keeps the previous files until the whole job succeeds: when the
archive refuses an edited file partway (a full disk on the Nth store — a fault injected,
so the job runs in this process), the files already stored are taken out again and every
original instance is back as it was: its file at the path its row names, byte for byte,
its row, its series, study and patient. The oracle is the storage folder itself (every
file hashed) and the index rows, compared with a snapshot taken before the job."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from pydicom import dcmread
from pydicom.uid import generate_uid

import archive.indexing
from archive.indexing import store_file
from archive.models import AttributeEdit, Instance, InstanceSource, Patient, Series, Study
from archive.storage import absolute_path
from netjobs.jobs.runner import run_job
from netjobs.jobs.services import create_job
from netjobs.models import ItemOutcome, Job, JobStatus
from tests.archive_helpers import make_object

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def storage(settings: Any, tmp_path: Path, monkeypatch: Any) -> Path:
    """A storage root of this test's own, and jobs run here, not by a worker."""
    settings.STORAGE_ROOT = tmp_path / "storage"
    monkeypatch.setattr("netjobs.jobs.services._enqueue", lambda *args: None)
    return Path(settings.STORAGE_ROOT)


def archived(folder: Path, series_count: int = 1, per_series: int = 2) -> list[Instance]:
    """One study of OLD-1, ``series_count`` series of ``per_series`` instances each."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, instances = generate_uid(), []
    for _ in range(series_count):
        series_uid = generate_uid()
        for number in range(1, per_series + 1):
            path = make_object(folder, patient_name="Old^Name", patient_id="OLD-1",
                               study_date="20240102", modality="OT", study_uid=study_uid,
                               series_uid=series_uid)
            ds = dcmread(path)
            ds.InstanceNumber = number
            ds.save_as(path)
            instances.append(store_file(path, source=InstanceSource.PATH_IMPORT).instance)
    return instances


def files_in(root: Path) -> dict[str, str]:
    """Every file under the storage root (hidden folders too) → its SHA-256."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def index_rows() -> dict[str, list[dict[str, Any]]]:
    models: tuple[type[Model], ...] = (Patient, Study, Series, Instance)
    return {model.__name__: [dict(row) for row in model._default_manager.order_by("pk")
                             .values()] for model in models}


def full_disk_on_store(monkeypatch: Any, failing: int) -> None:
    """The archive's durable copy fails with ENOSPC on the ``failing``-th file written."""
    real, calls = archive.indexing.write_atomically, []

    def write(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == failing:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(archive.indexing, "write_atomically", write)


def run_edit(user: User, **params: Any) -> Job:
    job = create_job("edit", params, owner=user)
    run_job(job.pk)
    job.refresh_from_db()
    return job


def assert_as_before(root: Path, files: dict[str, str],
                     rows: dict[str, list[dict[str, Any]]]) -> None:
    assert files_in(root) == files  # no original lost, no edited version left behind
    assert index_rows() == rows
    for instance in Instance.objects.all():
        assert absolute_path(instance.file_path).is_file()
        assert hashlib.sha256(absolute_path(instance.file_path).read_bytes()).hexdigest() \
            == instance.sha256
    assert not AttributeEdit.objects.exists()


@pytest.mark.parametrize("failing", [2, 3])
def test_a_full_disk_partway_with_the_same_uids_puts_every_original_back(
        storage: Path, operator: User, tmp_path: Path, monkeypatch: Any,
        failing: int) -> None:
    """The same SOP Instance UIDs: each store replaced its original's row and removed its
    file; the patient moved to NEW-2 with the first one."""
    archived(tmp_path / "in", per_series=3)
    files, rows = files_in(storage), index_rows()
    full_disk_on_store(monkeypatch, failing)
    job = run_edit(operator, studies=[Study.objects.get().pk],
                   changes=[{"path": "PatientID", "action": "modify", "value": "NEW-2"},
                            {"path": "StudyDescription", "action": "insert",
                             "value": "Edited"}])

    assert job.status == JobStatus.FAILED
    assert "nothing changed" in job.error and "No space left" in job.error
    assert f"the {failing - 1} edited file(s) already stored were taken out" in job.error
    assert_as_before(storage, files, rows)
    outcomes = [(i.outcome, i.message) for i in job.items.order_by("pk")]
    assert [o for o, _ in outcomes].count(ItemOutcome.FAILED) == 1
    assert sum("rolled back" in m for _, m in outcomes) == failing - 1
    assert len(outcomes) == 3


def test_a_full_disk_partway_with_new_uids_leaves_no_new_rows(
        storage: Path, operator: User, tmp_path: Path, monkeypatch: Any) -> None:
    instances = archived(tmp_path / "in")
    files, rows = files_in(storage), index_rows()
    full_disk_on_store(monkeypatch, 2)
    job = run_edit(operator, series=[instances[0].series_id], uids="new",
                   dcmodify='-i "(0008,103E)=Edited series"\n-m PatientID=NEW-2')

    assert job.status == JobStatus.FAILED and "nothing changed" in job.error
    assert_as_before(storage, files, rows)


def test_a_series_the_edit_emptied_comes_back_with_its_own_row(
        storage: Path, operator: User, tmp_path: Path, monkeypatch: Any) -> None:
    """Two series put into one by a Series Instance UID edit: the first store empties (and
    drops) the first series; the second store fails; the first series is back, same pk."""
    archived(tmp_path / "in", series_count=2, per_series=1)
    files, rows = files_in(storage), index_rows()
    full_disk_on_store(monkeypatch, 2)
    job = run_edit(operator, studies=[Study.objects.get().pk],
                   dcmodify=f"-m SeriesInstanceUID={generate_uid()}")

    assert job.status == JobStatus.FAILED and "nothing changed" in job.error
    assert_as_before(storage, files, rows)


def test_without_a_fault_the_originals_go_only_at_the_end(
        storage: Path, operator: User, tmp_path: Path) -> None:
    """The control: the same edit without a fault succeeds and leaves one file per row,
    the kept-aside links gone with the job's work folder."""
    archived(tmp_path / "in", per_series=3)
    before = files_in(storage)
    job = run_edit(operator, studies=[Study.objects.get().pk],
                   changes=[{"path": "PatientID", "action": "modify", "value": "NEW-2"}])

    assert job.status == JobStatus.SUCCEEDED, job.error
    after = files_in(storage)
    assert len(after) == 3 and not set(after) & set(before)
    assert {absolute_path(i.file_path).relative_to(storage).as_posix()
            for i in Instance.objects.all()} == set(after)
    assert list(Patient.objects.values_list("patient_id", flat=True)) == ["NEW-2"]
    assert AttributeEdit.objects.count() == 3
    for instance in Instance.objects.all():
        assert dcmread(absolute_path(instance.file_path)).PatientID == "NEW-2"
