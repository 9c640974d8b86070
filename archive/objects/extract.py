"""What an archived instance encapsulates, given back as the file that went in (like DCMTK
``dcm2pdf``): an encapsulated document (PDF, CDA, STL, OBJ, MTL), a video's MP4 / MPEG-2 TS /
PS file, or one frame's JPEG (JPEG-LS, JPEG 2000) bit stream, without re-encoding.

Big files are not loaded whole: the header is read with ``stop_before_pixels`` (the document
deferred), and Pixel Data fragments are copied from the file in chunks. The pad byte DICOM adds
to odd lengths is removed by Encapsulated Document Length for documents, by the container's own
framing for video (MP4 box sizes, 188-byte TS packets, the PS end code), and after the EOI/EOC
marker for image frames.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from archive.conversions.outcome import (
    ConversionFailed,
    ConversionSkipped,
    FileConversion,
    OutputFile,
)
from archive.objects.documents import DocumentKind
from archive.objects.video import VideoContainer, container_of

CHUNK = 1024 * 1024
DEFER = 64 * 1024
ITEM = b"\xfe\xff\x00\xe0"
SEQUENCE_END = b"\xfe\xff\xdd\xe0"
PIXEL_DATA = b"\xe0\x7f\x10\x00"
UNDEFINED = 0xFFFFFFFF
NAME_LIMIT = 120
UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class ExtractKind(StrEnum):
    """What an instance gives back."""

    DOCUMENT = "document"
    VIDEO = "video"
    JPEG_FRAME = "jpeg_frame"


@dataclass(frozen=True)
class Extractable:
    """What ``extract`` would give back for an instance: its kind, MIME type and file name
    (for frame 1), and ``frames`` — how many frames there are to choose from (the image's
    Number of Frames for ``jpeg_frame``; 0 for a document or a video, given back whole)."""

    kind: ExtractKind
    mime_type: str
    filename: str
    frames: int


class FrameCodec(StrEnum):
    """The image transfer syntaxes whose frames are a standalone bit stream."""

    JPEG = "jpeg"
    JPEG_LS = "jpeg-ls"
    JPEG_2000 = "jpeg-2000"

    @property
    def mime_type(self) -> str:
        return {"jpeg": "image/jpeg", "jpeg-ls": "image/jls", "jpeg-2000": "image/j2c"}[self.value]

    @property
    def extension(self) -> str:
        return {"jpeg": ".jpg", "jpeg-ls": ".jls", "jpeg-2000": ".j2c"}[self.value]


FRAME_SYNTAXES = {
    "1.2.840.10008.1.2.4.50": FrameCodec.JPEG,
    "1.2.840.10008.1.2.4.51": FrameCodec.JPEG,
    "1.2.840.10008.1.2.4.55": FrameCodec.JPEG,  # progressive (retired), as create keeps it
    "1.2.840.10008.1.2.4.57": FrameCodec.JPEG,
    "1.2.840.10008.1.2.4.70": FrameCodec.JPEG,
    "1.2.840.10008.1.2.4.80": FrameCodec.JPEG_LS,
    "1.2.840.10008.1.2.4.81": FrameCodec.JPEG_LS,
    "1.2.840.10008.1.2.4.90": FrameCodec.JPEG_2000,
    "1.2.840.10008.1.2.4.91": FrameCodec.JPEG_2000,
    "1.2.840.10008.1.2.4.201": FrameCodec.JPEG_2000,
    "1.2.840.10008.1.2.4.202": FrameCodec.JPEG_2000,
    "1.2.840.10008.1.2.4.203": FrameCodec.JPEG_2000,
}
VIDEO_SYNTAXES = {
    f"1.2.840.10008.1.2.4.{n}{suffix}" for n in range(100, 109) for suffix in ("", ".1")
}


def safe_filename(title: str, extension: str, fallback: str) -> str:
    """A file name from a title: safe characters only, the kind's extension."""
    stem = UNSAFE.sub("_", title).strip(" ._")[:NAME_LIMIT].strip(" ._")
    if stem.lower().endswith(extension):
        stem = stem[: -len(extension)]
    return f"{stem or fallback}{extension}"


# ---------------------------------------------------------------- reading the header


@dataclass(frozen=True)
class _Header:
    ds: Dataset
    syntax: UID
    pixel_offset: int  # where the Pixel Data element starts, -1 when there is none


def _read_header(path: Path) -> _Header:
    try:
        with path.open("rb") as stream:
            ds = dcmread(stream, defer_size=DEFER, stop_before_pixels=True)
            here = stream.tell()
            tag = stream.read(4)
    except (InvalidDicomError, EOFError, ValueError, OSError) as error:
        raise ConversionFailed(f"{path.name} is not a readable DICOM file: {error}") from error
    syntax = UID(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
    return _Header(ds, syntax, here if tag == PIXEL_DATA else -1)


def _document_kind(ds: Dataset) -> DocumentKind | None:
    return DocumentKind.for_sop_class(str(ds.get("SOPClassUID", ""))) or (
        DocumentKind.for_mime_type(str(ds.get("MIMETypeOfEncapsulatedDocument", "")))
    )


def _uid(ds: Dataset) -> str:
    return str(ds.get("SOPInstanceUID", "")) or "instance"


# ---------------------------------------------------------------- walking fragments


def _fragments(stream: BinaryIO, pixel_offset: int, name: str) -> Iterator[tuple[int, int]]:
    """(offset, length) of each Pixel Data fragment after the Basic Offset Table, read from
    the item headers (explicit VR little endian: tag, VR, 2 reserved bytes, length)."""
    stream.seek(pixel_offset)
    header = stream.read(12)
    if len(header) < 12 or int.from_bytes(header[8:12], "little") != UNDEFINED:
        raise ConversionFailed(f"{name}: Pixel Data is not encapsulated")
    first = True
    while True:
        item = stream.read(8)
        if item[:4] == SEQUENCE_END:
            return
        if len(item) < 8 or item[:4] != ITEM:
            raise ConversionFailed(f"{name}: the Pixel Data fragments are corrupt or truncated")
        length = int.from_bytes(item[4:8], "little")
        offset = stream.tell()
        stream.seek(offset + length)
        if stream.tell() != offset + length or length == UNDEFINED:
            raise ConversionFailed(f"{name}: a Pixel Data fragment runs past the end")
        if not first:
            yield offset, length
        first = False


def _copy(stream: BinaryIO, spans: list[tuple[int, int]], out: BinaryIO, total: int) -> None:
    """Copy the first ``total`` bytes of the joined spans to ``out``, in chunks."""
    left = total
    for offset, length in spans:
        stream.seek(offset)
        todo = min(length, left)
        while todo > 0:
            chunk = stream.read(min(CHUNK, todo))
            if not chunk:
                raise ConversionFailed("the Pixel Data ends before its fragments say")
            out.write(chunk)
            todo -= len(chunk)
            left -= len(chunk)
        if left <= 0:
            return


class _Joined:
    """Random access to the fragments' joined bytes (for reading container framing)."""

    def __init__(self, stream: BinaryIO, spans: list[tuple[int, int]]) -> None:
        self.stream, self.spans = stream, spans
        self.length = sum(length for _, length in spans)

    def read(self, at: int, count: int) -> bytes:
        out = bytearray()
        base = 0
        for offset, length in self.spans:
            if at < base + length and count > 0:
                start = max(0, at - base)
                take = min(length - start, count)
                self.stream.seek(offset + start)
                out += self.stream.read(take)
                at += take
                count -= take
            base += length
        return bytes(out)


def _mp4_end(data: _Joined) -> int | None:
    """Where the last top-level MP4 box ends (sizes: 32-bit, 1 = 64-bit, 0 = to the end)."""
    at = 0
    while at + 8 <= data.length:
        header = data.read(at, 16)
        size = int.from_bytes(header[:4], "big")
        if size == 1 and len(header) == 16:
            size = int.from_bytes(header[8:16], "big")
        elif size == 0:
            return data.length
        if size < 8:
            return None
        at += size
    return at if at <= data.length else None


def _video_length(data: _Joined, container: VideoContainer | None) -> int:
    """The video file's own length, the pad byte (if any) left out."""
    length = data.length
    last = data.read(length - 1, 1) if length else b""
    if length == 0 or last != b"\x00":
        return length
    if container is VideoContainer.MP4:
        end = _mp4_end(data)
        return end if end is not None and length - 1 <= end <= length else length
    if container is VideoContainer.MPEG_TS:
        return length - 1 if (length - 1) % 188 == 0 else length
    if container is VideoContainer.MPEG_PS:
        return length - 1 if data.read(length - 5, 4) == b"\x00\x00\x01\xb9" else length
    return length


def _frame_bytes(path: Path, header: _Header, frame: int) -> bytes:
    frames = int(header.ds.get("NumberOfFrames", 1) or 1)
    if not 1 <= frame <= frames:
        raise ConversionFailed(f"{path.name} has frames 1 to {frames}, not {frame}")
    with path.open("rb") as stream:
        stream.seek(header.pixel_offset + 12)
        try:
            for number, data in enumerate(generate_frames(stream, number_of_frames=frames), 1):
                if number == frame:
                    return _strip_after_end_marker(data)
        except (ValueError, OSError) as error:
            raise ConversionFailed(f"{path.name}: the Pixel Data is corrupt: {error}") from error
    raise ConversionFailed(f"{path.name}: the Pixel Data holds fewer than {frame} frames")


def _strip_after_end_marker(data: bytes) -> bytes:
    """A frame without the 0x00 padding after its EOI (JPEG, JPEG-LS) / EOC (J2K) marker."""
    trimmed = data.rstrip(b"\x00")
    return trimmed if trimmed.endswith(b"\xff\xd9") else data


# ---------------------------------------------------------------- what there is


def _video_container(path: Path, header: _Header) -> VideoContainer | None:
    with path.open("rb") as stream:
        spans = list(_fragments(stream, header.pixel_offset, path.name))
        return container_of(_Joined(stream, spans).read(0, 200))


def _what(path: Path, header: _Header) -> Extractable | None:
    ds = header.ds
    if "EncapsulatedDocument" in ds:
        kind = _document_kind(ds)
        mime = str(ds.get("MIMETypeOfEncapsulatedDocument", "")) or (
            kind.mime_type if kind else "application/octet-stream"
        )
        extension = kind.extension if kind else ".bin"
        name = safe_filename(str(ds.get("DocumentTitle", "")), extension, _uid(ds))
        return Extractable(ExtractKind.DOCUMENT, mime, name, 0)
    if header.pixel_offset < 0:
        return None
    if header.syntax in VIDEO_SYNTAXES:
        container = _video_container(path, header)
        extension = container.extension if container else ".bin"
        mime = container.mime_type if container else "application/octet-stream"
        return Extractable(ExtractKind.VIDEO, mime, f"{_uid(ds)}{extension}", 0)
    codec = FRAME_SYNTAXES.get(str(header.syntax))
    if codec is None:
        return None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return Extractable(ExtractKind.JPEG_FRAME, codec.mime_type, _frame_name(ds, codec, 1), frames)


def _frame_name(ds: Dataset, codec: FrameCodec, frame: int) -> str:
    return f"{_uid(ds)}_frame{frame}{codec.extension}"


def what_to_extract(path: Path) -> Extractable | None:
    """What ``extract`` gives back for ``path``; None when nothing is encapsulated there
    (a native image, an SR, RLE…). ConversionFailed for a file that is not readable DICOM."""
    return _what(path, _read_header(path))


def extracted_filename_and_mime(path: Path) -> tuple[str, str]:
    """The download's file name and MIME type (frame 1 of an image); ConversionSkipped when
    there is nothing to give back."""
    what = what_to_extract(path)
    if what is None:
        raise ConversionSkipped(f"{path.name} encapsulates no document, video or JPEG frame")
    return what.filename, what.mime_type


# ---------------------------------------------------------------- giving it back


def _write_document(path: Path, header: _Header, target: Path) -> int:
    ds = header.ds
    try:
        value = ds.EncapsulatedDocument
    except (ValueError, OSError, EOFError) as error:
        raise ConversionFailed(f"{path.name}: the encapsulated document is truncated") from error
    data = bytes(value or b"")
    length = ds.get("EncapsulatedDocumentLength")
    if length is not None:
        if int(length) > len(data):
            raise ConversionFailed(
                f"{path.name}: Encapsulated Document Length is {int(length)} "
                f"but the document holds {len(data)} bytes"
            )
        data = data[: int(length)]
    elif data.endswith(b"\x00") and _document_kind(ds) is DocumentKind.PDF:
        data = data[:-1]  # older writers: PDF ends with %%EOF and a line end, never a NUL
    target.write_bytes(data)
    return len(data)


def _write_video(path: Path, header: _Header, target: Path) -> int:
    with path.open("rb") as stream:
        spans = list(_fragments(stream, header.pixel_offset, path.name))
        joined = _Joined(stream, spans)
        length = _video_length(joined, container_of(joined.read(0, 200)))
        with target.open("wb") as out:
            _copy(stream, spans, out, length)
    return length


def extract(path: Path, out_dir: Path, frame: int | None = None) -> FileConversion:
    """Write what ``path`` encapsulates into ``out_dir`` (the frame, 1-based, for an image;
    frame 1 when not given). ConversionSkipped when there is nothing to give back,
    ConversionFailed for a corrupt file."""
    header = _read_header(path)
    what = _what(path, header)
    if what is None:
        raise ConversionSkipped(f"{path.name} encapsulates no document, video or JPEG frame")
    name = what.filename
    if what.kind is ExtractKind.JPEG_FRAME:
        codec = FRAME_SYNTAXES[str(header.syntax)]
        name = _frame_name(header.ds, codec, frame or 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    try:
        if what.kind is ExtractKind.DOCUMENT:
            written = _write_document(path, header, target)
        elif what.kind is ExtractKind.VIDEO:
            written = _write_video(path, header, target)
        else:
            target.write_bytes(_frame_bytes(path, header, frame or 1))
            written = target.stat().st_size
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return FileConversion(
        outputs=[OutputFile(path=target, name=name, is_dicom=False)],
        input_bytes=path.stat().st_size,
        frames=1 if what.kind is ExtractKind.JPEG_FRAME else 0,
        message=f"{what.kind.value}: {name}, {what.mime_type}, {written} bytes",
    )
