"""WADO-RS rendered and thumbnail resources (PS3.18 10.4.1.1.3-4, query parameters 8.3.5.1):
the query parameters, the media type the Accept header lets a resource go in, the instance
that stands for a study or a series, and the encoded picture.

- An image instance is drawn by archive/rendering.py (modality LUT, the file's window or the
  ``window`` parameter with its VOI LUT function, MONOCHROME1 inverted, colour) as
  image/jpeg (the default), image/png or image/gif. ``/rendered`` of a multi-frame instance
  is its first frame (a Warning says so); ``frames/{list}/rendered`` of one frame is that
  frame, of several an animated image/gif (only).
- An encapsulated document (PDF, CDA…) or a video goes as it is encapsulated, in its own
  media type (application/pdf, video/mp4…), when the Accept header takes that type.
- A study or series stands for its first instance with pixel data, unless the Accept header
  asks for ``multipart/related; type="image/…"``: then one part per instance with pixel data.
- A thumbnail is one small image: the middle frame of the middle picture of the (first
  picture-holding) series, 128 pixels at most unless ``viewport`` says otherwise.
"""

from __future__ import annotations

import io
import math
import shutil
import tempfile
import warnings as pywarnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db.models import QuerySet
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset

from archive.conversions.outcome import ConversionFailed, ConversionSkipped
from archive.dicomweb.accept import media_ranges
from archive.models import Instance
from archive.objects.extract import VIDEO_SYNTAXES, extract, what_to_extract
from archive.rendering import (
    PIXEL_KEYWORDS,
    RenderRefused,
    VoiFunction,
    Window,
    decode_frame,
    frame_count,
    to_display,
)
from archive.storage import absolute_path

DEFAULT_QUALITY = 90
THUMBNAIL_SIZE = 128
MAX_ANIMATED_FRAMES = 100
GIF_FRAME_MS = 100
_FUNCTIONS = {"linear": VoiFunction.LINEAR, "linear-exact": VoiFunction.LINEAR_EXACT,
              "sigmoid": VoiFunction.SIGMOID}


class BadParameter(ValueError):
    """A query parameter or frame list that cannot be honoured: 400 with this reason."""


class NotRenderable(ValueError):
    """No rendered representation the Accept header accepts: 406 with this reason."""


class ImageType(StrEnum):
    JPEG = "image/jpeg"
    PNG = "image/png"
    GIF = "image/gif"


IMAGE_TYPES: tuple[str, ...] = tuple(kind.value for kind in ImageType)


class Resource(StrEnum):
    RENDERED = "rendered"
    THUMBNAIL = "thumbnail"


@dataclass(frozen=True)
class Viewport:
    """``viewport=vw,vh[,sx,sy,sw,sh]``: the source region (default the whole image; a
    negative sw or sh flips it) scaled to fit vw × vh, keeping its aspect ratio."""

    width: int
    height: int
    sx: int = 0
    sy: int = 0
    sw: int | None = None
    sh: int | None = None


@dataclass(frozen=True)
class RenderParams:
    window: Window | None = None
    viewport: Viewport | None = None
    quality: int | None = None
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------- query parameters


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadParameter(f"{what} must be a number, not {text!r}.") from None
    if not math.isfinite(value):
        raise BadParameter(f"{what} must be a finite number, not {text!r}.")
    return value


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise BadParameter(f"{what} must be a whole number, not {text!r}.") from None


def parse_window(value: str) -> Window:
    """``window=center,width[,function]``, function linear (default), linear-exact or
    sigmoid (PS3.18 8.3.5.1.4, PS3.3 C.11.2.1.2-3)."""
    parts = [part.strip() for part in value.split(",")]
    if len(parts) not in (2, 3):
        raise BadParameter(f"window is center,width,function (linear, linear-exact or "
                           f"sigmoid), not {value!r}.")
    center, width = _number(parts[0], "The window center"), _number(parts[1], "The window width")
    name = parts[2].lower() if len(parts) == 3 and parts[2] else "linear"
    if name not in _FUNCTIONS:
        raise BadParameter(f"The window function is linear, linear-exact or sigmoid, not "
                           f"{parts[2]!r}.")
    window = Window(center, width, _FUNCTIONS[name])
    if not window.valid:
        least = "at least 1" if window.function is VoiFunction.LINEAR else "above 0"
        raise BadParameter(f"The window width must be {least} for the {name} function, "
                           f"not {parts[1]}.")
    return window


def parse_viewport(value: str) -> Viewport:
    """``viewport=vw,vh[,sx,sy,sw,sh]`` (PS3.18 8.3.5.1.3); empty sx… take their default."""
    parts = [part.strip() for part in value.split(",")]
    if not 2 <= len(parts) <= 6:
        raise BadParameter(f"viewport is vw,vh or vw,vh,sx,sy,sw,sh, not {value!r}.")
    parts += [""] * (6 - len(parts))
    width, height = (_integer(parts[i], f"The viewport {n}") for i, n in ((0, "vw"), (1, "vh")))
    if width < 1 or height < 1:
        raise BadParameter(f"The viewport must be at least 1×1 pixel, not {width}×{height}.")
    if width * height > settings.RENDER_MAX_PIXELS:
        raise BadParameter(f"A {width}×{height} viewport is over the rendering budget of "
                           f"{settings.RENDER_MAX_PIXELS} pixels.")
    sx, sy = (_integer(parts[i], f"The viewport {n}") if parts[i] else 0
              for i, n in ((2, "sx"), (3, "sy")))
    if sx < 0 or sy < 0:
        raise BadParameter(f"The viewport's sx and sy cannot be negative ({sx},{sy}).")
    sw, sh = (_integer(parts[i], f"The viewport {n}") if parts[i] else None
              for i, n in ((4, "sw"), (5, "sh")))
    if sw == 0 or sh == 0:
        raise BadParameter("The viewport's source region cannot be 0 pixels wide or high.")
    return Viewport(width, height, sx, sy, sw, sh)


def parse_quality(value: str) -> int:
    quality = _integer(value, "quality")
    if not 1 <= quality <= 100:
        raise BadParameter(f"quality is from 1 to 100, not {quality}.")
    return quality


def parse_frames(value: str) -> tuple[int, ...]:
    """The frame list of a ``frames/{list}`` resource, numbers from 1 as given."""
    numbers = tuple(_integer(part, "A frame number") for part in value.split(","))
    for number in numbers:
        if number < 1:
            raise BadParameter(f"Frame {number} does not exist: frame numbers start at 1.")
    return numbers


def _single(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name) or []
    if len(values) > 1:
        raise BadParameter(f"{name} is given {len(values)} times; give it once.")
    return values[0] if values else None


def parse_params(query: Mapping[str, Sequence[str]]) -> RenderParams:
    """window, viewport and quality; annotation is ignored with a warning, other
    parameters are ignored (PS3.18 8.3)."""
    window, viewport, quality = (_single(query, name) for name in
                                 ("window", "viewport", "quality"))
    notes = []
    if query.get("annotation"):
        notes.append("annotation is not supported: the image is rendered without text")
    return RenderParams(window=parse_window(window) if window is not None else None,
                        viewport=parse_viewport(viewport) if viewport is not None else None,
                        quality=parse_quality(quality) if quality is not None else None,
                        warnings=tuple(notes))


# ---------------------------------------------------------------- media types


@dataclass(frozen=True)
class Negotiated:
    media_type: str
    multipart: bool = False


def _match(kind: str, offered: Sequence[str]) -> str | None:
    if kind == "*/*":
        return offered[0]
    major, _, minor = kind.partition("/")
    if minor == "*":
        return next((o for o in offered if o.startswith(major + "/")), None)
    return kind if kind in offered else None


def negotiate(accept: str, offered: Sequence[str], *, multipart: bool = False,
              what: str = "This resource") -> Negotiated:
    """The acceptable one of ``offered`` the Accept header prefers (the first offered for
    ``*/*``); with ``multipart``, ``multipart/related; type=…`` of one of them too.
    NotRenderable, with what there is, when none is acceptable."""
    ranges = media_ranges(accept)
    ranked = sorted(range(len(ranges)), key=lambda index: (-ranges[index].quality, index))
    for media in (ranges[index] for index in ranked if ranges[index].quality > 0):
        if media.kind == "multipart/related":
            inner = media.parameters.get("type", "").lower()
            if multipart and inner in offered:
                return Negotiated(inner, multipart=True)
            continue
        found = _match(media.kind, offered)
        if found is not None:
            return Negotiated(found)
    choices = ", ".join(offered) if offered else "nothing"
    if multipart:
        choices += ' (or multipart/related; type="image/…")'
    raise NotRenderable(f"{what} is rendered as {choices}, not {accept or '*/*'}.")


# ---------------------------------------------------------------- which instance


def is_picture(instance: Instance) -> bool:
    return bool(instance.rows) and instance.transfer_syntax_uid not in VIDEO_SYNTAXES


def representative(found: QuerySet[Instance], resource: Resource) -> Instance:
    """The instance a study or series is rendered as: the first with pixel data; for a
    thumbnail the middle one of the first series that has any. The first instance when
    none has pixel data (it may be a document)."""
    every = list(found.only("sop_instance_uid", "rows", "transfer_syntax_uid", "series",
                            "file_path"))
    pictures = [instance for instance in every if is_picture(instance)]
    if not pictures:
        return every[0]
    if resource is Resource.RENDERED:
        return pictures[0]
    in_series = [i for i in pictures if i.series_id == pictures[0].series_id]
    return in_series[len(in_series) // 2]


# ---------------------------------------------------------------- drawing and encoding


@dataclass(frozen=True)
class RenderRequest:
    resource: Resource
    frames: tuple[int, ...] | None  # from the URL, numbers from 1; None: the resource's own
    params: RenderParams
    accept: str


@dataclass
class Rendered:
    media_type: str
    body: bytes = b""
    file: BinaryIO | None = None  # an encapsulated document or video, to stream
    warnings: list[str] = field(default_factory=list)


def fit_viewport(image: Image.Image, viewport: Viewport) -> Image.Image:
    """The viewport's source region, flipped for a negative sw/sh, scaled to fit."""
    columns, rows = image.size
    sw = viewport.sw if viewport.sw is not None else columns - viewport.sx
    sh = viewport.sh if viewport.sh is not None else rows - viewport.sy
    x0, x1 = sorted((viewport.sx, viewport.sx + sw))
    y0, y1 = sorted((viewport.sy, viewport.sy + sh))
    if x0 < 0 or y0 < 0 or x1 > columns or y1 > rows or x0 == x1 or y0 == y1:
        raise BadParameter(f"The viewport's source region ({x0},{y0})-({x1},{y1}) is not "
                           f"inside the {columns}×{rows} image.")
    region = image.crop((x0, y0, x1, y1))
    if sw < 0:
        region = region.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if sh < 0:
        region = region.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    scale = min(viewport.width / region.width, viewport.height / region.height)
    size = (max(1, min(viewport.width, round(region.width * scale))),
            max(1, min(viewport.height, round(region.height * scale))))
    return region if size == region.size else region.resize(size, Image.Resampling.LANCZOS)


def encode(images: Sequence[Image.Image], kind: ImageType, quality: int | None) -> bytes:
    """One image as JPEG, PNG or GIF; several as an animated GIF."""
    out = io.BytesIO()
    first, *rest = images
    if kind is ImageType.JPEG:
        first.save(out, format="JPEG", quality=quality or DEFAULT_QUALITY)
    elif kind is ImageType.GIF and rest:
        first.save(out, format="GIF", save_all=True, append_images=rest, loop=0,
                   duration=GIF_FRAME_MS)
    else:
        first.save(out, format=kind.name)
    return out.getvalue()


def _draw(path: Path, index: int, request: RenderRequest, notes: list[str]) -> Image.Image:
    arr, ds = decode_frame(path, index)
    window = request.params.window
    colour = arr.ndim == 3 or str(ds.get("PhotometricInterpretation", "")) == "PALETTE COLOR"
    if window is not None and colour:
        note = "window is ignored: the image is in colour"
        notes.extend([] if note in notes else [note])
    try:
        image = Image.fromarray(to_display(arr, ds, window, index))
    except Exception as exc:  # an odd LUT, a shape the display pipeline does not handle
        raise RenderRefused(f"Frame {index + 1} cannot be rendered: "
                            f"{type(exc).__name__}: {exc}") from exc
    if request.params.viewport is not None:
        return fit_viewport(image, request.params.viewport)
    if request.resource is Resource.THUMBNAIL:
        image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return image


def _frame_indexes(request: RenderRequest, count: int, uid: str, notes: list[str]) -> list[int]:
    if request.frames is None:
        if request.resource is Resource.THUMBNAIL:
            return [count // 2]
        if count > 1:
            notes.append(f"instance {uid} has {count} frames; this is frame 1 (ask "
                         f"frames/{{n}}/rendered for another, several for an animated GIF)")
        return [0]
    for number in request.frames:
        if number > count:
            raise BadParameter(f"Frame {number} does not exist: instance {uid} has {count} "
                               f"frame{'s' if count > 1 else ''}.")
    if request.resource is Resource.THUMBNAIL:
        if len(request.frames) > 1:
            notes.append(f"a thumbnail is one image: this is frame {request.frames[0]}")
        return [request.frames[0] - 1]
    if len(request.frames) > MAX_ANIMATED_FRAMES:
        raise BadParameter(f"{len(request.frames)} frames are asked for; an animated GIF "
                           f"takes {MAX_ANIMATED_FRAMES} at most.")
    return [number - 1 for number in request.frames]


def _header(path: Path) -> Dataset:
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        return dcmread(path, defer_size=64 * 1024, force=True)  # large values stay on disk


def _extracted(path: Path, uid: str, request: RenderRequest) -> Rendered:
    """An encapsulated document or video, as it is encapsulated, if its type is accepted."""
    try:
        what = what_to_extract(path)
    except ConversionFailed as exc:
        raise RenderRefused(str(exc)) from exc
    if what is None:
        raise NotRenderable(f"Instance {uid} encapsulates nothing this server gives back.")
    if request.resource is Resource.THUMBNAIL:
        raise NotRenderable(f"A thumbnail is an image; instance {uid} is a {what.kind} "
                            f"({what.mime_type}) this server does not draw.")
    if request.frames is not None:
        raise BadParameter(f"Instance {uid} is a {what.kind} ({what.mime_type}), not a "
                           f"multi-frame image: it has no frames to render.")
    chosen = negotiate(request.accept, (what.mime_type,), what=f"Instance {uid}")
    work = Path(tempfile.mkdtemp(prefix="rendered-"))
    try:
        done = extract(path, work)
        handle = done.outputs[0].path.open("rb")  # stays readable once the folder is gone
    except (ConversionFailed, ConversionSkipped) as exc:
        raise RenderRefused(str(exc)) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Rendered(chosen.media_type, file=handle)


def render_instance(instance: Instance, request: RenderRequest) -> Rendered:
    """The instance rendered as the request asks. BadParameter, NotRenderable,
    RenderRefused (the decoder or the budget refuses), OSError (the file is missing)."""
    uid = instance.sop_instance_uid
    path = absolute_path(instance.file_path)
    ds = _header(path)
    syntax = str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else ""
    if "EncapsulatedDocument" in ds or syntax in VIDEO_SYNTAXES:
        return _extracted(path, uid, request)
    if not any(keyword in ds for keyword in PIXEL_KEYWORDS):
        raise NotRenderable(f"Instance {uid} has no pixel data and encapsulates no document, "
                            f"so it has no rendered representation.")
    notes = list(request.params.warnings)
    indexes = _frame_indexes(request, frame_count(ds), uid, notes)
    several = len(indexes) > 1
    chosen = negotiate(request.accept, (ImageType.GIF.value,) if several else IMAGE_TYPES,
                       what=f"{'Several frames' if several else 'An image'} of instance {uid}")
    kind = ImageType(chosen.media_type)
    if request.params.quality is not None and kind is not ImageType.JPEG:
        notes.append(f"quality applies to image/jpeg only; {kind} is lossless here"
                     if kind is ImageType.PNG else "quality applies to image/jpeg only")
    images = [_draw(path, index, request, notes) for index in indexes]
    return Rendered(kind.value, body=encode(images, kind, request.params.quality), warnings=notes)
