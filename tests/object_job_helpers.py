"""Inputs for the create/extract/edit job tests: a JPEG (Pillow), a PDF (written by hand,
with a title), an H.264 MP4 (Debian's ffmpeg)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from tests.peers import require_tool


def make_jpeg(path: Path, size: tuple[int, int] = (64, 48), seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(path, "JPEG", quality=85)
    return path


def make_png(path: Path, size: tuple[int, int] = (40, 30), seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(path, "PNG")
    return path


def make_pdf(path: Path, title: str = "Discharge letter") -> Path:
    """A one-page PDF with an info dictionary; byte offsets in the xref table are real."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length 35 >>\nstream\nBT /F1 12 Tf 20 100 Td (Hi) Tj ET\nendstream",
        b"<< /Title (" + title.encode("latin-1") + b") /Producer (tests) >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())
    return path


def make_mp4(path: Path, seconds: float = 1.0, rate: int = 10) -> Path:
    """An H.264 High Profile level 3.0 MP4 of a test pattern (faststart, so a browser plays
    it while it loads)."""
    require_tool("ffmpeg")
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=size=160x120:rate={rate}", "-t", str(seconds), "-c:v", "libx264",
         "-profile:v", "high", "-level", "3.0", "-pix_fmt", "yuv420p", "-movflags",
         "+faststart", str(path)], check=True, timeout=60)
    return path
