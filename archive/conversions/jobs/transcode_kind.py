"""The ``transcode`` job kind (dcm2dcm, gdcmconv): to any transfer syntax of
``archive.conversions.syntaxes``."""

from __future__ import annotations

import shlex
from pathlib import Path

from archive.conversions.jobs.forms import TranscodeForm
from archive.conversions.jobs.kinds import (
    conversion_kind,
    destination,
    quoted,
    source_files,
    what,
    where,
)
from archive.conversions.jobs.names import ConversionKind
from archive.conversions.jobs.params import TranscodeParams
from archive.conversions.jobs.run import CONVERSIONS, Conversion
from archive.conversions.outcome import FileConversion
from archive.conversions.transcode import TranscodeOptions, transcode_file
from archive.conversions.transcode import command_lines as transcode_commands
from netjobs.jobs.base import CommandLine


def transcode_options(params: TranscodeParams) -> TranscodeOptions:
    return TranscodeOptions(
        target=params.target, quality=params.quality, near=params.near or 2,
        j2k_ratio=params.j2k_ratio, j2k_psnr=params.j2k_psnr, new_uid=params.new_uid,
        fragment_size=params.fragment_size, planar_configuration=params.planar_configuration,
        uid_root=None)


def _transcode(source: Path, out_dir: Path, params: TranscodeParams) -> FileConversion:
    return transcode_file(source, out_dir, transcode_options(params))


CONVERSIONS[ConversionKind.TRANSCODE] = Conversion(_transcode)


def describe_transcode(params: TranscodeParams) -> str:
    return f"Transcode {what(params)} to {params.target.label} {where(params)}"


def transcode_command_lines(params: TranscodeParams) -> list[CommandLine]:
    files = source_files(params)
    first = files[0] if files else "<file>"
    return [CommandLine(tool, command) for tool, command in transcode_commands(
        transcode_options(params), quoted([first]), shlex.quote(destination(params)))]


TRANSCODE_KIND = conversion_kind(
    ConversionKind.TRANSCODE, "Transcode (dcm2dcm, gdcmconv)", TranscodeParams, TranscodeForm,
    describe_transcode, transcode_command_lines)
