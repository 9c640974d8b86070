"""Oracles for rendering and image info: decoded pixel values equal DCMTK's decompression of
the same lossless files; windowed 8-bit output equals dcmj2pnm's; lossy detection reads the
stream headers; the pixel MD5 is the MD5 of DCMTK's decoded values."""

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from archive.inspect.info import image_info
from archive.rendering import RenderRefused, Window, decode_frame, render
from tests.archive_helpers import corpus
from tests.peers import require_tool

DECOMPRESSOR = {
    "1.2.840.10008.1.2.5": "dcmdrle",
    "1.2.840.10008.1.2.4.80": "dcmdjpls",
    "1.2.840.10008.1.2.4.57": "dcmdjpeg",
    "1.2.840.10008.1.2.4.70": "dcmdjpeg",
}
LOSSLESS = ["emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm", "JPEG-LL.dcm",
            "JPGLosslessP14SV1_1s_1f_8b.dcm", "OBXXXX1A_rle.dcm",
            "693_UNCI.dcm", "US1_UNCR.dcm"]


def dcmtk_decoded(path: Path, tmp_path: Path) -> Path:
    """The file with its pixel data decompressed by DCMTK (or as it is if uncompressed)."""
    ts = str(dcmread(path, stop_before_pixels=True, force=True).file_meta.TransferSyntaxUID)
    if path.read_bytes()[128:132] != b"DICM":  # DCMTK's tools want the Part 10 header
        fixed = tmp_path / "part10.dcm"
        dcmread(path, force=True).save_as(fixed, enforce_file_format=True)
        path = fixed
    tool = DECOMPRESSOR.get(ts)
    if tool is None:
        return path
    out = tmp_path / "decoded.dcm"
    subprocess.run([require_tool(tool), str(path), str(out)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("name", LOSSLESS)
def test_decoded_values_equal_dcmtk(name: str, tmp_path: Path) -> None:
    path = corpus(name)
    ours, _ = decode_frame(path, 0)
    reference = dcmread(dcmtk_decoded(path, tmp_path), force=True)
    theirs = reference.pixel_array
    if int(reference.get("NumberOfFrames", 1) or 1) > 1:
        theirs = theirs[0]
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)


def test_headerless_jpeg_ls_interleave_modes_decode_alike() -> None:
    # No Part 10 header and no SOP Instance UID: no DCMTK oracle, but the three interleave
    # modes of one image must decode to the same (non-blank) pixels.
    frames = [decode_frame(corpus(f"JLSL_RGB_ILV{mode}.dcm"), 0)[0] for mode in range(3)]
    assert frames[0].shape == (256, 256, 3) and frames[0].std() > 0
    assert all(np.array_equal(frames[0], other) for other in frames[1:])


@pytest.mark.parametrize(("compressed", "native"), [
    ("liver_rle.dcm", "liver.dcm"),
    ("liver_nonbyte_aligned_rle.dcm", "liver_nonbyte_aligned.dcm"),
])
def test_one_bit_rle_frames_equal_the_native_copy(compressed: str, native: str) -> None:
    # DCMTK cannot decode 1-bit RLE; the corpus has the same segmentation uncompressed.
    reference = dcmread(corpus(native)).pixel_array
    for frame in range(reference.shape[0]):
        ours, _ = decode_frame(corpus(compressed), frame)
        assert np.array_equal(ours, reference[frame])


@pytest.mark.parametrize("name", ["emri_small_RLE.dcm", "JPEG-LL.dcm", "OBXXXX1A_rle.dcm"])
def test_pixel_md5_is_that_of_dcmtks_decoded_values(name: str, tmp_path: Path) -> None:
    theirs = dcmread(dcmtk_decoded(corpus(name), tmp_path)).pixel_array
    expected = hashlib.md5(np.ascontiguousarray(theirs).astype(
        theirs.dtype.newbyteorder("<")).tobytes()).hexdigest()
    assert image_info(corpus(name)).pixel_md5 == expected


def dcmj2pnm(path: Path, tmp_path: Path, *options: str) -> np.ndarray:
    out = tmp_path / "dcmtk.pnm"
    subprocess.run([require_tool("dcmj2pnm"), *options, str(path), str(out)], check=True,
                   capture_output=True)
    return np.asarray(Image.open(out))


@pytest.mark.parametrize(("name", "center", "width"), [
    ("693_UNCI.dcm", 40.0, 400.0), ("693_UNCI.dcm", -600.0, 1500.0),
    ("MR2_UNCI.dcm", 600.0, 1200.0), ("emri_small.dcm", 200.0, 500.0),
])
def test_windowed_output_equals_dcmj2pnm(name: str, center: float, width: float,
                                          tmp_path: Path) -> None:
    ours = np.asarray(render(corpus(name), 0, Window(center, width)), dtype=int)
    theirs = dcmj2pnm(corpus(name), tmp_path, "+Ww", str(center), str(width)).astype(int)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1


def test_file_window_and_monochrome1_inversion_equal_dcmj2pnm(tmp_path: Path) -> None:
    # A MONOCHROME1 CR, decompressed by pydicom (the corpus has it as JPEG 2000 only).
    ds = dcmread(corpus("RG3_J2KR.dcm"))
    ds.decompress(generate_instance_uid=False)
    path = tmp_path / "mono1.dcm"
    ds.save_as(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    ours = np.asarray(render(path, 0), dtype=int)  # window from the file
    theirs = dcmj2pnm(path, tmp_path, "+Wi", "1").astype(int)
    assert np.abs(ours - theirs).max() <= 1


@pytest.mark.parametrize("name", ["OBXXXX1A.dcm", "SC_ybr_full_uncompressed.dcm",
                                  "US1_UNCR.dcm"])
def test_palette_ybr_and_rgb_colour_equal_dcmj2pnm(name: str, tmp_path: Path) -> None:
    ours = np.asarray(render(corpus(name), 0), dtype=int)
    theirs = dcmj2pnm(corpus(name), tmp_path).astype(int)
    assert ours.shape == theirs.shape == (*theirs.shape[:2], 3)
    # YBR_FULL → RGB: pydicom and DCMTK round the conversion differently (at most 2 levels).
    tolerance = 2 if "ybr" in name else 1
    assert np.abs(ours - theirs).max() <= tolerance


def test_lossy_detection_reads_the_stream_headers(tmp_path: Path) -> None:
    # JPEG 2000 whose transfer syntax allows both: the 9-7 wavelet says lossy.
    ds = dcmread(corpus("MR2_J2KI.dcm"))
    del ds.LossyImageCompression
    path = tmp_path / "j2k.dcm"
    ds.save_as(path)
    info = image_info(path)
    assert info.lossy is True and "9-7 irreversible" in info.lossy_reason
    near = image_info(corpus("JLSN_RGB_ILV0.dcm"))
    assert near.lossy is True and "NEAR = 3" in near.lossy_reason
    assert image_info(corpus("JLSL_RGB_ILV0.dcm")).lossy is False
    assert image_info(corpus("HTJ2KLossless_08_RGB.dcm")).lossy is False
    facts = dict(image_info(corpus("693_UNCI.dcm")).facts)
    assert facts["Orientation"].startswith("AXIAL")
    assert facts["Dimensions"] == "512 × 512 × 1 frame(s)"


def test_budget_and_bad_frames_are_refused_clearly(settings: Any) -> None:
    with pytest.raises(RenderRefused, match="Frame 3 does not exist"):
        render(corpus("SC_rgb_2frame.dcm"), 2)
    settings.RENDER_MAX_PIXELS = 1000
    with pytest.raises(RenderRefused, match="over the rendering budget"):
        render(corpus("693_UNCI.dcm"), 0)
