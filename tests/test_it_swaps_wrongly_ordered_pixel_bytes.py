"""Swap bytes (swappxdata): a copy of a corpus file with its pixel bytes swapped but its
transfer syntax still little endian is detected as needing it and repaired — DCMTK renders the
fixed file exactly like the well-formed original, GDCM extracts the same pixel bytes, and the
file is byte for byte the well-formed one (same UIDs); well-formed files are left alone."""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from archive.conversions.outcome import ConversionFailed, ConversionSkipped
from archive.conversions.swap import SwapOptions, swap_file
from tests.archive_helpers import corpus
from tests.peers import require_tool

# (file, why it is interesting); DCMTK renders all but the segmented-palette ALOKA.
CASES = [
    ("693_UNCI.dcm", "CT, signed, 14 of 16 bits stored"),
    ("MR2_UNCI.dcm", "MR 1024², unsigned, 12 of 16 bits"),
    ("emri_small.dcm", "multi-frame MR, 10 frames"),
    ("JPEG2000_UNC.dcm", "NM, 16 of 16 bits: decided by smoothness"),
    ("eCT_Supplemental.dcm", "enhanced CT, 2 frames, 16 of 16 bits"),
    ("gdcm-US-ALOKA-16.dcm", "implicit VR, 16-bit palette with the image in the high byte"),
]
DCMTK_CANNOT = {"gdcm-US-ALOKA-16.dcm"}  # "segmented palettes not yet supported"


def well_formed_and_broken(name: str, tmp_path: Path) -> tuple[Path, Path]:
    """The corpus file as pydicom writes it, and the same with every 16-bit sample's bytes
    swapped (transfer syntax unchanged)."""
    ds = dcmread(corpus(name))
    good = tmp_path / "good" / name
    good.parent.mkdir()
    ds.save_as(good)
    ds.PixelData = np.frombuffer(ds.PixelData, dtype="<u2").byteswap().tobytes()
    broken = tmp_path / "broken" / name
    broken.parent.mkdir()
    ds.save_as(broken)
    return good, broken


def dcmj2pnm(path: Path, frame: int, out: Path) -> bytes:
    subprocess.run([require_tool("dcmj2pnm"), "+F", str(frame), str(path), str(out)],
                   check=True, capture_output=True)
    return out.read_bytes()


def gdcm_pixel_bytes(path: Path, out: Path) -> bytes:
    subprocess.run([require_tool("gdcmraw"), "-t", "7fe0,0010", "-i", str(path), "-o",
                    str(out)], check=True, capture_output=True)
    return out.read_bytes()


@pytest.mark.parametrize(("name", "why"), CASES)
def test_a_swapped_copy_is_detected_and_repaired(name: str, why: str, tmp_path: Path) -> None:
    good, broken = well_formed_and_broken(name, tmp_path)
    result = swap_file(broken, tmp_path / "out", SwapOptions())
    assert result.message.startswith("needed: "), (why, result.message)
    assert result.metrics["needed"] == 1.0
    fixed = result.outputs[0].path
    assert result.outputs[0].name == name
    assert result.outputs[0].sop_instance_uid == dcmread(good).SOPInstanceUID
    # A repair: everything but the pixel bytes was copied, so the file is the well-formed one.
    assert fixed.read_bytes() == good.read_bytes()
    assert gdcm_pixel_bytes(fixed, tmp_path / "f.raw") == gdcm_pixel_bytes(good,
                                                                            tmp_path / "g.raw")
    if name in DCMTK_CANNOT:
        return
    frames = int(dcmread(good, stop_before_pixels=True).get("NumberOfFrames", 1) or 1)
    for frame in sorted({1, frames}):
        original = dcmj2pnm(good, frame, tmp_path / "good.pnm")
        assert dcmj2pnm(broken, frame, tmp_path / "broken.pnm") != original  # it was broken
        assert dcmj2pnm(fixed, frame, tmp_path / "fixed.pnm") == original


@pytest.mark.parametrize(("name", "why"), CASES)
def test_a_well_formed_file_does_not_need_it(name: str, why: str, tmp_path: Path) -> None:
    with pytest.raises(ConversionSkipped, match=r"^byte order already right: "):
        swap_file(corpus(name), tmp_path, SwapOptions())
    assert not any(tmp_path.iterdir())


def test_without_only_if_wrong_it_swaps_anyway_and_says_so(tmp_path: Path) -> None:
    result = swap_file(corpus("emri_small.dcm"), tmp_path, SwapOptions(only_if_wrong=False))
    assert result.message.startswith("not needed (swapped anyway): ")
    assert result.frames == 10
    ours = np.frombuffer(dcmread(result.outputs[0].path).PixelData, dtype="<u2")
    source = np.frombuffer(dcmread(corpus("emri_small.dcm")).PixelData, dtype="<u2")
    assert np.array_equal(ours, source.byteswap())


def eight_bit_implicit(tmp_path: Path) -> Path:
    ds = dcmread(corpus("vlut_04.dcm"))
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    path = tmp_path / "eight.dcm"
    ds.save_as(path, implicit_vr=True, little_endian=True)
    return path


def no_pixel_data(tmp_path: Path) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "SR"
    path = tmp_path / "sr.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(("make", "reason"), [
    (lambda tmp: corpus("693_J2KR.dcm"), "^compressed pixel data"),
    (lambda tmp: corpus("SC_rgb_16bit.dcm"), "^pixel data with Value Representation OB"),
    (lambda tmp: corpus("emri_small_big_endian.dcm"), "^big endian transfer syntax"),
    (eight_bit_implicit, "^pixel data with 8 bits allocated"),
    (no_pixel_data, "^no pixel data"),
])
def test_swappxdatas_reasons_to_leave_a_file_alone(make: object, reason: str,
                                                     tmp_path: Path) -> None:
    assert callable(make)
    with pytest.raises(ConversionSkipped, match=reason):
        swap_file(make(tmp_path), tmp_path / "out", SwapOptions(only_if_wrong=False))


def test_truncated_pixel_data_fails_with_the_reason(tmp_path: Path) -> None:
    data = corpus("MR2_UNCI.dcm").read_bytes()
    path = tmp_path / "short.dcm"
    path.write_bytes(data[:-1000])
    with pytest.raises(ConversionFailed, match="truncated"):
        swap_file(path, tmp_path / "out", SwapOptions())
    with pytest.raises(ConversionFailed, match="End of file"):  # DCMTK: "Reached end of stream"
        swap_file(corpus("emri_small_jpeg_2k_lossless_too_short.dcm"), tmp_path / "out",
                  SwapOptions())


def test_deflated_files_are_repaired_too(tmp_path: Path) -> None:
    ds = dcmread(corpus("emri_small.dcm"))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    good = tmp_path / "good.dcm"
    ds.save_as(good)
    ds.PixelData = np.frombuffer(ds.PixelData, dtype="<u2").byteswap().tobytes()
    broken = tmp_path / "broken.dcm"
    ds.save_as(broken)
    result = swap_file(broken, tmp_path / "out", SwapOptions())
    assert result.message.startswith("needed: ")
    fixed = result.outputs[0].path
    assert dcmread(fixed).file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    for frame in (1, 10):
        assert dcmj2pnm(fixed, frame, tmp_path / "f.pnm") == dcmj2pnm(good, frame,
                                                                      tmp_path / "g.pnm")


def test_a_large_multi_frame_file_is_swapped_in_bounded_memory(tmp_path: Path) -> None:
    ds = dcmread(corpus("693_UNCI.dcm"))
    frame = np.frombuffer(ds.PixelData, dtype="<u2")
    frames = 100  # 52 MB of pixel data
    ds.NumberOfFrames = frames
    ds.PixelData = np.tile(frame.byteswap(), frames).tobytes()
    broken = tmp_path / "big.dcm"
    ds.save_as(broken)
    del ds
    tracemalloc.start()
    try:
        result = swap_file(broken, tmp_path / "out", SwapOptions())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak  # measured 12.6 MB: one 4 MiB chunk, not the pixel data
    fixed = np.fromfile(result.outputs[0].path, dtype="<u2")[-frame.size * frames:]
    assert np.array_equal(fixed.reshape(frames, -1), np.tile(frame, (frames, 1)))
