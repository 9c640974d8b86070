"""PNG, BMP, TIFF and raw sample files become DICOM images whose decoded pixels equal the
source's (as pillow, imagecodecs or numpy read it), uncompressed or in a chosen transfer
syntax, valid for dciodvfy; several files become one multi-frame instance."""

from __future__ import annotations

import shlex
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.pixels import apply_color_lut

from archive.conversions.outcome import ConversionFailed
from archive.conversions.syntaxes import TargetSyntax
from archive.objects.images import (
    ImageSopClass,
    RawImageSpec,
    create_image,
    create_multiframe,
    image_command_lines,
    image_format_of,
    is_image,
)
from tests.image_helpers import (
    dciodvfy_errors,
    dcmj2pnm_pixels,
    grey_pixels,
    options,
    rgb_pixels,
    run,
    save_pillow,
)


def _source(kind: str, folder: Path) -> tuple[Path, np.ndarray]:
    """A picture file and the samples DICOM must hold for it (read by pillow/imagecodecs)."""
    if kind == "png_rgb":
        array = rgb_pixels()
        return save_pillow(folder / "rgb.png", array), array
    if kind == "png_grey8":
        array = grey_pixels()
        return save_pillow(folder / "grey.png", array), array
    if kind == "png_grey16":
        array = grey_pixels(bits=16)
        return save_pillow(folder / "grey16.png", array), array
    if kind == "png_rgb16":
        array = np.random.default_rng(7).integers(0, 65536, (21, 34, 3)).astype(np.uint16)
        path = folder / "rgb16.png"
        path.write_bytes(imagecodecs.png_encode(array))
        return path, array
    if kind == "png_palette":
        path = folder / "palette.png"
        Image.fromarray(rgb_pixels()).quantize(colors=40).save(path)
        return path, np.asarray(Image.open(path).convert("RGB"))
    if kind == "png_rgba":
        array = np.dstack([rgb_pixels(), grey_pixels()])
        return save_pillow(folder / "rgba.png", array), array[..., :3]
    if kind == "bmp":
        array = rgb_pixels(seed=8)
        return save_pillow(folder / "picture.bmp", array), array
    if kind == "tiff_rgb":
        array = rgb_pixels(seed=9)
        return save_pillow(folder / "picture.tif", array, compression="tiff_lzw"), array
    if kind == "tiff_grey16":
        array = grey_pixels(bits=16, seed=10)
        return save_pillow(folder / "grey16.tif", array), array
    raise ValueError(kind)


KINDS = ("png_rgb", "png_grey8", "png_grey16", "png_rgb16", "png_rgba", "bmp", "tiff_rgb",
         "tiff_grey16")


@pytest.mark.parametrize("kind", KINDS)
def test_decoded_pixels_equal_the_source(kind: str, tmp_path: Path) -> None:
    source, expected = _source(kind, tmp_path)
    assert is_image(source)
    result = create_image(source, tmp_path / "out", options())
    output = result.outputs[0].path
    ds = dcmread(output)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(ds.pixel_array, expected)
    assert ds.BitsStored == expected.dtype.itemsize * 8
    assert ds.PhotometricInterpretation == ("RGB" if expected.ndim == 3 else "MONOCHROME2")
    assert dciodvfy_errors(output) == []
    rendered = dcmj2pnm_pixels(output, int(ds.BitsStored))
    assert np.array_equal(rendered, expected.astype(np.int64))


def test_dropping_alpha_is_warned(tmp_path: Path) -> None:
    rgba, _ = _source("png_rgba", tmp_path)
    assert any("alpha" in w for w in create_image(rgba, tmp_path / "a", options()).warnings)


@pytest.mark.parametrize("target", [None, TargetSyntax.RLE, TargetSyntax.JPEG_LOSSLESS_SV1,
                                    TargetSyntax.JPEG_LS_LOSSLESS])
def test_a_palette_png_stays_palette_color_in_a_secondary_capture(
        target: TargetSyntax | None, tmp_path: Path) -> None:
    source, expected = _source("png_palette", tmp_path)
    result = create_image(source, tmp_path / "out", options(target=target))
    output = result.outputs[0].path
    ds = dcmread(output)
    assert ds.PhotometricInterpretation == "PALETTE COLOR"
    assert np.array_equal(ds.pixel_array, np.asarray(Image.open(source)))  # the indices
    assert np.array_equal(apply_color_lut(ds.pixel_array, ds) >> 8, expected)
    if target in (None, TargetSyntax.RLE, TargetSyntax.JPEG_LOSSLESS_SV1):  # DCMTK decodes
        assert np.array_equal(dcmj2pnm_pixels(output, 8), expected.astype(np.int64))
    assert dciodvfy_errors(output) == []


@pytest.mark.parametrize("sop_class, target", [
    (ImageSopClass.VL_PHOTOGRAPHIC, None),
    (ImageSopClass.SECONDARY_CAPTURE, TargetSyntax.JPEG_BASELINE)])
def test_a_palette_png_is_expanded_where_palette_color_cannot_go(
        sop_class: ImageSopClass, target: TargetSyntax | None, tmp_path: Path) -> None:
    source, expected = _source("png_palette", tmp_path)
    result = create_image(source, tmp_path / "out",
                          options(sop_class, target=target, lossy=True))
    ds = dcmread(result.outputs[0].path)
    assert ds.PhotometricInterpretation in ("RGB", "YBR_FULL_422")
    assert any("palette colours expanded" in warning for warning in result.warnings)
    if target is None:
        assert np.array_equal(ds.pixel_array, expected)
    assert dciodvfy_errors(result.outputs[0].path) == []


@pytest.mark.parametrize("sop_class", [ImageSopClass.VL_PHOTOGRAPHIC,
                                       ImageSopClass.VL_ENDOSCOPIC])
@pytest.mark.parametrize("kind", ["png_rgb", "png_grey8", "bmp"])
def test_visible_light_images_from_png_and_bmp(kind: str, sop_class: ImageSopClass,
                                               tmp_path: Path) -> None:
    source, expected = _source(kind, tmp_path)
    output = create_image(source, tmp_path / "out", options(sop_class)).outputs[0].path
    ds = dcmread(output)
    assert ds.SOPClassUID == sop_class.uid and ds.Modality == sop_class.modality
    assert np.array_equal(ds.pixel_array, expected)
    assert dciodvfy_errors(output) == []


@pytest.mark.parametrize("target", [TargetSyntax.JPEG_LS_LOSSLESS, TargetSyntax.RLE,
                                    TargetSyntax.J2K_LOSSLESS, TargetSyntax.JPEG_LOSSLESS_SV1,
                                    TargetSyntax.DEFLATED_LE, TargetSyntax.EXPLICIT_BE])
@pytest.mark.parametrize("kind", ["png_rgb", "png_grey16"])
def test_lossless_targets_keep_the_pixels(kind: str, target: TargetSyntax,
                                          tmp_path: Path) -> None:
    _created_losslessly(kind, target, tmp_path)


def _created_losslessly(kind: str, target: TargetSyntax, tmp_path: Path) -> None:
    """The image made from ``kind`` in ``target``: that syntax, the source's pixels, marked
    lossless, and no dciodvfy error (dcmdump reads a deflated one, which dciodvfy cannot)."""
    source, expected = _source(kind, tmp_path)
    output = create_image(source, tmp_path / "out", options(target=target)).outputs[0].path
    ds = dcmread(output)
    assert ds.file_meta.TransferSyntaxUID == target.uid
    assert np.array_equal(ds.pixel_array, expected)
    assert ds.LossyImageCompression == "00"
    if target != TargetSyntax.DEFLATED_LE:
        assert dciodvfy_errors(output) == []
    else:
        assert run("dcmdump", str(output)).returncode == 0


def _psnr(decoded: np.ndarray, source: np.ndarray) -> float:
    error = decoded.astype(np.float64) - source.astype(np.float64)
    peak = max(1.0, float(source.max()) - float(source.min()))
    return float(10 * np.log10(peak * peak / np.square(error).mean()))


def test_a_lossy_target_needs_lossy_allowed(tmp_path: Path) -> None:
    source, expected = _source("png_rgb", tmp_path)
    with pytest.raises(ConversionFailed, match="lossy"):
        create_image(source, tmp_path / "refused", options(target=TargetSyntax.JPEG_BASELINE))
    assert not (tmp_path / "refused").exists()
    result = create_image(source, tmp_path / "out", options(
        ImageSopClass.VL_PHOTOGRAPHIC, target=TargetSyntax.JPEG_BASELINE, lossy=True))
    output = result.outputs[0].path
    ds = dcmread(output)
    assert ds.LossyImageCompression == "01"
    assert ds.LossyImageCompressionMethod == "ISO_10918_1"
    assert ds.ImageType[0] == "DERIVED"
    # DCMTK's decoding is as far from the source as the reported PSNR says
    measured = _psnr(dcmj2pnm_pixels(output, 8), expected)
    assert measured > 20
    assert abs(measured - result.metrics["psnr_db"]) < 1.0
    assert dciodvfy_errors(output) == []


RAW_SPECS = [
    RawImageSpec(columns=53, rows=37, bits_allocated=8, samples_per_pixel=1),
    RawImageSpec(columns=53, rows=37, bits_allocated=16, samples_per_pixel=1, big_endian=True,
                 offset=128),
    RawImageSpec(columns=53, rows=37, bits_allocated=16, samples_per_pixel=1, signed=True),
    RawImageSpec(columns=53, rows=37, bits_allocated=8, samples_per_pixel=3, offset=10),
]


def _raw_file(spec: RawImageSpec, path: Path) -> np.ndarray:
    rng = np.random.default_rng(spec.offset + spec.bits_allocated)
    kind = "i" if spec.signed else "u"
    dtype = np.dtype(f"{'>' if spec.big_endian else '<'}{kind}{spec.bits_allocated // 8}")
    shape = (spec.rows, spec.columns) + ((3,) if spec.samples_per_pixel == 3 else ())
    info = np.iinfo(dtype)
    array = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    path.write_bytes(bytes(range(256))[:spec.offset].ljust(spec.offset, b"\x00")
                     + array.tobytes())
    return array.astype(dtype.newbyteorder("="))


def _raw_id(spec: RawImageSpec) -> str:
    sign = "signed" if spec.signed else "unsigned"
    order = "MSB" if spec.big_endian else "LSB"
    return f"{spec.bits_allocated}bit-{spec.samples_per_pixel}spp-{sign}-{order}-{spec.offset}"


@pytest.mark.parametrize("spec", RAW_SPECS, ids=_raw_id)
def test_raw_samples_match_the_file_and_gdcmimg(spec: RawImageSpec, tmp_path: Path) -> None:
    source = tmp_path / "samples.raw"
    expected = _raw_file(spec, source)
    assert not is_image(source) or spec.offset  # raw files are chosen by the option only
    result = create_image(source, tmp_path / "out", options(raw=spec))
    output = result.outputs[0].path
    ds = dcmread(output)
    assert np.array_equal(ds.pixel_array, expected)
    assert ds.PixelRepresentation == int(spec.signed)
    assert dciodvfy_errors(output) == []
    lines = dict(image_command_lines(options(raw=spec), [str(source)], str(tmp_path / "g.dcm"),
                                     []))
    gdcm = run(*shlex.split(lines["GDCM"]))
    assert gdcm.returncode == 0, gdcm.stderr
    # gdcmimg writes MSB samples in GE's private big endian syntax: gdcmconv makes it plain
    assert run("gdcmconv", "--raw", "-i", str(tmp_path / "g.dcm"), "-o",
               str(tmp_path / "g2.dcm")).returncode == 0
    theirs = dcmread(tmp_path / "g2.dcm")
    assert np.array_equal(theirs.pixel_array, ds.pixel_array)
    assert (theirs.Rows, theirs.Columns, theirs.SamplesPerPixel) == (ds.Rows, ds.Columns,
                                                                    ds.SamplesPerPixel)


def test_three_pngs_become_one_multiframe_instance(tmp_path: Path) -> None:
    arrays = [rgb_pixels(seed=20 + index) for index in range(3)]
    sources = [save_pillow(tmp_path / f"f{index}.png", array)
               for index, array in enumerate(arrays)]
    result = create_multiframe(sources, tmp_path / "out", options())
    output = result.outputs[0].path
    ds = dcmread(output)
    assert ds.NumberOfFrames == 3 and result.frames == 3
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7.4"
    for index, array in enumerate(arrays):
        assert np.array_equal(ds.pixel_array[index], array)
        assert np.array_equal(dcmj2pnm_pixels(output, 8, index + 1), array.astype(np.int64))
    assert dciodvfy_errors(output) == []


@pytest.mark.parametrize("bits, sop_class_uid", [(8, "1.2.840.10008.5.1.4.1.1.7.2"),
                                                 (16, "1.2.840.10008.5.1.4.1.1.7.3")])
def test_greyscale_multiframes_use_the_byte_and_word_classes(bits: int, sop_class_uid: str,
                                                             tmp_path: Path) -> None:
    arrays = [grey_pixels(bits=bits, seed=30 + index) for index in range(2)]
    sources = [save_pillow(tmp_path / f"g{index}.png", array)
               for index, array in enumerate(arrays)]
    output = create_multiframe(sources, tmp_path / "out",
                               options(target=TargetSyntax.JPEG_LS_LOSSLESS)).outputs[0].path
    ds = dcmread(output)
    assert ds.SOPClassUID == sop_class_uid
    assert np.array_equal(ds.pixel_array, np.stack(arrays))
    assert dciodvfy_errors(output) == []


def test_a_multipage_tiff_gives_one_frame_a_page(tmp_path: Path) -> None:
    pages = [grey_pixels(seed=40 + index) for index in range(3)]
    source = tmp_path / "pages.tif"
    Image.fromarray(pages[0]).save(source, save_all=True,
                                   append_images=[Image.fromarray(p) for p in pages[1:]])
    result = create_image(source, tmp_path / "out", options())
    ds = dcmread(result.outputs[0].path)
    assert ds.NumberOfFrames == 3
    assert np.array_equal(ds.pixel_array, np.stack(pages))
    assert dciodvfy_errors(result.outputs[0].path) == []


def test_the_format_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    source, expected = _source("png_rgb", tmp_path)
    misnamed = tmp_path / "picture.jpg"
    misnamed.write_bytes(source.read_bytes())
    assert str(image_format_of(misnamed)) == "png"
    ds = dcmread(create_image(misnamed, tmp_path / "out", options()).outputs[0].path)
    assert np.array_equal(ds.pixel_array, expected)


def test_a_bmp_gives_the_pixels_img2dcm_reads(tmp_path: Path) -> None:
    from archive.objects.images import ImageFormat

    source, expected = _source("bmp", tmp_path)
    opts = options()
    ours = dcmread(create_image(source, tmp_path / "out", opts).outputs[0].path)
    theirs = tmp_path / "img2dcm.dcm"
    lines = dict(image_command_lines(opts, [str(source)], str(theirs), [ImageFormat.BMP]))
    assert set(lines) == {"DCMTK"}  # jpg2dcm and gdcmimg do not read BMP
    result = run(*shlex.split(lines["DCMTK"]))
    assert result.returncode == 0, result.stderr
    dcmtk = dcmread(theirs)
    assert np.array_equal(dcmtk.pixel_array, ours.pixel_array)
    assert np.array_equal(ours.pixel_array, expected)
    assert dcmtk.PhotometricInterpretation == ours.PhotometricInterpretation


LOSSLESS_ENCAPSULATED = [TargetSyntax.RLE, TargetSyntax.JPEG_LS_LOSSLESS,
                         TargetSyntax.J2K_LOSSLESS]


@pytest.mark.parametrize("target", LOSSLESS_ENCAPSULATED, ids=lambda t: t.name)
@pytest.mark.parametrize("kind", ["bmp", "tiff_rgb", "tiff_grey16"])
def test_bmp_and_tiff_keep_their_pixels_in_the_lossless_syntaxes(
        kind: str, target: TargetSyntax, tmp_path: Path) -> None:
    _created_losslessly(kind, target, tmp_path)


@pytest.mark.parametrize("target", LOSSLESS_ENCAPSULATED, ids=lambda t: t.name)
@pytest.mark.parametrize("spec", RAW_SPECS, ids=_raw_id)
def test_raw_samples_keep_their_values_in_the_lossless_syntaxes(
        spec: RawImageSpec, target: TargetSyntax, tmp_path: Path) -> None:
    source = tmp_path / "samples.raw"
    expected = _raw_file(spec, source)
    output = create_image(source, tmp_path / "out",
                          options(raw=spec, target=target)).outputs[0].path
    ds = dcmread(output)
    assert ds.file_meta.TransferSyntaxUID == target.uid
    assert ds.PixelRepresentation == int(spec.signed)
    assert np.array_equal(ds.pixel_array, expected)
    assert dciodvfy_errors(output) == []
