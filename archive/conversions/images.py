"""Export images (dcm4che's ``dcm2jpg``, GDCM's ``gdcm2pnm``): every frame of an instance as an
8-bit PNG or JPEG, or all its frames as one animated GIF, rendered by the console's own renderer
(:mod:`archive.rendering`: Modality LUT, window, MONOCHROME1 inversion, palette colour,
YBR to RGB, enhanced multi-frame functional groups).

Windows (:class:`WindowChoice`): the file's own (Window Center/Width, else its VOI LUT, else —
like dcm2jpg — the minimum to maximum of the frame), the frame's minimum to maximum
(DCMTK ``+Wm``), a named preset (the render page's table) or typed centre and width. Colour
images (RGB, YBR, palette) are shown as they are; a window does not apply to them.

Memory: frames are decoded one at a time with pydicom's frame iterator and written before the
next is decoded. The GIF writer (Pillow) needs every frame before it writes: it holds all
frames as 8-bit images, one byte per pixel after palette quantisation, which is bounded by
:data:`GIF_MAX_PIXELS`. MP4 is not offered: no kept library installed here encodes it
(Pillow writes no video; imageio, PyAV and OpenCV are not installed).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import iter_pixels

from archive.conversions.outcome import (
    ConversionFailed,
    ConversionSkipped,
    FileConversion,
    OutputFile,
)
from archive.conversions.reading import read_deferred
from archive.rendering import (
    PIXEL_KEYWORDS,
    WINDOW_PRESETS,
    RenderRefused,
    Window,
    check_budget,
    decode_frame,
    file_window,
    frame_count,
    modality_values,
    to_display,
)

GIF_MAX_PIXELS = 256 * 1024 * 1024  # all frames of one GIF, 8 bits each after quantising
DEFAULT_FRAME_DELAY_MS = 100


class ImageFormat(StrEnum):
    PNG = "png"
    JPEG = "jpeg"
    GIF = "gif"  # one animated GIF of all frames

    @property
    def suffix(self) -> str:
        return {"png": ".png", "jpeg": ".jpg", "gif": ".gif"}[self.value]


class WindowChoice(StrEnum):
    FILE = "file"  # the file's window, else its VOI LUT, else the frame's min-max (dcm2jpg)
    MINMAX = "minmax"  # the frame's minimum to maximum after the Modality LUT (DCMTK +Wm)
    PRESET = "preset"  # a named preset of WINDOW_PRESETS
    TYPED = "typed"  # center and width as given


@dataclass(frozen=True)
class ImageExportOptions:
    format: ImageFormat = ImageFormat.PNG
    quality: int = 90  # JPEG only, 1–100
    window: WindowChoice = WindowChoice.FILE
    preset: str | None = None  # a key of WINDOW_PRESETS: lung, mediastinum, bone, brain…
    center: float | None = None
    width: float | None = None
    frame_delay_ms: int | None = None  # GIF; None: from Frame Time or Cine Rate, else 100

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must be 1 to 100, not {self.quality}")
        if self.window == WindowChoice.PRESET and self.preset not in WINDOW_PRESETS:
            raise ValueError(f"unknown window preset {self.preset!r}; one of "
                             + ", ".join(WINDOW_PRESETS))
        if self.window == WindowChoice.TYPED and (
                self.center is None or self.width is None or self.width < 1):
            raise ValueError("a typed window needs a center and a width of at least 1")
        if self.frame_delay_ms is not None and self.frame_delay_ms < 1:
            raise ValueError("the frame delay must be at least 1 ms")


def presets() -> dict[str, Window]:
    """The named windows (the render page's table)."""
    return {key: Window(center, width) for key, (_, center, width) in WINDOW_PRESETS.items()}


def _is_colour(arr: np.ndarray, ds: Dataset) -> bool:
    return arr.ndim == 3 or str(ds.get("PhotometricInterpretation", "")).strip() == (
        "PALETTE COLOR")


def min_max_window(arr: np.ndarray, ds: Dataset, frame: int) -> Window:
    """DCMTK's min-max window of a frame (DiMonoPixel::getMinMaxWindow): center
    (min + max + 1) / 2, width max − min + 1, on the values after the Modality LUT."""
    values = modality_values(arr, ds, frame)
    low, high = float(np.min(values)), float(np.max(values))
    return Window((low + high + 1) / 2, high - low + 1)


def chosen_window(options: ImageExportOptions, arr: np.ndarray, ds: Dataset,
                  frame: int) -> Window | None:
    """The window for ``frame``; None lets the renderer use the file's (or its fallback)."""
    if _is_colour(arr, ds):
        return None
    if options.window == WindowChoice.PRESET and options.preset is not None:
        return presets()[options.preset]
    if options.window == WindowChoice.TYPED and options.center is not None and (
            options.width is not None):
        return Window(options.center, options.width)
    if options.window == WindowChoice.MINMAX:
        return min_max_window(arr, ds, frame)
    return None


def _header_is_colour(ds: Dataset) -> bool:
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    return photometric == "PALETTE COLOR" or int(ds.get("SamplesPerPixel", 1) or 1) > 1


def window_text(options: ImageExportOptions, ds: Dataset) -> str:
    if _header_is_colour(ds):
        photometric = str(ds.get("PhotometricInterpretation", "")).strip()
        return f"{photometric} colour as stored (no window)"
    if options.window == WindowChoice.PRESET:
        return f"preset {options.preset}"
    if options.window == WindowChoice.TYPED:
        return f"window C {options.center:g} W {options.width:g}"
    if options.window == WindowChoice.MINMAX:
        return "min-max window per frame"
    window = file_window(ds, 0)
    if window is not None:
        return f"the file's window C {window.center:g} W {window.width:g}"
    return "the file's VOI LUT" if "VOILUTSequence" in ds else "min-max (no window in file)"


def _read_header(source: Path) -> Dataset:
    ds = read_deferred(source, 64 * 1024)
    if not any(keyword in ds for keyword in PIXEL_KEYWORDS):
        kind = str(ds.get("Modality", "") or "this object")
        raise ConversionSkipped(f"no pixel data ({kind}): nothing to render")
    try:
        check_budget(ds)
    except RenderRefused as exc:
        raise ConversionFailed(str(exc)) from exc
    return ds


def _streamable(source: Path, ds: Dataset) -> bool:
    """pydicom's frame iterator reads Part 10 files; the renderer decodes the rest (bare
    datasets, 1-bit RLE) itself, one frame per call."""
    with source.open("rb") as fp:
        fp.seek(128)
        part10 = fp.read(4) == b"DICM"
    one_bit_rle = (ds.file_meta.get("TransferSyntaxUID") == "1.2.840.10008.1.2.5"
                   and int(ds.get("BitsAllocated", 0) or 0) == 1)
    return part10 and not one_bit_rle


def frames_of(source: Path, ds: Dataset) -> Iterator[np.ndarray]:
    """Decoded frames, one at a time; ConversionFailed when the pixel data is broken."""
    try:
        if _streamable(source, ds):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield from iter_pixels(source)
        else:
            for frame in range(frame_count(ds)):
                yield decode_frame(source, frame)[0]
    except RenderRefused as exc:
        raise ConversionFailed(str(exc)) from exc
    except Exception as exc:  # codec missing, corrupt or truncated stream…
        raise ConversionFailed(
            f"the pixel data cannot be decoded: {type(exc).__name__}: {exc}") from exc


def displayed(source: Path, ds: Dataset, options: ImageExportOptions) -> Iterator[Image.Image]:
    """Each frame as the 8-bit image the console shows with the chosen window."""
    for frame, arr in enumerate(frames_of(source, ds)):
        try:
            window = chosen_window(options, arr, ds, frame)
            shown = to_display(arr, ds, window, frame)
        except Exception as exc:  # a palette or LUT that does not fit the values…
            raise ConversionFailed(f"frame {frame + 1} cannot be rendered: "
                                   f"{type(exc).__name__}: {exc}") from exc
        yield Image.fromarray(shown)


def frame_delay_ms(ds: Dataset, options: ImageExportOptions) -> int:
    """Options first, then Frame Time (ms), then Cine Rate (frames/s), else 100 ms."""
    if options.frame_delay_ms is not None:
        return options.frame_delay_ms
    for keyword, to_ms in (("FrameTime", lambda v: v), ("CineRate", lambda v: 1000.0 / v)):
        try:
            value = float(ds.get(keyword) or 0)
        except (TypeError, ValueError):
            continue
        if value > 0:
            return max(1, round(to_ms(value)))
    return DEFAULT_FRAME_DELAY_MS


def _save_frame(image: Image.Image, path: Path, options: ImageExportOptions) -> None:
    if options.format == ImageFormat.JPEG:
        # 4:4:4: no chroma subsampling, so colour edges keep their colour
        image.save(path, format="JPEG", quality=options.quality, subsampling=0)
    else:
        image.save(path, format="PNG")


def _write_frames(source: Path, ds: Dataset, out_dir: Path,
                  options: ImageExportOptions) -> list[OutputFile]:
    outputs: list[OutputFile] = []
    for number, image in enumerate(displayed(source, ds, options), start=1):
        name = f"{source.stem}_f{number:04d}{options.format.suffix}"
        path = out_dir / name
        _save_frame(image, path, options)
        outputs.append(OutputFile(path, name, is_dicom=False))
    return outputs


def _gif_frame(image: Image.Image) -> Image.Image:
    """Grey frames stay 8-bit grey (exact in a GIF); colour ones get an adaptive palette."""
    if image.mode == "L":
        return image
    return image.convert("RGB").quantize(256, dither=Image.Dither.NONE)


def _write_gif(source: Path, ds: Dataset, out_dir: Path,
               options: ImageExportOptions) -> list[OutputFile]:
    pixels = int(ds.get("Rows", 0) or 0) * int(ds.get("Columns", 0) or 0) * frame_count(ds)
    if pixels > GIF_MAX_PIXELS:
        raise ConversionFailed(f"{frame_count(ds)} frames of {pixels // frame_count(ds)} pixels "
                               f"exceed the animated GIF budget of {GIF_MAX_PIXELS} pixels; "
                               "export the frames as PNG instead")
    frames = [_gif_frame(image) for image in displayed(source, ds, options)]
    name = f"{source.stem}.gif"
    path = out_dir / name
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:],
                   duration=frame_delay_ms(ds, options), loop=0)
    return [OutputFile(path, name, is_dicom=False)]


def export_images(source: Path, out_dir: Path, options: ImageExportOptions) -> FileConversion:
    """Every frame of ``source`` as an image file in ``out_dir`` (or one GIF of them all)."""
    ds = _read_header(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _write_gif if options.format == ImageFormat.GIF else _write_frames
    try:
        outputs = writer(source, ds, out_dir, options)
    except ConversionFailed:
        for leftover in out_dir.glob(f"{source.stem}*{options.format.suffix}"):
            leftover.unlink()
        raise
    frames = frame_count(ds)
    label = options.format.value.upper()
    what = (f"animated GIF of {frames} frame(s), {frame_delay_ms(ds, options)} ms each"
            if options.format == ImageFormat.GIF else f"{len(outputs)} {label} frame(s)")
    if options.format == ImageFormat.JPEG:
        what += f", quality {options.quality}"
    warnings_ = []
    if options.window != WindowChoice.FILE and _header_is_colour(ds):
        warnings_.append(f"{options.window} window not applied: colour images are shown as "
                         "stored")
    return FileConversion(outputs=outputs, input_bytes=source.stat().st_size, frames=frames,
                          message=f"{what}, {window_text(options, ds)}", warnings=warnings_,
                          metrics={"frames": float(frames)})
