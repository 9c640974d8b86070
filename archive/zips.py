"""ZIP downloads of archived studies and series, streamed: each stored file is copied into
the response in chunks as the client reads it, so no study is ever held in memory.

Members are named ``<Patient ID>/<study date and description>/<series>/<SOP UID>.dcm``;
a study without date or description is named by its Study Instance UID."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet

from archive.models import Instance, Series, Study
from archive.storage import absolute_path

CHUNK_BYTES = 1024 * 1024
_UNSAFE = re.compile(r"[^\w.+-]+")


class _Pipe:
    """A write-only, unseekable file: what zipfile writes is collected here and taken by
    the response generator after each chunk (zipfile then writes data descriptors)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def safe_part(text: str, fallback: str) -> str:
    """One path component: letters, digits and ``._+-``; runs of anything else are ``_``."""
    cleaned = _UNSAFE.sub("_", text.strip()).strip("._")[:64]
    return cleaned or fallback


def study_folder(study: Study) -> str:
    date = study.study_date.strftime("%Y%m%d") if study.study_date else ""
    named = "_".join(p for p in (date, study.study_description) if p)
    return safe_part(named, study.study_instance_uid) if named else study.study_instance_uid


def series_folder(series: Series) -> str:
    number = "" if series.series_number is None else f"{series.series_number:03d}"
    named = "_".join(p for p in (number, series.modality, series.series_description) if p)
    return safe_part(named, series.series_instance_uid) if named else series.series_instance_uid


@dataclass
class MemberNames:
    """Folder names per study and series, unique inside their parent folder."""

    used: set[str] = field(default_factory=set)
    studies: dict[int, str] = field(default_factory=dict)
    series: dict[int, str] = field(default_factory=dict)

    def _unique(self, wanted: str, fallback: str) -> str:
        name = wanted if wanted not in self.used else fallback
        self.used.add(name)
        return name

    def of(self, instance: Instance) -> str:
        series = instance.series
        study = series.study
        if study.pk not in self.studies:
            patient = safe_part(study.patient.patient_id, "no-patient-id")
            self.studies[study.pk] = self._unique(
                f"{patient}/{study_folder(study)}", f"{patient}/{study.study_instance_uid}")
        if series.pk not in self.series:
            parent = self.studies[study.pk]
            self.series[series.pk] = self._unique(
                f"{parent}/{series_folder(series)}", f"{parent}/{series.series_instance_uid}")
        return f"{self.series[series.pk]}/{instance.sop_instance_uid}.dcm"


def instances_for(studies: Iterable[int] = (), series: Iterable[int] = ()) -> QuerySet[Instance]:
    """The instances of the given studies and series, in a stable order."""
    from django.db.models import Q

    return (
        Instance.objects.filter(Q(series__study_id__in=list(studies))
                                | Q(series_id__in=list(series)))
        .select_related("series__study__patient")
        .order_by("series__study__patient__patient_id", "series__study_id",
                  "series__series_number", "series_id", "instance_number", "pk")
    )


def zip_stream(instances: Iterable[Instance]) -> Iterator[bytes]:
    """The ZIP file of these instances' stored files (stored uncompressed: DICOM pixel data
    is usually compressed already), produced chunk by chunk."""
    pipe = _Pipe()
    names = MemberNames()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for instance in instances:
            path = absolute_path(instance.file_path)
            if not path.is_file():
                continue  # removed meanwhile (a concurrent delete): leave it out
            info = zipfile.ZipInfo.from_file(path, arcname=names.of(instance))
            info.compress_type = zipfile.ZIP_STORED
            with path.open("rb") as source, zf.open(info, mode="w") as member:
                while chunk := source.read(CHUNK_BYTES):
                    member.write(chunk)
                    yield pipe.take()
            yield pipe.take()
    yield pipe.take()
