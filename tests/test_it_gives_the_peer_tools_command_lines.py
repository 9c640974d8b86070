"""The equivalent dcm2dcm, gdcmconv and DCMTK command lines: each option spelled as the
installed tool's --help spells it, each tool only where it can write the target, and the
GDCM and DCMTK commands, run on a corpus file, write the target syntax."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from pydicom import dcmread

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode import TranscodeOptions, command_lines
from tests.archive_helpers import corpus
from tests.transcode_helpers import run

pytestmark = pytest.mark.dcmtk

T = TargetSyntax
OPTIONS = [
    TranscodeOptions(target=target) for target in TargetSyntax
] + [
    TranscodeOptions(target=T.JPEG_BASELINE, quality=75),
    TranscodeOptions(target=T.JPEG_LS_NEAR_LOSSLESS, near=4),
    TranscodeOptions(target=T.J2K_LOSSY, j2k_psnr=45.0),
    TranscodeOptions(target=T.J2K_LOSSY, j2k_ratio=20.0),
    TranscodeOptions(target=T.RLE, fragment_size=4096, new_uid=True),
    TranscodeOptions(target=T.EXPLICIT_LE, planar_configuration=1),
]


def _help(tool: str) -> str:
    done = run([tool, "--help"])
    return done.stdout + done.stderr


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o.target}")
def test_every_option_is_one_the_tool_knows(options: TranscodeOptions) -> None:
    for tool_set, command in command_lines(options, "in.dcm", "out.dcm"):
        words = shlex.split(command)
        if tool_set == "dcm4che":  # not installed here: its README's options
            assert words[:3] == ["dcm2dcm", "-t", options.target.uid]
            continue
        assert shutil.which(words[0]), words[0]
        known = _help(words[0])
        for word in words[1:]:
            if word.startswith(("-", "+")):
                assert f" {word} " in known or f" {word}\n" in known, f"{word} in {command}"


def test_tools_that_cannot_write_a_target_are_left_out() -> None:
    tools = {tool for tool, _ in command_lines(TranscodeOptions(target=T.HTJ2K_LOSSLESS),
                                               "a", "b")}
    assert tools == set()
    tools = {tool for tool, _ in command_lines(TranscodeOptions(target=T.J2K_LOSSLESS),
                                               "a", "b")}
    assert tools == {"dcm4che", "GDCM"}  # DCMTK has no JPEG 2000 codec
    tools = {tool for tool, _ in command_lines(TranscodeOptions(target=T.EXPLICIT_BE),
                                               "a", "b")}
    assert tools == {"dcm4che", "DCMTK"}  # gdcmconv writes no big endian


@pytest.mark.parametrize("options", [
    TranscodeOptions(target=T.JPEG_LS_LOSSLESS), TranscodeOptions(target=T.RLE),
    TranscodeOptions(target=T.JPEG_LOSSLESS_SV1), TranscodeOptions(target=T.J2K_LOSSLESS),
    TranscodeOptions(target=T.JPEG_LS_NEAR_LOSSLESS, near=3),
    TranscodeOptions(target=T.EXPLICIT_BE),
], ids=lambda o: f"{o.target}")
def test_the_commands_write_the_target(options: TranscodeOptions, tmp_path: Path) -> None:
    # not 693_UNCI: gdcmconv --lossy refuses a source that is already lossy ("could not derive")
    source = str(corpus("MR-SIEMENS-DICOM-WithOverlays.dcm"))
    for tool_set, command in command_lines(options, source, str(tmp_path / "out.dcm")):
        if tool_set == "dcm4che":
            continue
        done = run(shlex.split(command))
        assert done.returncode == 0, f"{command}: {done.stderr}"
        written = dcmread(tmp_path / "out.dcm", stop_before_pixels=True)
        assert written.file_meta.TransferSyntaxUID == options.target.uid, command
