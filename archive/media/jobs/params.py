"""The parameters of the media kinds, as their forms and ``POST /api/jobs`` give them."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from archive.conversions.jobs.params import SourceParams
from archive.conversions.jobs.roots import resolve_export_folder
from archive.imports.roots import PathRefused
from archive.media.models import MediumFormat
from archive.media.profiles import MediaProfile

DICOMDIR = "DICOMDIR"
# (0004,1130) File-set ID is a CS of at most 16 characters: A-Z, 0-9, space and underscore
FILESET_ID = re.compile(r"^[A-Z0-9_ ]{0,16}$")


def dicomdir_in(folder: Path) -> Path | None:
    """The DICOMDIR file of a File-set folder (its name in any case), if there is one."""
    if not folder.is_dir():
        return None
    return next((entry for entry in folder.iterdir()
                 if entry.name.upper() == DICOMDIR and entry.is_file()), None)


def new_medium_folder(value: str | None, info: ValidationInfo) -> str | None:
    """A folder under an export root that, for a job about to be created, does not exist yet
    or is empty (the build checks it again when it starts)."""
    if value is None:
        return None
    try:
        folder = resolve_export_folder(value)
    except PathRefused as exc:
        raise ValueError(str(exc)) from None
    new_job = bool(info.context and info.context.get("new_job"))
    if new_job and folder.is_dir() and any(folder.iterdir()):
        raise ValueError(f"{folder} is not empty: a new medium needs a new or empty folder "
                         "(to add to a File-set, use a DICOMDIR update)")
    return str(folder)


def existing_fileset(value: str) -> str:
    """A File-set folder under an export root that holds a DICOMDIR (the DICOMDIR's own path
    is taken for its folder)."""
    try:
        folder = resolve_export_folder(str(Path(value).parent) if Path(value).name.upper()
                                       == DICOMDIR else value)
    except PathRefused as exc:
        raise ValueError(str(exc)) from None
    if dicomdir_in(folder) is None:
        raise ValueError(f"{folder} holds no DICOMDIR: it is not a File-set")
    return str(folder)


def checked_fileset_id(value: str) -> str:
    value = value.strip().upper()
    if not FILESET_ID.match(value):
        raise ValueError("a File-set ID is at most 16 characters: A–Z, 0–9, space, underscore")
    return value


class RecordChoices(BaseModel):
    """How files become records: the profile their syntax must fit, and what to do when a
    file lacks a key a record needs."""

    profile: MediaProfile = Field(default=MediaProfile.STD_GEN_CD,
                                  description="The media application profile (PS3.11)")
    transcode: bool = Field(default=False, description="Write a file whose transfer syntax "
                                                       "the profile does not allow as "
                                                       "Explicit VR Little Endian")
    invent: bool = Field(default=False, description="Invent missing Type 1 record keys "
                                                    "(dcmmkdir +I); else such a file fails")


class MkmediaParams(SourceParams, RecordChoices):
    medium: MediumFormat = Field(default=MediumFormat.ZIP,
                                 description="folder (under an export root), zip or iso")
    folder: str | None = Field(default=None, description="With medium 'folder': a new or "
                                                         "empty folder under an export root")
    fileset_id: str = Field(default="", description="(0004,1130), at most 16 characters "
                                                    "(default: CONSOLE<job ID>)")
    readme: bool = Field(default=True, description="A plain-text README on the medium, "
                                                   "named as the File-set descriptor")

    _check_folder = field_validator("folder")(new_medium_folder)
    _check_id = field_validator("fileset_id")(checked_fileset_id)

    @model_validator(mode="after")
    def _folder_with_folder(self) -> MkmediaParams:
        if self.medium == MediumFormat.FOLDER and not self.folder:
            raise ValueError("medium 'folder' needs a folder under an export root")
        if self.medium != MediumFormat.FOLDER and self.folder:
            raise ValueError("a folder is given only with medium 'folder'")
        return self


class FileSetParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fileset: str = Field(description="A File-set folder (or its DICOMDIR) under an export root")

    _check_fileset = field_validator("fileset")(existing_fileset)


class UpdateParams(SourceParams, RecordChoices):
    fileset: str = Field(description="A File-set folder (or its DICOMDIR) under an export root")

    _check_fileset = field_validator("fileset")(existing_fileset)


class DeleteParams(FileSetParams):
    sop_instance_uids: list[str] = Field(default_factory=list,
                                         description="Records of these instances")
    series_uids: list[str] = Field(default_factory=list, description="Of these series")
    study_uids: list[str] = Field(default_factory=list, description="Of these studies")
    patient_ids: list[str] = Field(default_factory=list, description="Of these patients")

    @model_validator(mode="after")
    def _something(self) -> DeleteParams:
        if not (self.sop_instance_uids or self.series_uids or self.study_uids
                or self.patient_ids):
            raise ValueError("name the records to delete: SOP Instance UIDs, Series or Study "
                             "Instance UIDs, or Patient IDs")
        return self

    @property
    def count(self) -> int:
        return (len(self.sop_instance_uids) + len(self.series_uids) + len(self.study_uids)
                + len(self.patient_ids))


class CompactParams(FileSetParams):
    remove_files: bool = Field(default=False, description="Also delete the files only "
                                                          "inactive records referenced")
