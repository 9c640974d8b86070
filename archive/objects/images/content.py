"""The pixel data of a new image instance, before it has a data set: JPEG files encapsulated as
they are (one fragment per frame, like img2dcm and jpg2dcm), or decoded frames written
uncompressed or encoded in a chosen transfer syntax by the transcode package's encoders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.uid import UID, ExplicitVRLittleEndian

from archive.conversions.outcome import ConversionFailed
from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode.attributes import ratio_text
from archive.conversions.transcode.encode import LOSSY_METHODS, codec_for
from archive.conversions.transcode.fidelity import Fidelity
from archive.conversions.transcode.native import NativeFrames
from archive.conversions.transcode.options import TranscodeOptions
from archive.conversions.transcode.source import Layout
from archive.objects.images.jpeg import LOSSY_METHOD, JpegInfo
from archive.objects.images.pixels import Picture


@dataclass
class PixelContent:
    """Pixel data and the Image Pixel attributes that describe it."""

    transfer_syntax: UID
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    planar: int
    frames: list[bytes]  # one codestream per frame, or one native frame each
    encapsulated: bool
    lossy_steps: list[tuple[str, str]] = field(default_factory=list)  # (ratio, method)
    derived: bool = False  # pixels changed from the source's own (re-encoded, expanded)
    warnings: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    summary: str = ""
    palette: np.ndarray | None = None  # PALETTE COLOR: entries × 3, 8-bit RGB

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    @property
    def native_bytes(self) -> int:
        return self.rows * self.columns * self.samples * self.bits_allocated // 8 * len(self)

    def __len__(self) -> int:
        return len(self.frames)


def _name(path: Path) -> str:
    return path.name or str(path)


def jpeg_key(info: JpegInfo) -> tuple[object, ...]:
    return (info.sof_marker, info.precision, info.rows, info.columns, info.components,
            info.photometric, info.transfer_syntax_uid)


def jpeg_content(streams: list[tuple[Path, bytes, JpegInfo]]) -> PixelContent:
    """JPEG codestreams encapsulated as they are, one per frame; they must share their frame
    header's process, precision, size and components."""
    first_path, _, first = streams[0]
    for index, (path, _, info) in enumerate(streams[1:], start=2):
        if jpeg_key(info) != jpeg_key(first):
            raise ConversionFailed(
                f"frame {index} ({_name(path)}: {info.describe()}) does not match frame 1 "
                f"({_name(first_path)}: {first.describe()}); every frame needs the same JPEG "
                "process, size and components")
    content = PixelContent(
        transfer_syntax=first.transfer_syntax_uid, rows=first.rows, columns=first.columns,
        samples=first.components, bits_allocated=first.bits_allocated,
        bits_stored=first.precision, signed=False, photometric=first.photometric, planar=0,
        frames=[stream for _, stream, _ in streams], encapsulated=True,
        summary=f"{first.label} encapsulated as is")
    if first.is_lossy:
        ratio = content.native_bytes / max(1, sum(len(stream) for _, stream, _ in streams))
        content.lossy_steps.append((ratio_text(ratio), LOSSY_METHOD))
    return content


def _layout(picture: Picture, frames: int) -> Layout:
    return Layout(rows=picture.rows, columns=picture.columns, samples=picture.samples,
                  frames=frames, bits_allocated=picture.bits_allocated,
                  bits_stored=picture.bits_stored, signed=picture.signed,
                  photometric=picture.photometric, planar=0)


def check_alike(pictures: list[tuple[Path, Picture]]) -> None:
    first_path, first = pictures[0]
    for path, picture in pictures[1:]:
        if picture.description() != first.description():
            raise ConversionFailed(
                f"{_name(path)} ({picture.describe()}) does not match {_name(first_path)} "
                f"({first.describe()}); every frame needs the same size and pixel description")


def encoded_content(pictures: list[tuple[Path, Picture]], target: TargetSyntax | None,
                    lossy: bool) -> PixelContent:
    """Decoded frames (all alike) uncompressed (``target`` None: Explicit VR Little Endian)
    or encoded in ``target``; a lossy target only when ``lossy`` allows it."""
    check_alike(pictures)
    first = pictures[0][1]
    frames = [frame for _, picture in pictures for frame in picture.frames]
    layout = _layout(first, len(frames))
    content = PixelContent(
        transfer_syntax=target.uid if target is not None else ExplicitVRLittleEndian,
        rows=layout.rows, columns=layout.columns, samples=layout.samples,
        bits_allocated=layout.bits_allocated, bits_stored=layout.bits_stored,
        signed=layout.signed, photometric=layout.photometric, planar=0, frames=[],
        encapsulated=target is not None and target.is_encapsulated, palette=first.palette)
    lossy_sources = [picture for _, picture in pictures if picture.lossy]
    if lossy_sources:  # decoded from lossy JPEGs: their compression stays in the history
        ratio = (sum(picture.native_bytes for picture in lossy_sources)
                 / sum(picture.lossy_source_bytes for picture in lossy_sources))
        content.lossy_steps.append((ratio_text(ratio), LOSSY_METHOD))
    if target is None or not target.is_encapsulated:
        native = NativeFrames(layout, content.transfer_syntax, 0)
        content.frames = [native.encode(frame) for frame in frames]
        content.summary = f"{content.transfer_syntax.name}, uncompressed"
        return content
    _encode(content, frames, layout, target, lossy)
    return content


def _encode(content: PixelContent, frames: list[np.ndarray], layout: Layout,
            target: TargetSyntax, lossy: bool) -> None:
    if target.is_lossy and not lossy:
        raise ConversionFailed(f"{target.label} is lossy: allow lossy compression to use it, "
                               "or pick a lossless syntax")
    codec = codec_for(target, layout, layout.photometric, TranscodeOptions(target=target), 0)
    fidelity = Fidelity(layout, target) if target.is_lossy else None
    if fidelity is not None:
        fidelity.expect(codec)
    for frame in frames:
        data = codec.encode(frame)
        if fidelity is not None:
            fidelity.add(frame, data)
        content.frames.append(data)
    content.photometric, content.planar = codec.photometric, codec.planar
    ratio = content.native_bytes / max(1, sum(len(data) for data in content.frames))
    content.summary = f"{target.label}, {ratio:.1f}:1"
    content.metrics["ratio"] = round(ratio, 3)
    if fidelity is not None:
        content.derived = True
        content.lossy_steps.append((ratio_text(ratio), LOSSY_METHODS[target]))
        content.metrics.update(fidelity.metrics())
        content.summary += f", {fidelity.describe()}"
