"""Swap bytes (dcm4che's ``swappxdata``): repair uncompressed OW pixel data that was written in
the wrong byte order under a little-endian transfer syntax.

What is swapped, as swappxdata: only native (uncompressed) Pixel Data (7FE0,0010) with Value
Representation OW and Bits Allocated above 8 in a little-endian transfer syntax (Implicit VR,
Explicit VR or Deflated Explicit VR Little Endian). Any other file is skipped
(:class:`ConversionSkipped`) with swappxdata's reason in words: no pixel data, compressed pixel
data, pixel data with VR OB, a big-endian transfer syntax, 8 bits allocated or fewer.

Whether a file needs it is decided from its values (:func:`detect_byte_order`, from up to
:data:`SAMPLE_FRAMES` frames spread over the file and at most :data:`SAMPLE_BYTES` bytes):

1. Bits Stored < Bits Allocated: the bits above Bits Stored must be empty (unsigned) or a sign
   extension (signed; all-zero high bits of masking writers are accepted too). The share of
   samples that break this is counted as written and once swapped; if the two differ by at
   least :data:`RANGE_MARGIN` (5 percentage points), the order with fewer broken samples wins
   ("needed: 98 % of samples exceed Bits Stored 12 as written, 0 % once swapped").
2. Otherwise (Bits Stored == Bits Allocated, or rule 1 undecided): images are smooth, so the
   mean absolute difference between neighbouring samples of a row (same colour channel) is
   small in the right order and large in the wrong one, where the noisy low byte lands in the
   high byte. The order whose mean difference is at least :data:`SMOOTHNESS_RATIO` (2×)
   smaller wins. For PALETTE COLOR the differences are those of the colours the palette
   shows, not of the indices: a palette may put the image in the high byte of its indices
   (gdcm-US-ALOKA-16 does, with a near-constant low byte), which as bare values looks just
   like swapped 8-bit data.
3. Neither rule decides (a blank or pure-noise image): "cannot tell", and with
   ``only_if_wrong`` the file is skipped rather than guessed at.

The fixed file is a repair: every byte outside the pixel data value is copied unchanged (same
UIDs, same meta header), and the pixel data is swapped in chunks of :data:`CHUNK_BYTES`, so
memory stays at one chunk whatever the file size. Deflated files are the exception: the whole
inflated dataset is read by pydicom, and the pixel data swapped in place (one extra copy of it).
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

from archive.conversions.outcome import (
    ConversionFailed,
    ConversionSkipped,
    FileConversion,
    OutputFile,
)
from archive.conversions.reading import read_deferred

PIXEL_DATA = Tag(0x7FE0, 0x0010)
CHUNK_BYTES = 4 * 1024 * 1024
SAMPLE_FRAMES = 16
SAMPLE_BYTES = 2 * 1024 * 1024
RANGE_MARGIN = 0.05
SMOOTHNESS_RATIO = 2.0


@dataclass(frozen=True)
class SwapOptions:
    # like swappxdata --if-big-endian: swap only when the values say the order is wrong
    only_if_wrong: bool = True


@dataclass(frozen=True)
class Verdict:
    """What the values say: ``needed`` True (wrong order), False (right) or None (cannot
    tell), ``reason`` in words, and the numbers behind it."""

    needed: bool | None
    reason: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class Layout:
    rows: int
    columns: int
    samples: int
    planar: int
    frames: int
    bits_allocated: int
    bits_stored: int
    signed: bool

    @property
    def word(self) -> int:
        return self.bits_allocated // 8

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples * self.word

    @property
    def line(self) -> tuple[int, int]:
        """(width of one line in samples, step between neighbours of the same channel)."""
        if self.planar == 1 and self.samples > 1:
            return self.columns, 1
        return self.columns * self.samples, self.samples

    def dtype(self, swapped: bool) -> np.dtype[np.integer]:
        kind = ("i" if self.signed else "u") + str(self.word)
        return np.dtype((">" if swapped else "<") + kind)


def _int(ds: Dataset, keyword: str, default: int) -> int:
    try:
        return int(ds.get(keyword, default) or default)
    except (TypeError, ValueError):
        return default


def layout_of(ds: Dataset) -> Layout:
    bits_allocated = _int(ds, "BitsAllocated", 0)
    try:
        frames = max(1, int(str(ds.get("NumberOfFrames", 1) or 1).strip()))
    except ValueError:
        frames = 1
    return Layout(
        rows=_int(ds, "Rows", 0), columns=_int(ds, "Columns", 0),
        samples=_int(ds, "SamplesPerPixel", 1), planar=_int(ds, "PlanarConfiguration", 0),
        frames=frames, bits_allocated=bits_allocated,
        bits_stored=min(_int(ds, "BitsStored", bits_allocated), bits_allocated),
        signed=_int(ds, "PixelRepresentation", 0) == 1,
    )


def _out_of_range(values: np.ndarray, layout: Layout) -> int:
    """Samples whose bits above Bits Stored are neither empty nor a sign extension."""
    raw = values.astype(np.uint64) & np.uint64((1 << layout.bits_allocated) - 1)
    high = raw >> np.uint64(layout.bits_stored)
    empty = high == 0
    if not layout.signed:
        return int(np.count_nonzero(~empty))
    full = np.uint64((1 << (layout.bits_allocated - layout.bits_stored)) - 1)
    sign = (raw >> np.uint64(layout.bits_stored - 1)) & np.uint64(1)
    extended = (high == full) & (sign == 1)
    return int(np.count_nonzero(~(empty | extended)))


def _roughness(values: np.ndarray, step: int) -> float:
    """Sum of absolute differences between neighbours of the same channel along the lines
    (``values`` of shape (lines, width) or (lines, width, 3) for palette colours)."""
    if values.shape[1] <= step:
        return 0.0
    as_float = values.astype(np.float64)
    return float(np.abs(as_float[:, step:] - as_float[:, :-step]).sum())


def _sample_lines(fp: BinaryIO, start: int, length: int, layout: Layout) -> list[bytes]:
    """Bands of whole lines from up to SAMPLE_FRAMES frames spread over the pixel data."""
    width, _ = layout.line
    line_bytes = width * layout.word
    lines_per_frame = layout.frame_bytes // line_bytes
    frames = min(layout.frames, length // max(layout.frame_bytes, 1))
    count = min(frames, SAMPLE_FRAMES)
    picked = sorted({round(i * (frames - 1) / max(count - 1, 1)) for i in range(count)})
    budget = max(line_bytes * 2, SAMPLE_BYTES // max(len(picked), 1))
    band = max(1, min(lines_per_frame, budget // line_bytes))
    first = (lines_per_frame - band) // 2
    blocks = []
    for frame in picked:
        fp.seek(start + frame * layout.frame_bytes + first * line_bytes)
        blocks.append(fp.read(band * line_bytes))
    return blocks


def _colours(values: np.ndarray, palette: Dataset) -> np.ndarray:
    """Palette indices through the file's Palette Colour LUT (clipped to 16 bits)."""
    indices = np.clip(values.astype(np.int64), 0, 65535).astype(np.uint16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return apply_color_lut(indices, palette).astype(np.float64)


def detect_byte_order(blocks: list[bytes], layout: Layout,
                      palette: Dataset | None = None) -> Verdict:
    """Apply the rules of the module docstring to sampled bands of lines; with ``palette``
    (a PALETTE COLOR dataset) rule 2 compares the smoothness of the colours it shows."""
    width, step = layout.line
    counts = {False: 0, True: 0}
    rough = {False: 0.0, True: 0.0}
    total = 0
    for block in blocks:
        for swapped in (False, True):
            values = np.frombuffer(block, dtype=layout.dtype(swapped)).reshape(-1, width)
            if layout.bits_stored < layout.bits_allocated:
                counts[swapped] += _out_of_range(values, layout)
            if palette is not None:
                rough[swapped] += _roughness(_colours(values, palette), step)
            else:
                rough[swapped] += _roughness(values, step)
        total += len(block) // layout.word
    share = {key: count / max(total, 1) for key, count in counts.items()}
    metrics = {"samples_checked": float(total), "out_of_range_as_written": share[False],
               "out_of_range_swapped": share[True], "roughness_as_written": rough[False],
               "roughness_swapped": rough[True]}
    if layout.bits_stored < layout.bits_allocated and abs(share[False] - share[True]) >= (
            RANGE_MARGIN):
        needed = share[False] > share[True]
        reason = (f"{share[False]:.0%} of samples exceed Bits Stored {layout.bits_stored} "
                  f"as written, {share[True]:.0%} once swapped").replace("%", " %")
        return Verdict(needed, reason, metrics)
    written, swapped_rough = rough[False], rough[True]
    noun = "colours" if palette is not None else "samples"
    if written >= SMOOTHNESS_RATIO * swapped_rough and written > 0:
        return Verdict(True, _smoothness_text(written, swapped_rough, "swapped", noun), metrics)
    if swapped_rough >= SMOOTHNESS_RATIO * written and swapped_rough > 0:
        return Verdict(False, _smoothness_text(swapped_rough, written, "as written", noun),
                       metrics)
    return Verdict(None, f"neighbouring {noun} are about as smooth in both byte orders "
                   f"(mean step {written / max(total, 1):.1f} as written, "
                   f"{swapped_rough / max(total, 1):.1f} swapped)", metrics)


def _smoothness_text(rough: float, smooth: float, smooth_order: str, noun: str) -> str:
    ratio = rough / smooth if smooth else float("inf")
    shown = "∞" if ratio == float("inf") else f"{ratio:.0f}×"
    return f"neighbouring {noun} are {shown} smoother {smooth_order}"


def _refusal(ds: Dataset, element: RawDataElement | None) -> str | None:
    """swappxdata's reasons to leave a file untouched, in words; None when it is swappable."""
    if element is None:
        return "no pixel data (no Pixel Data (7FE0,0010) element)"
    transfer_syntax = ds.file_meta.get("TransferSyntaxUID")
    if (transfer_syntax is not None and transfer_syntax.is_compressed) or (
            element.length == 0xFFFFFFFF):
        return f"compressed pixel data ({getattr(transfer_syntax, 'name', 'encapsulated')})"
    implicit, little_endian = ds.original_encoding  # as read, also without a meta header
    if not little_endian:
        name = getattr(transfer_syntax, "name", "Explicit VR Big Endian")
        return f"big endian transfer syntax ({name}): its byte order is explicit"
    bits_allocated = _int(ds, "BitsAllocated", 0)
    if not implicit and element.VR == "OB":
        return "pixel data with Value Representation OB (bytes have no order)"
    if bits_allocated <= 8:
        return f"pixel data with {bits_allocated} bits allocated (one byte per sample)"
    return None


def _read_header(source: Path) -> tuple[Dataset, RawDataElement | None]:
    ds = read_deferred(source, 1024)
    if PIXEL_DATA not in ds:
        return ds, None
    element = ds.get_item(PIXEL_DATA, keep_deferred=True)
    if not isinstance(element, RawDataElement):  # already converted: should not happen
        raise ConversionFailed("the pixel data could not be located in the file")
    return ds, element


def _check_layout(layout: Layout, length: int) -> None:
    if layout.bits_allocated not in (16, 32):
        raise ConversionFailed(f"{layout.bits_allocated} bits allocated: only 16 and 32 bit "
                               "samples have a byte order to swap")
    if layout.rows < 1 or layout.columns < 1 or layout.bits_stored < 1:
        raise ConversionFailed("Rows, Columns or Bits Stored missing or zero")
    if length % layout.word:
        raise ConversionFailed(f"Pixel Data has {length} bytes, not a whole number of "
                               f"{layout.word}-byte samples")
    expected = layout.frame_bytes * layout.frames
    if length < expected:
        raise ConversionFailed(f"Pixel Data has {length} bytes, {expected} expected for "
                               f"{layout.frames} frame(s) of {layout.rows}×{layout.columns}"
                               f"×{layout.samples} — truncated")


def _copy_swapped(source: Path, target: Path, start: int, length: int, word: int) -> None:
    """Copy ``source`` to ``target`` with the ``length`` bytes at ``start`` swapped per
    ``word``-byte sample, one chunk at a time."""
    chunk = CHUNK_BYTES - CHUNK_BYTES % word
    dtype = np.dtype(f"<u{word}")
    with source.open("rb") as src, target.open("wb") as dst:
        _copy_exactly(src, dst, start)
        left = length
        while left:
            data = bytearray(src.read(min(chunk, left)))
            if len(data) % word or not data:
                raise ConversionFailed("the file ended inside the pixel data")
            np.frombuffer(data, dtype=dtype).byteswap(inplace=True)
            dst.write(data)
            left -= len(data)
        shutil.copyfileobj(src, dst, CHUNK_BYTES)


def _copy_exactly(src: BinaryIO, dst: BinaryIO, count: int) -> None:
    left = count
    while left:
        data = src.read(min(CHUNK_BYTES, left))
        if not data:
            raise ConversionFailed("the file ended before the pixel data")
        dst.write(data)
        left -= len(data)


def _swap_deflated(source: Path, target: Path, layout: Layout) -> None:
    ds = dcmread(source, force=True)  # inflating needs the whole dataset in memory anyway
    buffer = bytearray(ds.PixelData)
    ds.PixelData = b""  # the original bytes are freed: two copies at most, never three
    np.frombuffer(buffer, dtype=np.dtype(f"<u{layout.word}")).byteswap(inplace=True)
    ds.PixelData = bytes(buffer)
    del buffer
    ds.save_as(target, enforce_file_format=False)


def _verdict_for(source: Path, ds: Dataset, element: RawDataElement,
                 layout: Layout) -> Verdict:
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    palette = ds if photometric == "PALETTE COLOR" and layout.samples == 1 else None
    transfer_syntax = ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian)
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        full = dcmread(source, force=True)
        data = full.PixelData
        blocks = [data[i * layout.frame_bytes:(i + 1) * layout.frame_bytes]
                  for i in range(min(layout.frames, SAMPLE_FRAMES))]
        return detect_byte_order(blocks, layout, palette)
    with source.open("rb") as fp:
        blocks = _sample_lines(fp, element.value_tell, element.length, layout)
    return detect_byte_order(blocks, layout, palette)


def swap_file(source: Path, out_dir: Path, options: SwapOptions) -> FileConversion:
    """The file with its pixel bytes swapped, as a new file in ``out_dir`` of the same name."""
    ds, element = _read_header(source)
    refusal = _refusal(ds, element)
    if refusal is not None or element is None:
        raise ConversionSkipped(refusal or "no pixel data")
    layout = layout_of(ds)
    _check_layout(layout, element.length)
    transfer_syntax = ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian)
    end = element.value_tell + element.length
    if transfer_syntax != DeflatedExplicitVRLittleEndian and end > source.stat().st_size:
        raise ConversionFailed(f"Pixel Data is said to have {element.length} bytes but the "
                               f"file ends {end - source.stat().st_size} bytes short — "
                               "truncated")
    verdict = _verdict_for(source, ds, element, layout)
    if options.only_if_wrong and verdict.needed is False:
        raise ConversionSkipped(f"byte order already right: {verdict.reason}")
    if options.only_if_wrong and verdict.needed is None:
        raise ConversionSkipped(f"byte order cannot be told from the values: {verdict.reason}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        _swap_deflated(source, target, layout)
    else:
        _copy_swapped(source, target, element.value_tell, element.length, layout.word)
    state = {True: "needed", False: "not needed (swapped anyway)",
             None: "undecided (swapped anyway)"}[verdict.needed]
    metrics = dict(verdict.metrics, needed=float(verdict.needed is True), swapped=1.0)
    return FileConversion(
        outputs=[OutputFile(target, source.name, str(ds.get("SOPInstanceUID", "") or ""))],
        input_bytes=source.stat().st_size, frames=layout.frames,
        message=f"{state}: {verdict.reason}", metrics=metrics,
    )
