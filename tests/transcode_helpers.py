"""Helpers for the transcode tests: source pixels decoded by pydicom, our outputs decoded by
DCMTK or GDCM (the independent oracles), and the checks of dcmdump, gdcminfo and dciodvfy."""

from __future__ import annotations

import functools
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    HTJ2KLossless,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from tests.archive_helpers import CORPUS

# the DCMTK (or GDCM) command that decodes each syntax back to Explicit VR Little Endian
PEER_DECODERS: dict[UID, list[str]] = {
    JPEGBaseline8Bit: ["dcmdjpeg"], JPEGExtended12Bit: ["dcmdjpeg"],
    JPEGLosslessSV1: ["dcmdjpeg"], JPEGLSLossless: ["dcmdjpls"],
    JPEGLSNearLossless: ["dcmdjpls"], RLELossless: ["dcmdrle"],
    JPEG2000Lossless: ["gdcmconv", "--raw"], JPEG2000: ["gdcmconv", "--raw"],
}
PYDICOM_ONLY = (HTJ2K, HTJ2KLossless)  # neither DCMTK nor GDCM here decodes HTJ2K
# GDCM 3.0 limits, checked on DCMTK's and GDCM's own outputs of the same files: gdcminfo
# fails (rc 1) on dcmcrle's and dcmcjpls's output of 7-of-8-bit JLSL_08_07_0_1F, and GDCM
# neither writes nor reads JPEG 2000 of 16-bit RGB (gdcmconv --j2k SC_rgb_16bit_2frame fails)
GDCM_CANNOT = {("JLSL_08_07_0_1F.dcm", RLELossless), ("JLSL_08_07_0_1F.dcm", JPEGLSLossless),
               ("SC_rgb_16bit_2frame.dcm", JPEG2000Lossless),
               ("SC_rgb_expb_16bit_2frame.dcm", JPEG2000Lossless),
               ("SC_rgb_16bit.dcm", JPEG2000Lossless),
               ("SC_rgb_expb_16bit.dcm", JPEG2000Lossless)}


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=60,
                          check=False)


def pixels(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(path).pixel_array


@functools.lru_cache(maxsize=64)
def source_pixels(name: str) -> Any:
    return pixels(CORPUS / name)


def decodable(name: str) -> bool:
    try:
        source_pixels(name)
    except Exception:
        return False
    return True


def corpus_names(max_decoded_bytes: int) -> list[str]:
    """Corpus files whose decoded pixel data (INDEX.tsv: rows × columns × frames × samples ×
    bits allocated) is at most ``max_decoded_bytes``, in name order."""
    names = []
    for line in (CORPUS / "INDEX.tsv").read_text().splitlines()[1:]:
        name, _, _, size, frames, photometric, bits, _ = line.split("\t")
        rows, columns = (int(part) for part in size.split("x"))
        samples = 3 if photometric.startswith(("RGB", "YBR")) else 1
        decoded = rows * columns * int(frames) * samples * max(1, int(bits)) // 8
        if decoded <= max_decoded_bytes:
            names.append(name)
    return names


def _syntax(path: Path) -> UID:
    return UID(str(dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID))


def peer_decoded(path: Path, work: Path, source: str = "") -> Any:
    """Our output decoded by DCMTK / GDCM into Explicit VR LE, then read by pydicom (which
    only reads native bytes then)."""
    syntax = _syntax(path)
    if syntax in PYDICOM_ONLY or (source, syntax) in GDCM_CANNOT:
        return pixels(path)
    command = PEER_DECODERS.get(syntax, ["dcmconv", "+te"])
    native = work / f"{path.stem}.peer.dcm"
    if command[0] == "gdcmconv":
        done = run([*command, "-i", str(path), "-o", str(native)])
    else:
        done = run([*command, str(path), str(native)])
    assert done.returncode == 0, f"{command[0]} failed on {path.name}: {done.stderr}"
    return pixels(native)


def assert_readable_by_peers(path: Path, source: str = "") -> None:
    """dcmdump and gdcminfo read the file with no error and nothing on stderr (GDCM 3.0
    here does not know the HTJ2K syntaxes: dcmdump only for those)."""
    syntax = _syntax(path)
    commands = [["dcmdump", "-q", str(path)]]
    # GDCM here is built without 12-bit JPEG ("Unsupported JPEG data precision 12")
    twelve_bit = syntax == JPEGExtended12Bit and dcmread(path, stop_before_pixels=True) \
        .BitsAllocated == 16
    if syntax not in PYDICOM_ONLY and (source, syntax) not in GDCM_CANNOT and not twelve_bit:
        commands.append(["gdcminfo", str(path)])
    for command in commands:
        done = run(command)
        assert done.returncode == 0 and not done.stderr.strip(), (
            f"{command[0]} on {path.name}: rc {done.returncode}: {done.stderr[:500]}")


def dciodvfy_errors(path: Path) -> set[str]:
    """dciodvfy's error lines (the part after "Error - "). dciodvfy cannot read Deflated
    files (not even DCMTK's own): those are inflated by ``dcmconv +te`` first."""
    if _syntax(path) == DeflatedExplicitVRLittleEndian:
        inflated = path.with_suffix(".inflated.dcm")
        assert run(["dcmconv", "+te", str(path), str(inflated)]).returncode == 0
        path = inflated
    done = run(["dciodvfy", "-new", str(path)])
    text = done.stdout + done.stderr
    return {line.split(" - ", 1)[-1].strip() for line in text.splitlines()
            if line.startswith("Error")}


def same_values(ours: np.ndarray, reference: np.ndarray) -> bool:
    return ours.shape == reference.shape and bool(np.array_equal(ours, reference))
