"""Helpers for the image creation tests: an identity, pictures made by independent encoders
(pillow, imagecodecs, ffmpeg), and the independent readers of the results (dciodvfy, DCMTK
dcmj2pnm / img2dcm, GDCM gdcmimg, pydicom's fragment reader)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import generate_uid

from archive.objects.common import Identity
from archive.objects.images import ImageCreateOptions, ImageSopClass
from tests.peers import require_tool


def identity() -> Identity:
    attributes = Dataset()
    attributes.PatientName = "Image^Test"
    attributes.PatientID = "IMG-1"
    attributes.StudyInstanceUID = generate_uid()
    return Identity(attributes=attributes, series_instance_uid=generate_uid())


def options(sop_class: ImageSopClass = ImageSopClass.SECONDARY_CAPTURE,
            **kwargs: object) -> ImageCreateOptions:
    return ImageCreateOptions(identity=identity(), sop_class=sop_class, **kwargs)  # type: ignore[arg-type]


def rgb_pixels(rows: int = 37, columns: int = 53, seed: int = 1) -> np.ndarray:
    """A smooth colour picture with some noise (JPEG-friendly, every value range used)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:columns]
    base = np.stack([x * 255 // max(1, columns - 1), y * 255 // max(1, rows - 1),
                     (x + y) * 255 // max(1, rows + columns - 2)], axis=-1)
    noise = rng.integers(-20, 21, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def grey_pixels(rows: int = 37, columns: int = 53, bits: int = 8, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if bits <= 8 else np.uint16
    return rng.integers(0, 1 << bits, (rows, columns)).astype(dtype)


def save_pillow(path: Path, array: np.ndarray, **kwargs: Any) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def write_bytes(path: Path, data: bytes | bytearray) -> Path:
    path.write_bytes(bytes(data))
    return path


JPEG_KINDS = ("baseline_rgb", "baseline_grey", "baseline_444", "baseline_restart",
              "extended_12", "lossless_sv1", "lossless_p7", "lossless_rgb", "ljpeg_12",
              "ffmpeg_mjpeg", "progressive")
LOSSLESS_KINDS = ("lossless_sv1", "lossless_p7", "lossless_rgb", "ljpeg_12")


def make_jpeg(kind: str, folder: Path) -> Path:
    """A JPEG of one kind, made by pillow (libjpeg-turbo), imagecodecs or ffmpeg."""
    path = folder / f"{kind}.jpg"
    if kind == "baseline_rgb":
        return save_pillow(path, rgb_pixels(), quality=88)
    if kind == "baseline_grey":
        return save_pillow(path, grey_pixels(), quality=90)
    if kind == "baseline_444":
        return save_pillow(path, rgb_pixels(seed=3), quality=95, subsampling=0)
    if kind == "baseline_restart":  # restart markers (RSTn) inside the entropy-coded data
        return save_pillow(path, rgb_pixels(64, 64, seed=7), quality=90,
                           restart_marker_blocks=1)
    if kind == "ljpeg_12":  # imagecodecs' own lossless JPEG encoder (no JFIF, predictor ≠ 1)
        return write_bytes(path, imagecodecs.ljpeg_encode(grey_pixels(bits=12, seed=8),
                                                          bitspersample=12))
    if kind == "progressive":
        return save_pillow(path, rgb_pixels(seed=4), quality=85, progressive=True)
    if kind == "extended_12":
        return write_bytes(path, imagecodecs.jpeg8_encode(grey_pixels(bits=12), 90,
                                                          bitspersample=12))
    if kind == "lossless_sv1":
        return write_bytes(path, imagecodecs.jpeg8_encode(
            grey_pixels(bits=12), lossless=True, predictor=1, bitspersample=12))
    if kind == "lossless_p7":
        return write_bytes(path, imagecodecs.jpeg8_encode(
            grey_pixels(bits=16), lossless=True, predictor=7, bitspersample=16))
    if kind == "lossless_rgb":
        return write_bytes(path, imagecodecs.jpeg8_encode(rgb_pixels(seed=5), lossless=True,
                                                          predictor=1))
    if kind == "ffmpeg_mjpeg":
        png = save_pillow(folder / "ffmpeg_source.png", rgb_pixels(seed=6))
        subprocess.run([require_tool("ffmpeg"), "-loglevel", "error", "-y", "-i", str(png),
                        "-c:v", "mjpeg", "-q:v", "3", str(path)], check=True, timeout=60)
        return path
    raise ValueError(kind)


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool(argv[0]), *argv[1:]], capture_output=True, text=True,
                          timeout=60)


def dciodvfy_errors(path: Path) -> list[str]:
    result = run("dciodvfy", str(path))
    return [line for line in (result.stdout + result.stderr).splitlines() if "Error" in line]


def fragments(path: Path) -> list[bytes]:
    ds = dcmread(path)
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1))))


def _pnm_values(text: str) -> np.ndarray:
    tokens = [token for line in text.splitlines() for token in line.split("#")[0].split()]
    magic, width, height = tokens[0], int(tokens[1]), int(tokens[2])
    values = np.array(tokens[4:], dtype=np.int64)
    return values.reshape(height, width, 3) if magic == "P3" else values.reshape(height, width)


def dcmj2pnm_pixels(path: Path, bits: int, frame: int = 1) -> np.ndarray:
    """DCMTK's rendering of one frame as n-bit ASCII PNM (no windowing: the stored values)."""
    out = path.with_suffix(f".f{frame}.pnm")
    result = run("dcmj2pnm", "+F", str(frame), "+opn", str(bits), str(path), str(out))
    assert result.returncode == 0, result.stderr
    return _pnm_values(out.read_text())


def decoded_jpeg(path: Path) -> np.ndarray:
    """The JPEG file decoded by libjpeg-turbo (imagecodecs), independently of our code."""
    return np.asarray(imagecodecs.jpeg8_decode(path.read_bytes())).astype(np.int64)
