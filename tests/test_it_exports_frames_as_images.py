"""Export images (dcm2jpg / gdcm2pnm): our PNG of every frame equals DCMTK's dcmj2pnm with the
same window to within one grey level (file window, min-max, preset, typed; MONOCHROME1, palette,
RGB, YBR, multi-frame, big endian, enhanced, JPEG 2000 — DCMTK reads GDCM's decompression of
those, as Debian's DCMTK has no JPEG 2000 decoder); JPEG decodes close to the PNG; an animated
GIF has every frame; objects without pixels are skipped and broken pixel data fails."""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from archive.conversions.images import (
    ImageExportOptions,
    ImageFormat,
    WindowChoice,
    export_images,
    presets,
)
from archive.conversions.outcome import ConversionFailed, ConversionSkipped
from tests.archive_helpers import corpus
from tests.peers import require_tool

J2K = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"}
LUNG = presets()["lung"]

FILE = ImageExportOptions()
MINMAX = ImageExportOptions(window=WindowChoice.MINMAX)

CASES = [  # (file, options, dcmj2pnm's window options)
    ("693_UNCI.dcm", FILE, ["+Wi", "1"]),
    ("693_UNCI.dcm", MINMAX, ["+Wm"]),
    ("693_UNCI.dcm", ImageExportOptions(window=WindowChoice.PRESET, preset="lung"),
     ["+Ww", f"{LUNG.center:g}", f"{LUNG.width:g}"]),
    ("MR2_UNCI.dcm", ImageExportOptions(window=WindowChoice.TYPED, center=600, width=1200),
     ["+Ww", "600", "1200"]),
    ("emri_small.dcm", FILE, ["+Wm"]),  # no window in the file: min-max, like dcm2jpg
    ("emri_small_big_endian.dcm", MINMAX, ["+Wm"]),
    ("eCT_Supplemental.dcm", FILE, ["+Ww", "49", "102"]),  # enhanced: Frame VOI LUT group
    ("vlut_04.dcm", FILE, ["+Wl", "1"]),  # the file's VOI LUT
    ("RG3_J2KR.dcm", FILE, ["+Wi", "1"]),  # MONOCHROME1, JPEG 2000
    ("MR2_J2KR.dcm", FILE, ["+Wi", "1"]),
    ("OBXXXX1A_2frame.dcm", FILE, []),  # palette colour, 2 frames
    ("OBXXXX1A_expb.dcm", FILE, []),  # palette colour, big endian
    ("US1_UNCR.dcm", FILE, []),  # RGB
    ("US1_J2KR.dcm", FILE, []),  # YBR_RCT in JPEG 2000
    ("SC_rgb_expb_16bit_2frame.dcm", FILE, []),  # 16-bit RGB, big endian, 2 frames
]


def dcmtk_readable(path: Path, tmp_path: Path) -> Path:
    ts = str(dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    if ts not in J2K:
        return path
    raw = tmp_path / "gdcm-raw.dcm"
    subprocess.run([require_tool("gdcmconv"), "--raw", str(path), str(raw)], check=True,
                   capture_output=True)
    return raw


def dcmj2pnm(path: Path, frame: int, options: list[str], tmp_path: Path) -> np.ndarray:
    out = tmp_path / "dcmtk.pnm"
    subprocess.run([require_tool("dcmj2pnm"), "+F", str(frame), *options, str(path), str(out)],
                   check=True, capture_output=True)
    return np.asarray(Image.open(out), dtype=int)


def frames_in(path: Path) -> int:
    return int(dcmread(path, stop_before_pixels=True).get("NumberOfFrames", 1) or 1)


@pytest.mark.parametrize(("name", "options", "dcmtk"), CASES,
                         ids=[f"{c[0]}-{c[1].window}" for c in CASES])
def test_png_frames_equal_dcmj2pnm(name: str, options: ImageExportOptions, dcmtk: list[str],
                                   tmp_path: Path) -> None:
    result = export_images(corpus(name), tmp_path / "out", options)
    frames = frames_in(corpus(name))
    assert result.frames == frames
    stem = Path(name).stem
    assert [o.name for o in result.outputs] == [f"{stem}_f{i:04d}.png"
                                                for i in range(1, frames + 1)]
    assert not any(o.is_dicom for o in result.outputs)
    reference = dcmtk_readable(corpus(name), tmp_path)
    for number, output in enumerate(result.outputs, start=1):
        ours = np.asarray(Image.open(output.path), dtype=int)
        theirs = dcmj2pnm(reference, number, dcmtk, tmp_path)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() <= 1, f"frame {number}"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(float) - b.astype(float)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("name", ["693_UNCI.dcm", "US1_UNCR.dcm", "emri_small.dcm"])
def test_jpeg_decodes_close_to_the_png(name: str, tmp_path: Path) -> None:
    png = export_images(corpus(name), tmp_path / "png", FILE)
    good = export_images(corpus(name), tmp_path / "q90",
                         ImageExportOptions(format=ImageFormat.JPEG, quality=90))
    poor = export_images(corpus(name), tmp_path / "q20",
                         ImageExportOptions(format=ImageFormat.JPEG, quality=20))
    assert [o.name[-4:] for o in good.outputs] == [".jpg"] * len(png.outputs)
    for exact, fine, coarse in zip(png.outputs, good.outputs, poor.outputs, strict=True):
        reference = np.asarray(Image.open(exact.path))
        with Image.open(fine.path) as decoded:
            assert decoded.format == "JPEG"
            fine_pixels = np.asarray(decoded)
        assert psnr(reference, fine_pixels) >= 35.0  # measured 36.7 (emri) to 49.7 dB (CT)
        assert np.abs(reference.astype(int) - fine_pixels).mean() <= 3.0
        assert psnr(reference, np.asarray(Image.open(coarse.path))) < psnr(reference,
                                                                           fine_pixels)
    assert poor.output_bytes < good.output_bytes


def test_gif_has_every_frame_and_the_file_s_frame_time(tmp_path: Path) -> None:
    ds = dcmread(corpus("emri_small.dcm"))
    ds.FrameTime = 40
    source = tmp_path / "cine.dcm"
    ds.save_as(source)
    result = export_images(source, tmp_path / "gif", ImageExportOptions(format=ImageFormat.GIF))
    assert [o.name for o in result.outputs] == ["cine.gif"]
    png = export_images(source, tmp_path / "png", FILE)
    with Image.open(result.outputs[0].path) as gif:
        assert sum(1 for _ in ImageSequence.Iterator(gif)) == int(ds.NumberOfFrames) == 10
        assert gif.info["duration"] == 40
        for frame, exact in zip(ImageSequence.Iterator(gif), png.outputs, strict=True):
            assert np.array_equal(np.asarray(frame.convert("L")), np.asarray(Image.open(
                exact.path)))  # grey frames are exact in a GIF


def test_palette_gif_frames_match_the_pngs(tmp_path: Path) -> None:
    options = ImageExportOptions(format=ImageFormat.GIF, frame_delay_ms=250)
    result = export_images(corpus("OBXXXX1A_2frame.dcm"), tmp_path / "gif", options)
    png = export_images(corpus("OBXXXX1A_2frame.dcm"), tmp_path / "png", FILE)
    with Image.open(result.outputs[0].path) as gif:
        assert sum(1 for _ in ImageSequence.Iterator(gif)) == 2
        assert gif.info["duration"] == 250
        for frame, exact in zip(ImageSequence.Iterator(gif), png.outputs, strict=True):
            ours = np.asarray(frame.convert("RGB"), dtype=int)
            # at most 256 colours in an 8-bit palette image: quantising keeps them (measured 0)
            assert np.abs(ours - np.asarray(Image.open(exact.path), dtype=int)).mean() <= 1.0


def test_objects_without_pixels_are_skipped(tmp_path: Path) -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.22"  # Enhanced SR
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "SR"
    path = tmp_path / "sr.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ConversionSkipped, match=r"no pixel data \(SR\)"):
        export_images(path, tmp_path / "out", FILE)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda tmp: corpus("emri_small_jpeg_2k_lossless_too_short.dcm"), "End of file"),
    (lambda tmp: truncated(corpus("MR2_UNCI.dcm"), tmp), "cannot be decoded"),
])
def test_broken_pixel_data_fails_with_the_reason(make: object, reason: str,
                                                 tmp_path: Path) -> None:
    assert callable(make)
    out = tmp_path / "out"
    with pytest.raises(ConversionFailed, match=reason):
        export_images(make(tmp_path), out, ImageExportOptions(format=ImageFormat.JPEG))
    assert not out.exists() or not any(out.iterdir())


def truncated(path: Path, folder: Path) -> Path:
    short = folder / "short.dcm"
    short.write_bytes(path.read_bytes()[:-1000])
    return short


@pytest.mark.parametrize("kwargs", [
    {"quality": 0}, {"quality": 101}, {"window": WindowChoice.PRESET, "preset": "kidney"},
    {"window": WindowChoice.TYPED, "center": 40.0}, {"frame_delay_ms": 0},
])
def test_bad_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ImageExportOptions(**kwargs)  # type: ignore[arg-type]


def test_a_large_multi_frame_file_is_exported_frame_by_frame(tmp_path: Path) -> None:
    ds = dcmread(corpus("693_UNCI.dcm"))
    frames = 100  # 52 MB of pixel data
    ds.NumberOfFrames = frames
    ds.PixelData = ds.PixelData * frames
    source = tmp_path / "big.dcm"
    ds.save_as(source)
    del ds
    tracemalloc.start()
    try:
        result = export_images(source, tmp_path / "out", FILE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak  # measured 8 MB: one frame and its 8-bit image at a time
    assert len(result.outputs) == frames
    first = np.asarray(Image.open(result.outputs[0].path), dtype=int)
    assert np.array_equal(np.asarray(Image.open(result.outputs[-1].path), dtype=int), first)
    assert np.abs(first - dcmj2pnm(corpus("693_UNCI.dcm"), 1, ["+Wi", "1"],
                                   tmp_path)).max() <= 1


def test_a_window_on_a_colour_image_is_not_applied_and_says_so(tmp_path: Path) -> None:
    plain = export_images(corpus("US1_UNCR.dcm"), tmp_path / "plain", FILE)
    lung = export_images(corpus("US1_UNCR.dcm"), tmp_path / "lung",
                         ImageExportOptions(window=WindowChoice.PRESET, preset="lung"))
    assert plain.warnings == [] and "not applied" in lung.warnings[0]
    assert plain.outputs[0].path.read_bytes() == lung.outputs[0].path.read_bytes()
