"""What the File-set functions take and give back: options, per-file outcomes, reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from archive.media.dicomdir.model import Directory
from archive.media.profiles import MediaProfile


class FileSetRefused(Exception):
    """The whole operation cannot proceed; the message is for the operator."""


class FileOutcomeKind(StrEnum):
    ADDED = "added"
    FIXED = "fixed"  # added, with invented record keys
    FAILED = "failed"
    SKIPPED = "skipped"  # already on the File-set, or a duplicate within the build


@dataclass(frozen=True)
class FileOutcome:
    name: str
    kind: FileOutcomeKind
    message: str
    file_id: tuple[str, ...] | None = None
    sop_instance_uid: str = ""
    input_bytes: int = 0
    output_bytes: int = 0


@dataclass(frozen=True)
class MediumSource:
    path: Path
    name: str  # what the operator knows the file by (job items show it)


@dataclass(frozen=True)
class BuildOptions:
    fileset_id: str = ""
    profile: MediaProfile = MediaProfile.STD_GEN_CD
    invent: bool = False  # invent missing Type 1 record keys (dcmmkdir +I)
    transcode: bool = False  # write what the profile refuses as Explicit VR Little Endian
    readme: bool = True  # a plain-text README at the root, the File-set descriptor


@dataclass
class BuildReport:
    outcomes: list[FileOutcome]
    directory: Directory
    dicomdir_bytes: int
    seconds: dict[str, float] = field(default_factory=dict)  # headers, copy, dicomdir


@dataclass
class EditReport:
    changed: int  # records marked inactive (delete) or removed (compact)
    removed_files: list[str]  # file IDs joined with "/"
    directory: Directory
    messages: list[str] = field(default_factory=list)
