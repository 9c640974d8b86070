"""Helpers for conversion job tests: corpus files archived directly, jobs run to the end."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from netjobs.jobs.services import create_job
from netjobs.models import Job
from tests.archive_helpers import corpus
from tests.conftest import wait_for_job


def archive_corpus(*names: str) -> list[Instance]:
    """Corpus files put straight into the archive (no job), in the order given."""
    return [store_file(corpus(name), source=InstanceSource.PATH_IMPORT,
                       source_detail=name).instance for name in names]


def run_conversion(kind: str, user: User, seconds: float = 90, **params: Any) -> Job:
    return wait_for_job(create_job(kind, params, owner=user), seconds=seconds)


def decoded(path: Path) -> Any:
    from pydicom import dcmread

    return dcmread(path).pixel_array


@contextmanager
def export_folder() -> Iterator[Path]:
    """A folder name under the first export root that nothing uses yet, removed after."""
    folder = Path(settings.EXPORT_ROOTS[0]) / f"t-{uuid.uuid4().hex[:12]}"
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
