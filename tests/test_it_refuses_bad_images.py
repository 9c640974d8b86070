"""Pictures that cannot become a DICOM image are refused with ConversionFailed and a reason a
person understands, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from archive.conversions.outcome import ConversionFailed
from archive.objects.images import (
    ImageSopClass,
    RawImageSpec,
    create_image,
    create_multiframe,
    is_image,
    parse_jpeg,
)
from tests.image_helpers import grey_pixels, make_jpeg, options, rgb_pixels, save_pillow


def _refused(source: Path | list[Path], out: Path, match: str, **kwargs: object) -> str:
    with pytest.raises(ConversionFailed, match=match) as caught:
        if isinstance(source, list):
            create_multiframe(source, out, options(**kwargs))  # type: ignore[arg-type]
        else:
            create_image(source, out, options(**kwargs))  # type: ignore[arg-type]
    assert not out.exists() or not any(out.iterdir()), "something was written"
    return str(caught.value)


def _cut(source: Path, length: int, name: str) -> Path:
    path = source.with_name(name)
    path.write_bytes(source.read_bytes()[:length])
    return path


def test_a_jpeg_cut_in_its_image_data_is_refused(tmp_path: Path) -> None:
    source = make_jpeg("baseline_rgb", tmp_path)
    size = source.stat().st_size
    cut = _cut(source, size * 3 // 4, "cut.jpg")
    assert is_image(cut)  # it still looks like a JPEG by its first bytes
    message = _refused(cut, tmp_path / "out", "truncated")
    assert "cut.jpg" in message


def test_a_jpeg_without_its_eoi_is_refused(tmp_path: Path) -> None:
    source = make_jpeg("baseline_grey", tmp_path)
    _refused(_cut(source, source.stat().st_size - 2, "no-eoi.jpg"), tmp_path / "out",
             "EOI")


def test_a_segment_running_past_the_end_is_refused(tmp_path: Path) -> None:
    source = make_jpeg("baseline_rgb", tmp_path)
    data = source.read_bytes()
    sof = data.index(b"\xff\xc0")
    message = _refused(_cut(source, sof + 10, "header.jpg"), tmp_path / "out",
                       "runs past the end")
    assert "0xFFC0" in message


def test_a_jpeg_without_a_scan_is_refused(tmp_path: Path) -> None:
    source = make_jpeg("baseline_grey", tmp_path)
    data = source.read_bytes()
    no_scan = tmp_path / "no-scan.jpg"
    no_scan.write_bytes(data[:data.index(b"\xff\xda")] + b"\xff\xd9")
    _refused(no_scan, tmp_path / "out", "no SOS")
    only_markers = tmp_path / "soi-eoi.jpg"
    only_markers.write_bytes(b"\xff\xd8\xff\xd9")
    _refused(only_markers, tmp_path / "out2", "no SOS")


def test_random_bytes_are_not_an_image(tmp_path: Path) -> None:
    noise = tmp_path / "noise.jpg"
    noise.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8)
                      .tobytes())
    assert not is_image(noise)
    _refused(noise, tmp_path / "out", "not a JPEG, PNG, BMP or TIFF")
    with pytest.raises(ConversionFailed, match="not a JPEG"):
        parse_jpeg(noise.read_bytes())


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    _refused(empty, tmp_path / "out", "empty")


def test_a_png_cut_in_half_is_refused(tmp_path: Path) -> None:
    source = save_pillow(tmp_path / "whole.png", rgb_pixels(120, 160))
    half = _cut(source, source.stat().st_size // 2, "half.png")
    _refused(half, tmp_path / "out", "cannot be decoded")


def test_frames_of_different_sizes_are_refused_naming_the_odd_file(tmp_path: Path) -> None:
    first = save_pillow(tmp_path / "first.png", rgb_pixels(37, 53))
    second = save_pillow(tmp_path / "second.png", rgb_pixels(37, 53, seed=4))
    odd = save_pillow(tmp_path / "odd-one.png", rgb_pixels(40, 53))
    message = _refused([first, second, odd], tmp_path / "out", "does not match")
    assert "odd-one.png" in message and "53×40" in message


def test_jpeg_frames_of_different_sizes_are_refused(tmp_path: Path) -> None:
    first = save_pillow(tmp_path / "a.jpg", rgb_pixels(37, 53))
    odd = save_pillow(tmp_path / "b.jpg", rgb_pixels(36, 53))
    message = _refused([first, odd], tmp_path / "out", "does not match")
    assert "b.jpg" in message


def test_frames_of_different_pixel_descriptions_are_refused(tmp_path: Path) -> None:
    colour = save_pillow(tmp_path / "colour.png", rgb_pixels(37, 53))
    grey = save_pillow(tmp_path / "grey.png", grey_pixels(37, 53))
    message = _refused([colour, grey], tmp_path / "out", "does not match")
    assert "grey.png" in message and "MONOCHROME2" in message


def test_jpegs_mixed_with_pngs_need_a_target(tmp_path: Path) -> None:
    jpeg = save_pillow(tmp_path / "a.jpg", rgb_pixels())
    png = save_pillow(tmp_path / "b.png", rgb_pixels())
    _refused([jpeg, png], tmp_path / "out", "pick a target syntax")


def test_visible_light_images_refuse_what_their_iod_cannot_hold(tmp_path: Path) -> None:
    wide = save_pillow(tmp_path / "wide.png", grey_pixels(bits=16))
    _refused(wide, tmp_path / "out", "8-bit unsigned", sop_class=ImageSopClass.VL_PHOTOGRAPHIC)
    frames = [save_pillow(tmp_path / f"{i}.png", rgb_pixels(seed=i)) for i in range(2)]
    _refused(frames, tmp_path / "out2", "one frame", sop_class=ImageSopClass.VL_ENDOSCOPIC)


def test_a_cmyk_jpeg_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb_pixels()).convert("CMYK").save(source)
    _refused(source, tmp_path / "out", "4 components")


def test_a_raw_file_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "samples.raw"
    source.write_bytes(b"\x01" * 1001)
    message = _refused(source, tmp_path / "out", "does not divide",
                       raw=RawImageSpec(columns=10, rows=10, bits_allocated=16))
    assert "200 bytes a frame" in message
