"""Where new files go on a medium: ``DICOM/PA000000/ST000000/SE000000/IM000000``.

One PA folder per patient, one ST folder per study of that patient, one SE folder per
series and one IM file per instance; numbers count from 0 within their parent. When a
File-set is updated, the folders of patients, studies and series already on it are found
again from its records (the ancestors of the instance records whose files follow this
layout), and new names continue after the highest number used on disk or in the DICOMDIR,
so that no name that exists, or that a record references, is ever given again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from archive.media.dicomdir.fileids import check_file_id
from archive.media.dicomdir.model import Directory, Record

ROOT_FOLDER = "DICOM"
LEVEL_PREFIXES = ("PA", "ST", "SE", "IM")
DIGITS = 6
_NAME = re.compile(r"^(PA|ST|SE|IM)(\d{6})$")

FolderKey = tuple[str, ...]  # (patient key[, study UID[, series UID]])


def _number(name: str, prefix: str) -> int | None:
    match = _NAME.match(name.upper())
    if match is None or match.group(1) != prefix:
        return None
    return int(match.group(2))


def _ours(file_id: tuple[str, ...]) -> bool:
    """True when a file ID follows this layout (DICOM/PA…/ST…/SE…/IM…)."""
    if len(file_id) != 5 or file_id[0].upper() != ROOT_FOLDER:
        return False
    return all(_number(part, prefix) is not None
               for part, prefix in zip(file_id[1:], LEVEL_PREFIXES, strict=True))


@dataclass
class Layout:
    """Gives each new instance its file ID; one per build or update of a File-set."""

    folder: Path
    existing: Directory | None = None
    _folders: dict[FolderKey, tuple[str, ...]] = field(default_factory=dict, init=False)
    _highest: dict[tuple[str, ...], int] = field(default_factory=dict, init=False)
    _scanned: set[tuple[str, ...]] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if self.existing is not None:
            self._learn(self.existing)

    def _learn(self, directory: Directory) -> None:
        """Folders of existing patients, studies and series, and every name used."""
        for root in directory.roots:
            stack: list[tuple[Record, tuple[Record, ...]]] = [(root, ())]
            while stack:
                record, above = stack.pop()
                stack.extend((child, (*above, record)) for child in record.children)
                if record.file_id is None or check_file_id(record.file_id) is not None:
                    continue
                parts = tuple(part.upper() for part in record.file_id)
                self._use(parts)
                if _ours(parts) and record.in_use and len(above) == 3:
                    self._remember(above, parts)

    def _remember(self, above: tuple[Record, ...], parts: tuple[str, ...]) -> None:
        patient, study, series = above
        if not (patient.in_use and study.in_use and series.in_use):
            return
        patient_key = patient.key("PatientID")
        study_uid = study.key("StudyInstanceUID")
        series_uid = series.key("SeriesInstanceUID")
        self._folders.setdefault((patient_key,), parts[:2])
        self._folders.setdefault((patient_key, study_uid), parts[:3])
        self._folders.setdefault((patient_key, study_uid, series_uid), parts[:4])

    def _use(self, parts: tuple[str, ...]) -> None:
        """Note that each component of ``parts`` is taken within its parent."""
        for depth in range(1, len(parts)):
            parent, name = parts[:depth], parts[depth]
            prefix = LEVEL_PREFIXES[depth - 1] if depth <= len(LEVEL_PREFIXES) else ""
            number = _number(name, prefix) if prefix else None
            if number is not None:
                self._highest[parent] = max(self._highest.get(parent, -1), number)

    def _scan(self, parent: tuple[str, ...]) -> None:
        """Names already on disk under ``parent`` (once per parent)."""
        if parent in self._scanned:
            return
        self._scanned.add(parent)
        path = self.folder.joinpath(*parent)
        if path.is_dir():
            for entry in path.iterdir():
                self._use((*parent, entry.name.upper()))

    def _new_name(self, parent: tuple[str, ...]) -> tuple[str, ...]:
        """The next free name under ``parent``, after every number used there."""
        self._scan(parent)
        prefix = LEVEL_PREFIXES[len(parent) - 1]
        number = self._highest.get(parent, -1) + 1
        if number >= 10 ** DIGITS:
            raise ValueError(f"no free {prefix} name left under {'/'.join(parent)}")
        self._highest[parent] = number
        return (*parent, f"{prefix}{number:0{DIGITS}d}")

    def _folder(self, key: FolderKey) -> tuple[str, ...]:
        if key not in self._folders:
            parent = self._folder(key[:-1]) if len(key) > 1 else (ROOT_FOLDER,)
            self._folders[key] = self._new_name(parent)
        return self._folders[key]

    def file_id(self, patient_key: str, study_uid: str, series_uid: str) -> tuple[str, ...]:
        """A new file ID in the series' folder (made when the series has none yet)."""
        return self._new_name(self._folder((patient_key, study_uid, series_uid)))
