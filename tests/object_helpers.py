"""Helpers for the new-object tests: an identity, test videos made by ffmpeg, small documents
written by hand, and the independent tools' verdicts (dciodvfy, ffprobe, dcmdump)."""

from __future__ import annotations

import json
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import MPEG4HP41, UID, generate_uid

from archive.objects.common import Identity
from tests.peers import require_tool

TOOL_SECONDS = 120


def identity(instance_number: int = 1) -> Identity:
    attributes = Dataset()
    attributes.PatientName = "Doe^Jane"
    attributes.PatientID = "OBJ-42"
    attributes.StudyInstanceUID = generate_uid()
    return Identity(
        attributes=attributes,
        series_instance_uid=generate_uid(),
        instance_number=instance_number,
    )


def run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    require_tool(argv[0])
    return subprocess.run(argv, capture_output=True, timeout=TOOL_SECONDS, check=False)


def ffmpeg_video(path: Path, *codec_args: str, size: str = "320x240",
                 rate: int | str = 25) -> Path:
    """A 1 s test pattern encoded with ``codec_args`` into ``path`` (container from suffix)."""
    made = run(
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={size}:rate={rate}",
        "-t",
        "1",
        *codec_args,
        str(path),
    )
    assert made.returncode == 0, made.stderr.decode()
    return path


def h264_mp4(path: Path, profile: str = "high", level: str = "4.1", size: str = "320x240") -> Path:
    return ffmpeg_video(
        path,
        "-c:v",
        "libx264",
        "-profile:v",
        profile,
        "-level",
        level,
        "-pix_fmt",
        "yuv420p",
        size=size,
    )


def hevc_mp4(path: Path, main10: bool = False) -> Path:
    pix_fmt = "yuv420p10le" if main10 else "yuv420p"
    profile = "main10" if main10 else "main"
    return ffmpeg_video(
        path,
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error",
        "-profile:v",
        profile,
        "-pix_fmt",
        pix_fmt,
    )


def mpeg2(path: Path) -> Path:
    return ffmpeg_video(path, "-c:v", "mpeg2video")


def mpeg2_high_level(path: Path) -> Path:
    """MPEG-2 Main Profile at High Level (profile_and_level_indication: profile 4, level 4),
    1920×1080 as High Level allows."""
    return ffmpeg_video(path, "-c:v", "mpeg2video", "-profile:v", "4", "-level:v", "4",
                        "-b:v", "8M", size="1920x1080")


def h264_ntsc_ts(path: Path) -> Path:
    """H.264 High Profile level 4.0 at 29.97 frames/s in an MPEG-2 transport stream."""
    return ffmpeg_video(path, "-c:v", "libx264", "-profile:v", "high", "-level", "4.0",
                        "-pix_fmt", "yuv420p", "-f", "mpegts", rate="30000/1001")


def odd_length(mp4: Path) -> Path:
    """The MP4 with a 9-byte ``free`` box appended (still valid MP4) when its length is even."""
    data = mp4.read_bytes()
    if len(data) % 2 == 0:
        mp4.write_bytes(data + struct.pack(">I", 9) + b"free" + b"\x00")
    assert mp4.stat().st_size % 2 == 1
    return mp4


def ffprobe_stream(path: Path) -> dict[str, str]:
    """ffprobe's own count of decoded frames and the stream's size and rate."""
    probed = run(
        "ffprobe",
        "-v",
        "error",
        "-count_frames",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=nb_read_frames,width,height,r_frame_rate,profile,codec_name",
        "-show_entries",
        "format=format_name",
        "-of",
        "json",
        str(path),
    )
    assert probed.returncode == 0, probed.stderr.decode()
    described = json.loads(probed.stdout)
    stream: dict[str, str] = {k: str(v) for k, v in described["streams"][0].items()}
    stream["format_name"] = described["format"]["format_name"]
    return stream


def frame_time_ms(r_frame_rate: str) -> float:
    return 1000.0 / float(Fraction(r_frame_rate))


def dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's "Error" lines for ``path``."""
    checked = run("dciodvfy", str(path))
    lines = (checked.stdout + checked.stderr).decode(errors="replace").splitlines()
    return [line for line in lines if line.startswith("Error")]


def dciodvfy_errors_as(path: Path, out: Path, **changes: str) -> list[str]:
    """dciodvfy's errors for a copy of ``path`` with some attributes changed: for SOP classes
    or transfer syntaxes this dciodvfy (2022) does not know, check the modules under a
    neighbour it knows (OBJ/MTL as STL, HEVC as H.264)."""
    ds = dcmread(path)
    syntax = changes.pop("TransferSyntaxUID", "")
    if syntax:
        ds.file_meta.TransferSyntaxUID = UID(syntax)
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    if "SOPClassUID" in changes:
        ds.file_meta.MediaStorageSOPClassUID = UID(changes["SOPClassUID"])
    ds.save_as(out, enforce_file_format=True)
    return dciodvfy_errors(out)


H264_FOR_DCIODVFY = str(MPEG4HP41)


def dcmdump_reads(path: Path) -> str:
    dumped = run("dcmdump", "-Un", "+P", "0002,0010", "+P", "0008,0016", str(path))
    assert dumped.returncode == 0, dumped.stderr.decode()
    assert b"E:" not in dumped.stderr, dumped.stderr.decode()
    return dumped.stdout.decode(errors="replace")


def tiny_pdf(path: Path, title: str = "Lab report", pad_to_odd: bool | None = None) -> Path:
    """A minimal valid one-page PDF with a /Title in its info dictionary; ``pad_to_odd``
    True/False forces an odd/even length with a trailing comment line before %%EOF."""
    body = (
        "%PDF-1.4\n"
        "1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
        f"4 0 obj<</Title({title})/Producer(tests)>>endobj\n"
    )
    trailer = "trailer<</Root 1 0 R/Info 4 0 R>>\n%%EOF\n"
    data = (body + trailer).encode("latin-1")
    if pad_to_odd is not None and (len(data) % 2 == 1) != pad_to_odd:
        data = (body + "%x\n" + trailer).encode("latin-1")  # 3 more bytes flip the parity
    path.write_bytes(data)
    if pad_to_odd is not None:
        assert (len(data) % 2 == 1) == pad_to_odd
    return path


CDA = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="{root}" extension="{extension}"/>
  <code code="11488-4" codeSystem="2.16.840.1.113883.6.1" displayName="Consult note"/>
  <title>{title}</title>
  <effectiveTime value="20261206120000"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <recordTarget><patientRole><id extension="OBJ-42" root="1.2.3"/></patientRole></recordTarget>
</ClinicalDocument>
"""


def cda(
    path: Path,
    root: str = "2.16.840.1.113883.19.5",
    extension: str = "doc-7",
    title: str = "Consultation note",
) -> Path:
    path.write_text(CDA.format(root=root, extension=extension, title=title), encoding="utf-8")
    return path


def binary_stl(path: Path, triangles: int = 3) -> Path:
    facet = struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 10, 0, 0)
    path.write_bytes(
        b"test model".ljust(80, b" ") + struct.pack("<I", triangles) + facet * triangles
    )
    return path


def ascii_stl(path: Path) -> Path:
    path.write_text(
        "solid wedge\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 10 0 0\n"
        "   vertex 0 10 0\n  endloop\n endfacet\nendsolid wedge\n"
    )
    return path


def obj_model(path: Path) -> Path:
    path.write_text(
        "# triangle\nmtllib part.mtl\no part\nv 0 0 0\nv 10 0 0\nv 0 10 0\nvn 0 0 1\n"
        "usemtl bone\nf 1//1 2//1 3//1\n"
    )
    return path


def mtl_material(path: Path) -> Path:
    path.write_text("newmtl bone\nKa 0.2 0.2 0.2\nKd 0.9 0.9 0.8\nNs 10\nillum 2\n")
    return path
