"""A write failure (out of space) leaves no file under its final name and no index row."""

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from archive import storage
from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from archive.storage import absolute_path, relative_path_for
from tests.archive_helpers import corpus


@pytest.fixture(autouse=True)
def own_storage(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"


def test_out_of_space_leaves_nothing_behind(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A full disk cannot be caused safely on a shared machine: fail fsync as ENOSPC would.
    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, "fsync", full_disk)
    source = corpus("693_UNCI.dcm")
    with pytest.raises(OSError, match="No space left"):
        store_file(source, source=InstanceSource.UPLOAD)
    assert not Instance.objects.exists()
    from pydicom import dcmread

    ds = dcmread(source, stop_before_pixels=True)
    series_folder = absolute_path(relative_path_for(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)).parent
    leftovers = list(series_folder.iterdir()) if series_folder.exists() else []
    assert leftovers == []  # neither the file nor a temporary one


def test_a_stored_file_is_complete_and_durable(db: Any) -> None:
    result = store_file(corpus("MR2_J2KR.dcm"), source=InstanceSource.UPLOAD)
    path = absolute_path(result.instance.file_path)
    assert path.read_bytes() == corpus("MR2_J2KR.dcm").read_bytes()
    assert not any(p.name.startswith(".incoming-") for p in path.parent.iterdir())
    assert os.stat(path).st_size == result.instance.file_size


def test_storage_paths_cannot_escape_the_root() -> None:
    relative = relative_path_for("../../etc", "x/../../y", "passwd")
    assert ".." not in relative
    # a write's token is kept as it is; anything else in its place is made safe
    assert relative_path_for("1.2", "1.3", "1.4", "0a1b2c3d").endswith("/1.4.0a1b2c3d.dcm")
    assert ".." not in relative_path_for("1.2", "1.3", "1.4", "../../x")
    for escaping in ("../outside.dcm", "/etc/passwd", "ab/../../outside.dcm", "", "."):
        with pytest.raises(ValueError):
            absolute_path(escaping)
    assert Path(relative).parts[0] != "/"
    inside = absolute_path("ab/./cd/../x.dcm")
    assert inside.parent == absolute_path("ab/y.dcm").parent
    assert inside.is_relative_to(Path(settings.STORAGE_ROOT).resolve())
