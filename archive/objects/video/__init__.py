"""New DICOM video objects (Video Endoscopic, Photographic and Microscopic Image) from an
MP4, MPEG-2 Transport Stream or MPEG-2 Program Stream file, like dcm4che's ``jpg2dcm`` does
for video.

What goes into Pixel Data: for H.264 and HEVC, PS3.5 (8.2.8, 8.2.9 and their siblings) says
the container — MPEG-2 TS or MP4 — is what is encapsulated, and that one fragment holds the
whole bit stream; MPEG-2 video is kept as its Program or Transport Stream, as dcm4che's
``jpg2dcm`` does. So the source file's bytes go into a single fragment unchanged (padded with
one 0x00 to even length; ``archive.objects.extract`` finds the original end again from the
container's own framing: MP4 box sizes, 188-byte TS packets, the PS end code).

The transfer syntax comes from the stream's own profile and level as Debian's ``ffprobe``
reads them, never from the file's name. Streams that only a profile's subset uses are mapped to
the syntax whose decoder plays them (see ``video_syntax``); anything no DICOM syntax covers is
refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate_buffer
from pydicom.uid import UID

from archive.conversions.outcome import ConversionFailed, FileConversion
from archive.objects.common import Identity, output_name, start_dataset, write_part10
from archive.objects.video.probe import (
    VideoContainer,
    VideoStream,
    container_of,
    is_video,
    probe_video,
)
from archive.objects.video.syntax import H264_HIGH_SUBSETS, video_syntax

__all__ = [
    "AnatomicRegion",
    "VideoContainer",
    "VideoCreateOptions",
    "VideoSopClass",
    "VideoStream",
    "container_of",
    "create_video",
    "is_video",
    "probe_video",
    "video_syntax",
]

MAX_FRAGMENT = 2**32 - 2  # one fragment's largest even length


class VideoSopClass(Enum):
    """The video storage SOP classes a video can become, with their modality."""

    ENDOSCOPIC = ("1.2.840.10008.5.1.4.1.1.77.1.1.1", "ES", "Video Endoscopic Image")
    PHOTOGRAPHIC = ("1.2.840.10008.5.1.4.1.1.77.1.4.1", "XC", "Video Photographic Image")
    MICROSCOPIC = ("1.2.840.10008.5.1.4.1.1.77.1.2.1", "GM", "Video Microscopic Image")

    def __init__(self, uid: str, modality: str, label: str) -> None:
        self.uid = UID(uid)
        self.modality = modality
        self.label = label


LOSSY_METHOD = {"h264": "ISO_14496_10", "hevc": "ISO_23008_2", "mpeg2video": "ISO_13818_2"}


@dataclass(frozen=True)
class AnatomicRegion:
    """A coded anatomic region (PS3.16 CID 4), for Anatomic Region Sequence."""

    code_value: str
    coding_scheme: str
    meaning: str


# SNOMED CT "Topography unknown": what the VL Image module's Type 1C Anatomic Region Sequence
# holds when neither the form nor the template says which region the video shows.
TOPOGRAPHY_UNKNOWN = AnatomicRegion("87100004", "SCT", "Topography unknown")


@dataclass(frozen=True)
class VideoCreateOptions:
    identity: Identity
    sop_class: VideoSopClass = VideoSopClass.ENDOSCOPIC
    anatomic_region: AnatomicRegion | None = None  # else the template's, else unknown


@dataclass
class _Decision:
    syntax: UID
    warnings: list[str] = field(default_factory=list)


def _decide(stream: VideoStream) -> _Decision:
    decision = _Decision(video_syntax(stream))
    if stream.codec == "mpeg2video" and stream.profile == "Simple":
        decision.warnings.append(
            f"MPEG-2 Simple profile stored under {decision.syntax.name}: "
            "every Main Profile decoder plays it (ISO/IEC 13818-2 8.2)"
        )
    if stream.codec == "h264" and stream.profile in H264_HIGH_SUBSETS:
        decision.warnings.append(
            f"H.264 {stream.profile} profile stored under {decision.syntax.name}: "
            "every High Profile decoder plays it (H.264 Annex A.2.4)"
        )
    if stream.has_audio:
        decision.warnings.append(
            "the audio track is kept inside the video as it was; Multiplexed Audio Channels "
            "Description Code Sequence (003A,0300) is not written"
        )
    if stream.width <= 0 or stream.height <= 0 or stream.frames <= 0 or stream.frame_rate <= 0:
        raise ConversionFailed(
            f"the video stream has no usable size, frame count or frame rate ({stream.description})"
        )
    return decision


def _pixel_description(stream: VideoStream, syntax: UID) -> dict[str, Any]:
    """What the stream decides (PS3.5 8.2.5-8.2.11, PS3.3 VL Image and Cine modules)."""
    return {
        "ImageType": ["ORIGINAL", "PRIMARY"],
        "SamplesPerPixel": 3,
        "PhotometricInterpretation": "YBR_PARTIAL_420",
        "PlanarConfiguration": 0,
        "Rows": stream.height,
        "Columns": stream.width,
        "BitsAllocated": 8,
        "BitsStored": 8,
        "HighBit": 7,
        "PixelRepresentation": 0,
        "NumberOfFrames": stream.frames,
        "FrameIncrementPointer": 0x00181063,  # Frame Time
        "FrameTime": f"{1000.0 / stream.frame_rate:.6g}",
        "CineRate": round(stream.frame_rate),
        "RecommendedDisplayFrameRate": round(stream.frame_rate),
        "LossyImageCompression": "01",
        "LossyImageCompressionMethod": LOSSY_METHOD[stream.codec],
    }


def _set_anatomic_region(ds: Dataset, options: VideoCreateOptions) -> None:
    """VL Image: Anatomic Region Sequence is Type 1C (dciodvfy requires it unless a Specimen
    is described): the form's region, else the template's, else "Topography unknown"."""
    region = options.anatomic_region
    if region is None:
        if ds.get("AnatomicRegionSequence"):
            return
        region = TOPOGRAPHY_UNKNOWN
    item = Dataset()
    item.CodeValue = region.code_value
    item.CodingSchemeDesignator = region.coding_scheme
    item.CodeMeaning = region.meaning
    ds.AnatomicRegionSequence = [item]


def create_video(source: Path, out_dir: Path, options: VideoCreateOptions) -> FileConversion:
    """A video storage instance whose Pixel Data is ``source`` unchanged (one fragment)."""
    size = source.stat().st_size
    stream = probe_video(source)
    decision = _decide(stream)
    if size > MAX_FRAGMENT:
        raise ConversionFailed(
            f"{source.name} is {size} bytes: one fragment holds at most {MAX_FRAGMENT}"
        )
    sop_class = options.sop_class
    ds = start_dataset(options.identity, sop_class.uid, sop_class.modality)
    for keyword in ("ConversionType",):  # SC Equipment is no module of the video IODs
        if keyword in ds:
            delattr(ds, keyword)
    ds.PatientOrientation = ""  # General Image, Type 2C: no Frame of Reference
    ds.AcquisitionContextSequence = []  # Acquisition Context, Type 2
    _set_anatomic_region(ds, options)
    if "Laterality" not in ds:
        ds.Laterality = ""  # General Series, Type 2C: no Image Laterality is sent
    for keyword, value in _pixel_description(stream, decision.syntax).items():
        setattr(ds, keyword, value)
    path = out_dir / output_name("VID", options.identity)
    try:
        with source.open("rb") as video:
            ds["PixelData"] = DataElement(
                0x7FE00010,
                "OB",
                encapsulate_buffer([video], has_bot=False),
                is_undefined_length=True,
            )
            output = write_part10(ds, path, decision.syntax)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileConversion(
        outputs=[output],
        input_bytes=size,
        frames=stream.frames,
        message=f"{stream.description} → {decision.syntax.name}",
        warnings=decision.warnings,
    )
