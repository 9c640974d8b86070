"""The parameters of the ``create``, ``extract`` and ``edit`` kinds, as forms and
``POST /api/jobs`` give them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from archive.conversions.jobs.params import ConversionParams, OutputKind
from archive.conversions.syntaxes import TargetSyntax
from archive.objects.metadata import MetadataRefused, template_attributes

TEXT_LIMIT = 1024 * 1024  # characters of a template or a change list


class ImageClass(StrEnum):
    """The SOP class of an image made from a JPEG, PNG, BMP, TIFF or raw file."""

    SECONDARY_CAPTURE = "sc"
    VL_PHOTOGRAPHIC = "vl_photographic"
    VL_ENDOSCOPIC = "vl_endoscopic"


class VideoClass(StrEnum):
    ENDOSCOPIC = "endoscopic"
    PHOTOGRAPHIC = "photographic"
    MICROSCOPIC = "microscopic"


class RawImage(BaseModel):
    """How to read a raw pixel file (gdcmimg --size/--depth/--spp/--sign/--endian/--offset)."""

    model_config = ConfigDict(extra="forbid")

    columns: int = Field(ge=1, le=65535)
    rows: int = Field(ge=1, le=65535)
    bits_allocated: int = Field(default=8, description="8 or 16")
    samples_per_pixel: int = Field(default=1, description="1 (grey) or 3 (RGB)")
    signed: bool = False
    big_endian: bool = False
    offset: int = Field(default=0, ge=0, description="Bytes to skip before the pixels")

    @field_validator("bits_allocated")
    @classmethod
    def _bits(cls, value: int) -> int:
        if value not in (8, 16):
            raise ValueError("raw pixels are 8 or 16 bits")
        return value

    @field_validator("samples_per_pixel")
    @classmethod
    def _samples(cls, value: int) -> int:
        if value not in (1, 3):
            raise ValueError("raw pixels have 1 (grey) or 3 (RGB) samples")
        return value


class CreateParams(ConversionParams):
    """Files (a server path or an upload) made into DICOM objects, attached to an archived
    study or patient, or to a new patient and study."""

    attach_study: int | None = Field(default=None, description="Archived study (ID): a new "
                                                               "series in it")
    attach_patient: int | None = Field(default=None,
                                       description="Or an archived patient (ID): a new study")
    patient_name: str = Field(default="", max_length=324)
    patient_id: str = Field(default="", max_length=64)
    patient_birth_date: dt.date | None = None
    patient_sex: str = Field(default="", pattern="^(|M|F|O)$")
    study_description: str = Field(default="", max_length=64)
    accession_number: str = Field(default="", max_length=16)
    referring_physician_name: str = Field(default="", max_length=324)
    series_description: str = Field(default="", max_length=64)
    template: str | None = Field(default=None, max_length=TEXT_LIMIT,
                                 description="PS3.19 XML or PS3.18 JSON attributes")
    image_class: ImageClass = Field(default=ImageClass.SECONDARY_CAPTURE)
    video_class: VideoClass = Field(default=VideoClass.ENDOSCOPIC)
    multi_frame: bool = Field(default=False,
                              description="Images into one multi-frame instance")
    target: TargetSyntax | None = Field(
        default=None, description="PNG, BMP, TIFF, raw: written in this syntax (default "
                                  "Explicit VR Little Endian); JPEG is kept as it is")
    lossy: bool = Field(default=False, description="Must be true for a lossy target")
    keep_app_segments: bool = Field(default=True,
                                    description="JPEG: keep APPn segments (jpg2dcm --no-app)")
    raw: RawImage | None = Field(default=None, description="Read the files as raw pixels")
    title: str = Field(default="", max_length=64, description="Document title (PDF, CDA, 3D)")
    output: OutputKind = Field(default=OutputKind.ARCHIVE, description="Where the results go")

    @model_validator(mode="after")
    def _files_and_where_they_belong(self) -> CreateParams:
        if self.from_archive:
            raise ValueError("create works on files: a server path or an upload")
        if self.attach_study is not None and self.attach_patient is not None:
            raise ValueError("attach to a study or to a patient, not both")
        typed = self.patient_name or self.patient_id or self.patient_birth_date
        if typed and (self.attach_study is not None or self.attach_patient is not None):
            raise ValueError("patient values are typed only for a new patient: an archived "
                             "study or patient brings its own")
        study_typed = self.study_description or self.accession_number or \
            self.referring_physician_name
        if study_typed and self.attach_study is not None:
            raise ValueError("study values are typed only for a new study: an archived study "
                             "brings its own")
        if self.target is not None and self.target.is_lossy and not self.lossy:
            raise ValueError(f"{self.target.label} is lossy: confirm it with \"lossy\": true")
        return self

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            template_attributes(value)
        except MetadataRefused as exc:
            raise ValueError(str(exc)) from None
        return value


class ExtractParams(ConversionParams):
    """What archived objects (or files) encapsulate, given back as the files that went in."""

    frame: int | None = Field(default=None, ge=1,
                              description="JPEG images: this frame only (default: every frame)")

    @model_validator(mode="after")
    def _not_into_the_archive(self) -> ExtractParams:
        if self.output == OutputKind.ARCHIVE:
            raise ValueError("extracted documents and videos go to a ZIP or a folder, not "
                             "into the archive")
        return self


class UidPolicy(StrEnum):
    KEEP = "keep"
    NEW = "new"  # new Study, Series and SOP Instance UIDs, references in the set remapped


class Originals(StrEnum):
    REPLACE = "replace"  # the edited files take the originals' place (kept until success)
    KEEP = "keep"  # the edited files are new instances beside the originals


class ChangeSource(StrEnum):
    FORM = "form"
    DCMODIFY = "dcmodify"
    XML = "xml"
    JSON = "json"


class ChangeRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=512)
    action: str = Field(default="insert", description="modify, insert or remove")
    value: str | None = None
    vr: str | None = Field(default=None, max_length=2)


class EditParams(ConversionParams):
    """Attributes set, inserted or removed in archived instances, series or studies."""

    changes: list[ChangeRow] = Field(default_factory=list, description="Structured changes")
    dcmodify: str | None = Field(default=None, max_length=TEXT_LIMIT,
                                 description="Or dcmodify-style lines: -m/-i/-e \"tag=value\"")
    xml: str | None = Field(default=None, max_length=TEXT_LIMIT,
                            description="Or a PS3.19 XML data set: its attributes inserted")
    json_update: str | None = Field(default=None, max_length=TEXT_LIMIT, alias="json",
                                    description="Or a PS3.18 JSON data set: its attributes "
                                                "inserted")
    uids: UidPolicy = Field(default=UidPolicy.KEEP, description="keep, or new UIDs for the set")
    originals: Originals = Field(default=Originals.REPLACE,
                                 description="replace the originals or keep them beside")
    output: OutputKind = Field(default=OutputKind.ARCHIVE, description="Where the results go")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_change_source(self) -> EditParams:
        given = [name for name, value in (
            ("changes", self.changes), ("dcmodify", self.dcmodify), ("xml", self.xml),
            ("json", self.json_update)) if value]
        if len(given) != 1:
            raise ValueError("give the changes one way: \"changes\", \"dcmodify\", \"xml\" or "
                             "\"json\" — exactly one of them")
        if self.output == OutputKind.ARCHIVE and not self.from_archive:
            raise ValueError("files from a server path or an upload are edited into a ZIP "
                             "or a folder; archive objects are edited in the archive")
        if self.output != OutputKind.ARCHIVE and self.from_archive and \
                self.originals == Originals.REPLACE:
            self.originals = Originals.KEEP  # a copy goes out: the archive stays as it is
        if self.from_archive and self.output == OutputKind.ARCHIVE and \
                self.originals == Originals.KEEP and self.uids == UidPolicy.KEEP:
            raise ValueError("keeping the originals beside the edited copies needs new UIDs "
                             "(\"uids\": \"new\"): one SOP Instance UID is one instance")
        self._changes_apply()
        return self

    def _changes_apply(self) -> None:
        """The changes parse, their values are valid for their VRs, and they can be applied
        to the first archived instance of the set (no Type 1 attribute removed, no file meta
        edit that would make the file unreadable): else a clear error now, not a failed job."""
        from archive.objects.edit import EditRefused, check_changes
        from archive.objects.jobs.edit import first_dataset, parse_changes

        try:
            changes = parse_changes(self)
            ds = first_dataset(self) if self.from_archive else None
            if ds is not None:
                check_changes(ds, changes)
        except EditRefused as exc:
            raise ValueError(str(exc)) from None

    @property
    def change_source(self) -> ChangeSource:
        if self.changes:
            return ChangeSource.FORM
        if self.dcmodify:
            return ChangeSource.DCMODIFY
        return ChangeSource.XML if self.xml else ChangeSource.JSON

    def change_text(self) -> str:
        return self.dcmodify or self.xml or self.json_update or ""


def dumped(params: BaseModel) -> dict[str, Any]:
    return params.model_dump(mode="json", by_alias=True)
