"""The parameters of the conversion kinds, as forms and ``POST /api/jobs`` give them."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from archive.conversions.images import ImageFormat, WindowChoice, presets
from archive.conversions.jobs.roots import allowed_export_folder
from archive.conversions.syntaxes import TargetSyntax
from archive.imports.params import allowed_path, staged_upload


class OutputKind(StrEnum):
    ARCHIVE = "archive"
    ZIP = "zip"
    FOLDER = "folder"

    @property
    def label(self) -> str:
        return {OutputKind.ARCHIVE: "Into the archive",
                OutputKind.ZIP: "A ZIP download",
                OutputKind.FOLDER: "A folder under an export root"}[self]


class SourceParams(BaseModel):
    """What a job reads: archived studies/series/instances, a server path or an upload."""

    model_config = ConfigDict(extra="forbid")

    studies: list[int] = Field(default_factory=list, description="Archived studies (IDs)")
    series: list[int] = Field(default_factory=list, description="Archived series (IDs)")
    instances: list[int] = Field(default_factory=list, description="Archived instances (IDs)")
    path: str | None = Field(default=None, description="Or a server path under an import root")
    upload: str | None = Field(default=None, description="Or the ID of a staged browser upload")
    only: list[str] = Field(default_factory=list,
                            description="Just these source files (names as in the job's items)")

    _check_path = field_validator("path")(allowed_path)
    _check_upload = field_validator("upload")(staged_upload)

    @model_validator(mode="after")
    def _one_source(self) -> SourceParams:
        archived = bool(self.studies or self.series or self.instances)
        given = sum([archived, self.path is not None, self.upload is not None])
        if given != 1:
            raise ValueError("give archive studies/series/instances, a server path or an "
                             "upload — exactly one of them")
        return self

    @property
    def from_archive(self) -> bool:
        return bool(self.studies or self.series or self.instances)


class ConversionParams(SourceParams):
    """What every conversion reads and where its outputs go."""

    output: OutputKind = Field(default=OutputKind.ZIP, description="Where the results go")
    folder: str | None = Field(default=None,
                               description="With output 'folder': a folder under an export root")

    _check_folder = field_validator("folder")(allowed_export_folder)

    @model_validator(mode="after")
    def _an_output(self) -> ConversionParams:
        if self.output == OutputKind.FOLDER and not self.folder:
            raise ValueError("output 'folder' needs a folder under an export root")
        if self.output != OutputKind.FOLDER and self.folder:
            raise ValueError("a folder is given only with output 'folder'")
        return self


class TranscodeParams(ConversionParams):
    target: TargetSyntax = Field(default=TargetSyntax.EXPLICIT_LE,
                                 description="The transfer syntax to write")
    lossy: bool = Field(default=False, description="Must be true for a lossy target")
    quality: int | None = Field(default=None, ge=1, le=100,
                                description="JPEG / HTJ2K lossy quality (default 90)")
    near: int | None = Field(default=None, ge=1, le=255,
                             description="JPEG-LS near-lossless NEAR (default 2)")
    j2k_ratio: float | None = Field(default=None, gt=1, le=1000,
                                    description="JPEG 2000 lossy compression ratio (e.g. 10)")
    j2k_psnr: float | None = Field(default=None, gt=0, le=200,
                                   description="Or a JPEG 2000 lossy PSNR target in dB")
    new_uid: bool = Field(default=False,
                          description="Give the results new SOP Instance UIDs (lossy: always)")
    fragment_size: int | None = Field(
        default=None, ge=2, description="Split each frame into fragments of at most this many "
                                        "bytes (default: one fragment per frame)")
    planar_configuration: Literal[0, 1] | None = Field(
        default=None, description="Colour by pixel (0) or by plane (1); default: as is")

    @model_validator(mode="after")
    def _lossy_is_confirmed(self) -> TranscodeParams:
        if self.target.is_lossy and not self.lossy:
            raise ValueError(f"{self.target.label} is lossy: confirm it with \"lossy\": true")
        if self.target.is_lossy:
            self.new_uid = True  # PS3.3 C.7.6.1.1.5: a lossy result is a new instance
        if self.j2k_ratio is not None and self.j2k_psnr is not None:
            raise ValueError("give a JPEG 2000 ratio or a PSNR target, not both")
        if self.planar_configuration is not None and self.target.is_encapsulated:
            raise ValueError(f"{self.target.label} sets its own planar configuration; it is "
                             "chosen only for uncompressed targets")
        return self


class SplitParams(ConversionParams):
    frames: list[int] = Field(default_factory=list,
                              description="1-based frame numbers (default: every frame)")

    @field_validator("frames")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(number < 1 for number in value):
            raise ValueError("frame numbers start at 1")
        return sorted(set(value))


class SwapParams(ConversionParams):
    only_if_wrong: bool = Field(
        default=True, description="Swap only files whose pixel data looks wrongly ordered")


class ExportImagesParams(ConversionParams):
    format: ImageFormat = Field(default=ImageFormat.PNG, description="png, jpeg or gif")
    quality: int = Field(default=90, ge=1, le=100, description="JPEG quality")
    window: WindowChoice = Field(default=WindowChoice.FILE,
                                 description="The file's window, a preset or a typed one")
    preset: str | None = Field(default=None, description="With window 'preset': its name")
    center: float | None = Field(default=None, description="With a typed window: its center")
    width: float | None = Field(default=None, ge=1, description="With a typed window: width")
    frame_delay_ms: int | None = Field(default=None, ge=10, le=10000,
                                       description="GIF: milliseconds per frame")

    @model_validator(mode="after")
    def _window_and_output(self) -> ExportImagesParams:
        if self.output == OutputKind.ARCHIVE:
            raise ValueError("images go to a ZIP or a folder, not into the archive")
        if self.window == WindowChoice.PRESET and self.preset not in presets():
            raise ValueError(f"window 'preset' needs a preset: one of {', '.join(presets())}")
        if self.window == WindowChoice.TYPED and (self.center is None or self.width is None
                                                  or self.width < 1):
            raise ValueError("a typed window needs a center and a width of at least 1")
        return self
