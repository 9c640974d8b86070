"""Which DICOM transfer syntax carries a video stream, from its codec, profile and level."""

from __future__ import annotations

from pydicom.uid import (
    HEVCM10P51,
    HEVCMP51,
    MPEG2MPHL,
    MPEG2MPML,
    MPEG4HP41,
    MPEG4HP42STEREO,
    MPEG4HP422D,
    UID,
)

from archive.conversions.outcome import ConversionFailed
from archive.objects.video.probe import UNKNOWN_LEVEL, VideoContainer, VideoStream

# H.264 profiles whose streams a High Profile decoder plays (H.264 Annex A.2.4: a High
# profile decoder decodes every bitstream with profile_idc 77 or constraint_set1_flag 1 —
# Main and Constrained Baseline — and Progressive/Constrained High are High with
# constraints). Plain Baseline (FMO, ASO, redundant slices) and Extended are not among them.
H264_HIGH_DECODABLE = {"High", "Progressive High", "Constrained High"}
H264_HIGH_SUBSETS = {"Main", "Constrained Baseline"}
H264_STEREO = {"Stereo High"}
# MPEG-2: a Main Profile decoder plays Simple Profile streams; a High Level decoder plays
# High-1440 streams, a Main Level one Low Level streams (ISO/IEC 13818-2 8.2, 8.3).
MPEG2_PROFILES = {"Main", "Simple"}
MPEG2_MAIN_LEVELS = {8, 10}
MPEG2_HIGH_LEVELS = {4, 6}
HEVC_LEVEL_51 = 153  # general_level_idc = 30 × level


def _require_container(stream: VideoStream, allowed: set[VideoContainer], what: str) -> None:
    if stream.container is VideoContainer.MP4 and stream.major_brand == "qt  ":
        raise ConversionFailed(
            "a QuickTime .mov file, not MP4: DICOM video needs MP4 or MPEG-2 TS "
            "(remux it with ffmpeg -i in.mov -c copy out.mp4)"
        )
    if stream.container not in allowed:
        names = " or ".join(sorted(c.name for c in allowed))
        raise ConversionFailed(
            f"{what} in a {stream.format_name or 'raw'} file: DICOM encapsulates it only in {names}"
        )


def _h264_syntax(stream: VideoStream) -> UID:
    _require_container(stream, {VideoContainer.MP4, VideoContainer.MPEG_TS}, "H.264")
    profile, level = stream.profile, stream.level
    if level == UNKNOWN_LEVEL:
        raise ConversionFailed(f"H.264 {profile} stream whose level ffprobe cannot read")
    if profile in H264_STEREO:
        if level <= 42:
            return MPEG4HP42STEREO
        raise ConversionFailed(f"H.264 Stereo High level {stream.level_text}: DICOM stops at 4.2")
    if profile not in H264_HIGH_DECODABLE | H264_HIGH_SUBSETS:
        raise ConversionFailed(
            f"H.264 {profile} profile: DICOM H.264 syntaxes carry High Profile streams "
            "(and Main / Constrained Baseline, which a High Profile decoder plays)"
        )
    if level <= 41:
        return MPEG4HP41
    if level == 42:
        return MPEG4HP422D
    raise ConversionFailed(
        f"H.264 {profile} level {stream.level_text}: DICOM H.264 syntaxes stop at level 4.2"
    )


def _hevc_syntax(stream: VideoStream) -> UID:
    _require_container(stream, {VideoContainer.MP4, VideoContainer.MPEG_TS}, "HEVC")
    syntax = {"Main": HEVCMP51, "Main 10": HEVCM10P51}.get(stream.profile)
    if syntax is None:
        raise ConversionFailed(
            f"HEVC {stream.profile} profile: DICOM HEVC syntaxes carry Main and Main 10 only"
        )
    if stream.level == UNKNOWN_LEVEL or stream.level > HEVC_LEVEL_51:
        raise ConversionFailed(
            f"HEVC {stream.profile} level {stream.level_text}: DICOM HEVC syntaxes stop at 5.1"
        )
    return syntax


def _mpeg2_syntax(stream: VideoStream) -> UID:
    _require_container(stream, {VideoContainer.MPEG_PS, VideoContainer.MPEG_TS}, "MPEG-2 video")
    if stream.profile not in MPEG2_PROFILES:
        raise ConversionFailed(
            f"MPEG-2 {stream.profile} profile: DICOM MPEG-2 syntaxes carry Main Profile only"
        )
    if stream.level in MPEG2_MAIN_LEVELS:
        return MPEG2MPML
    if stream.level in MPEG2_HIGH_LEVELS:
        return MPEG2MPHL
    raise ConversionFailed(
        f"MPEG-2 {stream.profile} profile at level {stream.level_text}: "
        "DICOM MPEG-2 syntaxes carry Main and High Level"
    )


def video_syntax(stream: VideoStream) -> UID:
    """The DICOM transfer syntax that carries ``stream``, from its codec, profile and level;
    ConversionFailed with the reason for a stream no DICOM syntax covers.

    H.264: High (and Progressive/Constrained High) at level ≤ 4.1 → 1.2.840.10008.1.2.4.102,
    level 4.2 → .104 (2D); Stereo High ≤ 4.2 → .106. Main and Constrained Baseline streams
    are stored under the same High Profile syntaxes: DICOM names the decoder a receiver needs
    (PS3.5 8.2.7: the stream's own characteristics drive decoding) and H.264 A.2.4 makes every
    High Profile decoder play them. BD-compatible (.103) and 3D (.105) are never chosen:
    ffprobe's stream description cannot tell them (Blu-ray constraints, frame packing SEI).
    HEVC: Main / Main 10 at level ≤ 5.1 → .107 / .108. MPEG-2: Main (or Simple) Profile at
    Main (or Low) Level → .100, at High (or High 1440) Level → .101.
    """
    if stream.codec == "h264":
        return _h264_syntax(stream)
    if stream.codec == "hevc":
        return _hevc_syntax(stream)
    if stream.codec == "mpeg2video":
        return _mpeg2_syntax(stream)
    raise ConversionFailed(
        f"{stream.codec or 'unknown'} video has no DICOM transfer syntax "
        "(DICOM video is MPEG-2, H.264 or HEVC)"
    )
