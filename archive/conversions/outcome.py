"""What every converter hands back for one source file, and how it refuses one.

A converter is a plain function ``(source: Path, out_dir: Path, options) -> FileConversion``.
It writes its outputs into ``out_dir`` (a folder of its own per call) and never touches the
archive index; the job layer decides where the outputs go (archive, ZIP, export folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class ConversionSkipped(Exception):
    """Nothing to convert in this file, and that is not an error (an SR has no pixel data,
    the pixel data is already in the right byte order…): the message says why."""


class ConversionFailed(Exception):
    """This file cannot be converted (unsupported bits, odd photometric interpretation,
    truncated pixel data…): the message says why, for the operator."""


@dataclass(frozen=True)
class OutputFile:
    path: Path  # written by the converter under its out_dir
    name: str  # the file's name in a ZIP or an export folder, e.g. "IM0001.dcm"
    sop_instance_uid: str = ""  # DICOM outputs only
    is_dicom: bool = True

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class FileConversion:
    """The outcome for one source file."""

    outputs: list[OutputFile]
    input_bytes: int
    frames: int = 0
    message: str = ""  # one line for the job item, e.g. "JPEG-LS Lossless, 3.1:1"
    warnings: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)  # psnr_db, max_error, ratio…

    @property
    def output_bytes(self) -> int:
        return sum(output.size for output in self.outputs)
