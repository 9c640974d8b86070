"""Reading a video file's stream with Debian's ``ffprobe`` (never from the file's name), and
telling its container from its first bytes."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

from archive.conversions.outcome import ConversionFailed

FFPROBE_SECONDS = 120


class VideoContainer(StrEnum):
    """The file formats DICOM video syntaxes encapsulate, told apart by their content."""

    MP4 = "mp4"
    MPEG_TS = "mpeg-ts"
    MPEG_PS = "mpeg-ps"

    @property
    def extension(self) -> str:
        return {"mp4": ".mp4", "mpeg-ts": ".ts", "mpeg-ps": ".mpg"}[self.value]

    @property
    def mime_type(self) -> str:
        return {"mp4": "video/mp4", "mpeg-ts": "video/mp2t", "mpeg-ps": "video/mpeg"}[self.value]


def container_of(head: bytes) -> VideoContainer | None:
    """The container a file starting with ``head`` (at least 189 bytes for a TS) is in."""
    if head[4:8] == b"ftyp":
        return VideoContainer.MP4
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return VideoContainer.MPEG_TS
    if head[:4] == b"\x00\x00\x01\xba":
        return VideoContainer.MPEG_PS
    return None


@dataclass(frozen=True)
class VideoStream:
    """The video stream of a file as ffprobe describes it."""

    codec: str  # ffprobe's codec_name: h264, hevc, mpeg2video, vp9…
    profile: str  # ffprobe's profile name: "High", "Main 10", "Constrained Baseline"…
    level: int  # H.264: level_idc (41 = 4.1); HEVC: 30 × level (153 = 5.1); MPEG-2: 4/6/8/10
    width: int
    height: int
    frames: int
    frame_rate: float  # frames per second
    duration: float  # seconds
    format_name: str  # ffprobe's format_name: "mov,mp4,m4a,3gp,3g2,mj2", "mpegts", "mpeg"
    container: VideoContainer | None = None
    pix_fmt: str = ""
    has_audio: bool = False
    major_brand: str = ""  # the MP4 ftyp major brand ("isom", "qt  "…)

    @property
    def level_text(self) -> str:
        """The level as people write it: "4.1", "5.1", "Main"."""
        if self.codec == "h264":
            return f"{self.level // 10}.{self.level % 10}"
        if self.codec == "hevc":
            return f"{self.level / 30:g}"
        if self.codec == "mpeg2video":
            return MPEG2_LEVELS.get(self.level, str(self.level))
        return str(self.level)

    @property
    def description(self) -> str:
        """One line for the job item: "h264 High@4.1, MP4, 25 frames 320×240 at 25 fps"."""
        container = self.container.name if self.container else self.format_name
        return (
            f"{self.codec} {self.profile}@{self.level_text}, {container}, "
            f"{self.frames} frames {self.width}×{self.height} at {self.frame_rate:g} fps"
        )


MPEG2_LEVELS = {10: "Low", 8: "Main", 6: "High 1440", 4: "High"}
# The codecs' names for "we cannot read the level".
UNKNOWN_LEVEL = -99


def _ffprobe(path: Path) -> dict[str, Any]:
    tool = shutil.which("ffprobe")
    if tool is None:
        raise ConversionFailed("ffprobe is not installed (apt-get install ffmpeg)")
    try:
        run = subprocess.run(
            [
                tool,
                "-v",
                "error",
                "-count_packets",
                "-show_streams",
                "-show_format",
                "-of",
                "json",
                str(path),
            ],
            capture_output=True,
            timeout=FFPROBE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ConversionFailed(f"ffprobe took over {FFPROBE_SECONDS} s on {path.name}") from error
    if run.returncode != 0:
        reason = run.stderr.decode(errors="replace").strip().splitlines()
        last = reason[-1] if reason else f"exit status {run.returncode}"
        raise ConversionFailed(f"{path.name} is not a video ffprobe can read: {last}")
    try:
        probed: dict[str, Any] = json.loads(run.stdout)
    except json.JSONDecodeError as error:
        raise ConversionFailed(f"ffprobe gave no readable description of {path.name}") from error
    return probed


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def probe_video(path: Path) -> VideoStream:
    """The first video stream of ``path``, read by ffprobe; ConversionFailed when ffprobe
    cannot read the file or it has no video stream."""
    probed = _ffprobe(path)
    streams: list[dict[str, Any]] = probed.get("streams", [])
    videos = [s for s in streams if s.get("codec_type") == "video"]
    if not videos:
        raise ConversionFailed(f"{path.name} has no video stream")
    video = videos[0]
    fmt: dict[str, Any] = probed.get("format", {})
    rate = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
    duration = _float(video.get("duration")) or _float(fmt.get("duration"))
    frames = (
        _int(video.get("nb_frames")) or _int(video.get("nb_read_packets")) or round(duration * rate)
    )
    with path.open("rb") as stream:
        head = stream.read(200)
    return VideoStream(
        codec=str(video.get("codec_name", "")),
        profile=str(video.get("profile", "")),
        level=_int(video.get("level"), UNKNOWN_LEVEL),
        width=_int(video.get("width")),
        height=_int(video.get("height")),
        frames=frames,
        frame_rate=rate,
        duration=duration,
        format_name=str(fmt.get("format_name", "")),
        container=container_of(head),
        pix_fmt=str(video.get("pix_fmt", "")),
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        major_brand=head[8:12].decode("latin-1") if head[4:8] == b"ftyp" else "",
    )


# ffprobe reads still images as one-frame "video" through its image demuxers.
IMAGE_DEMUXERS = ("image2", "_pipe")


def is_video(path: Path) -> bool:
    """Whether ``path`` holds a moving-picture stream ffprobe can read (by content, not by
    name): not a still image (JPEG, PNG… that ffprobe's image demuxers read as one frame)."""
    try:
        stream = probe_video(path)
    except (ConversionFailed, OSError):
        return False
    return not any(part in stream.format_name for part in IMAGE_DEMUXERS)
