"""The same SOP instance written by several writers at once, or resent while deleted: one
index row, its file present and matching, no stray copies, whatever the policy."""

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from archive.indexing import (
    DuplicateRejected,
    StoreOutcome,
    StoreResult,
    delete_studies,
    store_file,
)
from archive.models import DuplicatePolicy, Instance, InstanceSource, Study
from archive.storage import absolute_path, storage_root
from tests.archive_helpers import corpus

pytestmark = pytest.mark.django_db(transaction=True)


def files_on_disk() -> list[Path]:
    return [p for p in storage_root().rglob("*") if p.is_file()]


def race(path: Path, policy: DuplicatePolicy, writers: int = 4) -> list[Any]:
    barrier = threading.Barrier(writers)
    outcomes: list[Any] = []

    def write() -> None:
        from django.db import connection
        try:
            barrier.wait()
            outcomes.append(store_file(path, source=InstanceSource.UPLOAD, policy=policy).outcome)
        except DuplicateRejected as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def assert_one_consistent_copy(source: Path) -> None:
    instance = Instance.objects.get()
    stored = absolute_path(instance.file_path)
    assert files_on_disk() == [stored]
    data = stored.read_bytes()
    assert hashlib.sha256(data).hexdigest() == instance.sha256 and len(data) == \
        instance.file_size
    assert data == source.read_bytes()
    assert Study.objects.get().number_of_instances == 1


@pytest.mark.parametrize("policy", list(DuplicatePolicy))
def test_simultaneous_writers_leave_one_copy(settings: Any, tmp_path: Path,
                                             policy: DuplicatePolicy) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    source = corpus("emri_small.dcm")
    first = race(source, policy)
    assert_one_consistent_copy(source)
    assert first.count(StoreOutcome.STORED) == 1
    late = {DuplicatePolicy.KEEP_FIRST: StoreOutcome.DUPLICATE_KEPT,
            DuplicatePolicy.REPLACE: StoreOutcome.REPLACED}
    if policy in late:
        assert first.count(late[policy]) == 3
    else:
        assert sum(isinstance(o, DuplicateRejected) for o in first) == 3
    for _ in range(2):  # and again, with the instance already there
        assert len(race(source, policy)) == 4
        assert_one_consistent_copy(source)


def test_a_resend_racing_a_delete_never_loses_the_new_copy(settings: Any,
                                                          tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    source = corpus("emri_small.dcm")
    first = store_file(source, source=InstanceSource.UPLOAD)
    uid = dcmread(source, stop_before_pixels=True).StudyInstanceUID
    resend: list[Any] = []
    done = threading.Event()

    def store_again() -> None:
        from django.db import connection
        try:
            resend.append(store_file(source, source=InstanceSource.UPLOAD,
                                     policy=DuplicatePolicy.REPLACE))
        except Exception as exc:
            resend.append(exc)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=store_again)
    thread.start()
    delete_studies(list(Study.objects.filter(study_instance_uid=uid)))
    done.wait(30)
    thread.join(timeout=30)
    # Whichever came last, the index and the disk agree: either nothing, or one good copy.
    assert len(resend) == 1 and isinstance(resend[0], StoreResult), resend
    instances = list(Instance.objects.all())
    if resend[0].outcome == StoreOutcome.STORED:  # it came after the delete
        assert len(instances) == 1
    if instances:
        assert_one_consistent_copy(source)
        assert instances[0].file_path != first.instance.file_path  # a file of its own
    else:
        assert files_on_disk() == []
