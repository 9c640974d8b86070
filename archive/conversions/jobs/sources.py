"""The files a conversion job works on: archived instances, the files under a server path,
or a staged browser upload — each as a ``WorkItem`` that any worker process can pick up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.db.models import Q, QuerySet

from archive.conversions.jobs.params import SourceParams
from archive.imports.roots import import_roots, is_under
from archive.imports.uploads import staged_upload_dir
from archive.models import Instance
from archive.storage import absolute_path, uid_component


@dataclass(frozen=True)
class WorkItem:
    """One source file: ``name`` is what the operator recognises (a SOP Instance UID or a
    relative path); ``problem`` set means it is skipped without being read."""

    name: str
    path: str
    size: int = 0
    instance: int | None = None  # the archived instance it is, if any
    sop_instance_uid: str = ""
    folder: str = ""  # where its outputs go inside a ZIP or an export folder
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkItem:
        return cls(**data)


def work_items(params: SourceParams) -> list[WorkItem]:
    """Every source file of the job, in a stable order; with ``only``, just those names."""
    items = list(_archived(params) if params.from_archive else _files(params))
    if params.only:
        wanted = set(params.only)
        items = [item for item in items if item.name in wanted]
    return items


def archived_instances(params: SourceParams) -> QuerySet[Instance]:
    """The archived instances the parameters name: by instance, series or study."""
    return Instance.objects.filter(Q(pk__in=params.instances) | Q(series_id__in=params.series)
                                   | Q(series__study_id__in=params.studies))


def _archived(params: SourceParams) -> Iterator[WorkItem]:
    rows = (archived_instances(params)
            .order_by("series__study_id", "series_id", "instance_number", "pk")
            .values_list("pk", "sop_instance_uid", "file_path", "file_size",
                         "series__study__study_instance_uid", "series__series_instance_uid"))
    for pk, uid, file_path, size, study_uid, series_uid in rows:
        yield WorkItem(name=uid, path=str(absolute_path(file_path)), size=size, instance=pk,
                       sop_instance_uid=uid,
                       folder=f"{uid_component(study_uid)}/{uid_component(series_uid)}")


def _files(params: SourceParams) -> Iterator[WorkItem]:
    if params.upload:
        folder = staged_upload_dir(params.upload)
        if folder is None:
            return
        root, roots = folder, [folder.resolve()]
    else:
        root, roots = Path(params.path or ""), import_roots()
    if root.is_file():
        yield _file_item(root, root.name, roots)
        return
    for current, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(current) / name
            if name.upper() == "DICOMDIR":
                continue  # the media's directory, not an instance
            yield _file_item(path, str(path.relative_to(root)), roots)


def _file_item(path: Path, shown: str, roots: list[Path]) -> WorkItem:
    resolved = path.resolve()
    folder = str(Path(shown).parent) if Path(shown).parent != Path(".") else ""
    if not is_under(resolved, roots):
        return WorkItem(shown, str(path), folder=folder,
                        problem="skipped: a link to outside the allowed folders")
    try:
        size = resolved.stat().st_size
    except OSError as exc:
        return WorkItem(shown, str(path), folder=folder, problem=f"cannot be read: {exc}")
    return WorkItem(shown, str(resolved), size=size, folder=folder)
