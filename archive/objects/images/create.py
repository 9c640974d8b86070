"""New image instances from picture files (like dcm4che jpg2dcm, DCMTK img2dcm and GDCM
gdcmimg): ``create_image`` makes one instance of one file, ``create_multiframe`` one
instance whose frames are several files.

A JPEG is encapsulated as it is (no re-encoding, APPn segments kept unless asked otherwise)
when no target syntax is given or the target is its own; otherwise it is decoded like PNG, BMP,
TIFF and raw files, and the decoded frames are written uncompressed (Explicit VR Little
Endian) or in the target (a lossy one only with ``lossy=True``). Progressive JPEG (SOF2) has
only a retired DICOM transfer syntax (1.2.840.10008.1.2.4.55) that few decoders know: it is
refused unless ``accept_progressive`` is set (then encapsulated in that syntax, as img2dcm and
jpg2dcm do by default) or a target is given (then decoded and re-encoded).

A multi-page TIFF becomes one multi-frame instance, each page a frame (Multi-frame SC).
A palette PNG/BMP/TIFF stays PALETTE COLOR (16-bit LUT entries) in a single-frame Secondary
Capture written losslessly; VL classes, Multi-frame SC and lossy targets get it expanded to
RGB (with a warning). Alpha is dropped with a warning.
Odd-length JPEG fragments end with one 0x00 pad byte (PS3.5 A.4); the JPEG itself ends at
its EOI marker (``jpeg.jpeg_end``), which is how an extract finds the original length.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID

from archive.conversions.outcome import ConversionFailed, FileConversion
from archive.conversions.syntaxes import TargetSyntax
from archive.objects.common import Identity, output_name, start_dataset, write_part10
from archive.objects.images.content import PixelContent, encoded_content, jpeg_content
from archive.objects.images.jpeg import (
    PROGRESSIVE_UID,
    JpegInfo,
    JpegProcess,
    parse_jpeg,
    without_app_segments,
)
from archive.objects.images.pixels import (
    ImageFormat,
    Picture,
    decode_jpeg,
    decode_pillow,
    decode_raw,
    image_format,
)
from archive.objects.images.sop_classes import (
    MULTIFRAME_LABELS,
    ImageSopClass,
    check_visible_light,
    fill_image_modules,
    fill_multiframe_modules,
    multiframe_class,
)

HEAD_BYTES = 32
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class RawImageSpec:
    """How a raw sample file is laid out (``gdcmimg --size C,R --depth --spp --sign
    --endian --offset``): samples interleaved by pixel, whole frames after the header."""

    columns: int
    rows: int
    bits_allocated: int = 8
    samples_per_pixel: int = 1
    signed: bool = False
    big_endian: bool = False
    offset: int = 0


@dataclass(frozen=True)
class ImageCreateOptions:
    identity: Identity
    sop_class: ImageSopClass
    target: TargetSyntax | None = None  # None: JPEG as is, other inputs Explicit VR LE
    lossy: bool = False  # a lossy target is allowed
    keep_app_segments: bool = True  # False: drop JPEG APPn (jpg2dcm --no-app)
    raw: RawImageSpec | None = None  # set: the sources are raw samples laid out so
    accept_progressive: bool = False  # encapsulate SOF2 JPEG in the retired syntax


@dataclass
class _Input:
    path: Path
    data: bytes
    kind: ImageFormat
    jpeg: JpegInfo | None = None


def is_image(path: Path) -> bool:
    """A JPEG, PNG, BMP or TIFF file, by its first bytes."""
    return image_format_of(path) is not None


def image_format_of(path: Path) -> ImageFormat | None:
    try:
        with path.open("rb") as handle:
            return image_format(handle.read(HEAD_BYTES))
    except OSError:
        return None


def _read(path: Path, options: ImageCreateOptions) -> _Input:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConversionFailed(f"{path.name} cannot be read: {exc.strerror or exc}") from exc
    if not data:
        raise ConversionFailed(f"{path.name} is empty")
    if options.raw is not None:
        return _Input(path, data, ImageFormat.RAW)
    kind = image_format(data[:HEAD_BYTES])
    if kind is None:
        raise ConversionFailed(f"{path.name} is not a JPEG, PNG, BMP or TIFF file (its first "
                               f"bytes are {data[:8].hex(' ')})")
    item = _Input(path, data, kind)
    if kind == ImageFormat.JPEG:
        try:
            item.jpeg = parse_jpeg(data)
        except ConversionFailed as exc:
            raise ConversionFailed(f"{path.name}: {exc}") from exc
    return item


def _as_is(item: _Input, options: ImageCreateOptions) -> bool:
    """Encapsulate this JPEG without decoding it."""
    info = item.jpeg
    if info is None:
        return False
    if options.target is not None and options.target.uid != info.transfer_syntax_uid:
        return False
    if info.process == JpegProcess.PROGRESSIVE and not options.accept_progressive:
        raise ConversionFailed(
            f"{item.path.name} is a progressive JPEG (SOF2): its DICOM transfer syntax "
            f"({PROGRESSIVE_UID}) is retired and few viewers decode it. Pick a target syntax "
            "to store it decoded, or accept progressive JPEG to encapsulate it as is")
    return True


def _stream(item: _Input, options: ImageCreateOptions, notes: list[str]) -> bytes:
    info = item.jpeg
    assert info is not None
    trailing = len(item.data) - info.end
    if trailing:
        notes.append(f"{item.path.name}: {trailing} byte(s) after the EOI marker left out")
    if options.keep_app_segments or not info.app_segments:
        return item.data[:info.end]
    notes.append(f"{item.path.name}: {len(info.app_segments)} APPn segment(s) left out")
    return without_app_segments(item.data, info)


def _picture(item: _Input, options: ImageCreateOptions) -> Picture:
    try:
        return _decoded(item, options)
    except ConversionFailed as exc:
        raise ConversionFailed(f"{item.path.name}: {exc}") from exc


def _decoded(item: _Input, options: ImageCreateOptions) -> Picture:
    if item.kind == ImageFormat.RAW:
        spec = options.raw
        assert spec is not None
        return decode_raw(item.data, spec.columns, spec.rows, spec.bits_allocated,
                          spec.samples_per_pixel, spec.signed, spec.big_endian, spec.offset)
    if item.jpeg is not None:
        return decode_jpeg(item.data[:item.jpeg.end], item.jpeg.is_lossy)
    return decode_pillow(item.data, item.kind)


def _with_palettes(options: ImageCreateOptions,
                   pictures: list[tuple[Path, Picture]]) -> list[tuple[Path, Picture]]:
    """Palette images stay PALETTE COLOR in a single-frame Secondary Capture written
    losslessly; elsewhere (VL, Multi-frame SC, lossy targets) their colours are expanded."""
    keep = (options.sop_class == ImageSopClass.SECONDARY_CAPTURE and len(pictures) == 1
            and (options.target is None or not options.target.is_lossy))
    return pictures if keep else [(path, picture.expanded()) for path, picture in pictures]


def _orientation_note(item: _Input) -> str | None:
    if item.kind == ImageFormat.RAW:
        return None
    try:
        with Image.open(io.BytesIO(item.data)) as image:
            orientation = image.getexif().get(EXIF_ORIENTATION)
    except Exception:  # a file pillow cannot read has no orientation to warn about
        return None
    if orientation in (None, 1):
        return None
    return (f"{item.path.name}: Exif Orientation {orientation} is not applied; the image shows "
            "as stored (rotated or mirrored)")


def _content(items: list[_Input], options: ImageCreateOptions) -> PixelContent:
    notes = [note for item in items if (note := _orientation_note(item))]
    as_is = [_as_is(item, options) for item in items]
    if all(as_is):
        content = jpeg_content([(item.path, _stream(item, options, notes), item.jpeg)
                                for item in items if item.jpeg is not None])
        if content.transfer_syntax == PROGRESSIVE_UID:
            notes.append("progressive JPEG kept in the retired transfer syntax "
                         f"{PROGRESSIVE_UID}: many viewers cannot decode it")
    elif any(as_is):
        raise ConversionFailed("these files mix JPEGs kept as they are with images that must "
                               "be decoded: pick a target syntax so that all are decoded")
    else:
        pictures = _with_palettes(options, [(item.path, _picture(item, options))
                                            for item in items])
        for path, picture in pictures:
            notes.extend(f"{path.name}: {note}" for note in picture.warnings)
        content = encoded_content(pictures, options.target, options.lossy)
    content.warnings = notes + content.warnings
    return content


def _sop_class_uid(content: PixelContent, options: ImageCreateOptions) -> tuple[UID, str]:
    sop_class = options.sop_class
    check_visible_light(sop_class, content.samples, content.bits_allocated, content.signed,
                        content.frame_count)
    if content.frame_count == 1:
        return sop_class.uid, sop_class.label
    uid = multiframe_class(content.samples, content.bits_allocated, content.bits_stored,
                           content.signed)
    return uid, MULTIFRAME_LABELS[uid]


def _pixel_module(ds: Dataset, content: PixelContent) -> None:
    ds.SamplesPerPixel = content.samples
    ds.PhotometricInterpretation = content.photometric
    ds.Rows, ds.Columns = content.rows, content.columns
    ds.BitsAllocated, ds.BitsStored = content.bits_allocated, content.bits_stored
    ds.HighBit = content.bits_stored - 1
    ds.PixelRepresentation = int(content.signed)
    if content.samples > 1:
        ds.PlanarConfiguration = content.planar
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration
    if content.palette is not None:
        _palette_module(ds, content.palette)
    if content.lossy_steps:
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionRatio = [ratio for ratio, _ in content.lossy_steps]
        ds.LossyImageCompressionMethod = [method for _, method in content.lossy_steps]
    else:
        ds.LossyImageCompression = "00"
    if content.encapsulated:
        value = encapsulate(content.frames, has_bot=content.frame_count > 1)
        ds.add_new(0x7FE00010, "OB", value)
    else:
        value = b"".join(content.frames)
        value += b"\x00" * (len(value) % 2)
        ds.add_new(0x7FE00010, "OW" if content.bits_allocated > 8 else "OB", value)


def _palette_module(ds: Dataset, palette: np.ndarray) -> None:
    """Palette Color Lookup Table: 16-bit entries (8-bit colours × 257), first index 0."""
    entries = len(palette)
    for channel, colour in enumerate(("Red", "Green", "Blue")):
        ds.add(DataElement(f"{colour}PaletteColorLookupTableDescriptor", "US",
                           [entries if entries < 65536 else 0, 0, 16]))
        values = palette[:, channel].astype("<u2") * 257
        ds.add(DataElement(f"{colour}PaletteColorLookupTableData", "OW", values.tobytes()))


def _dataset(content: PixelContent, options: ImageCreateOptions) -> tuple[Dataset, str]:
    sop_class_uid, label = _sop_class_uid(content, options)
    ds = start_dataset(options.identity, sop_class_uid, options.sop_class.modality,
                       template_modality=not options.sop_class.is_visible_light)
    fill_image_modules(ds, options.sop_class, content.derived)
    _pixel_module(ds, content)
    if content.frame_count > 1:
        fill_multiframe_modules(ds, content.frame_count)
    elif "NumberOfFrames" in ds:
        del ds.NumberOfFrames
    return ds, label


def _create(paths: list[Path], out_dir: Path, options: ImageCreateOptions) -> FileConversion:
    items = [_read(path, options) for path in paths]
    content = _content(items, options)
    ds, label = _dataset(content, options)
    target = out_dir / output_name(options.sop_class.file_prefix, options.identity)
    try:
        output = write_part10(ds, target, content.transfer_syntax)
    except Exception:
        target.unlink(missing_ok=True)
        raise
    input_bytes = sum(len(item.data) for item in items)
    frames = f", {content.frame_count} frames" if content.frame_count > 1 else ""
    message = (f"{label}, {content.columns}×{content.rows} {content.photometric}{frames}: "
               f"{content.summary}")
    metrics = dict(content.metrics)
    metrics.setdefault("ratio", round(input_bytes / max(1, output.size), 3))
    return FileConversion(outputs=[output], input_bytes=input_bytes,
                          frames=content.frame_count, message=message,
                          warnings=content.warnings, metrics=metrics)


def create_image(source: Path, out_dir: Path, options: ImageCreateOptions) -> FileConversion:
    """One instance from one picture file (its format told from its content; raw when
    ``options.raw`` is set). A multi-page TIFF or a raw file of several frames gives a
    multi-frame instance."""
    return _create([source], out_dir, options)


def create_multiframe(sources: list[Path], out_dir: Path,
                      options: ImageCreateOptions) -> FileConversion:
    """One multi-frame instance whose frames are ``sources`` in order: all must have the same
    size and pixel description (JPEGs kept as they are: the same process too)."""
    if not sources:
        raise ConversionFailed("no image files were given")
    return _create(list(sources), out_dir, options)
