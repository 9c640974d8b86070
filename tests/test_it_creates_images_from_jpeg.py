"""JPEG files become DICOM images with the JPEG bitstream encapsulated as it is: the same
fragment and transfer syntax as DCMTK img2dcm (lossy processes) and GDCM gdcmimg (lossless),
valid for dciodvfy, rendered by DCMTK dcmj2pnm to the pixels libjpeg-turbo decodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from archive.objects.images import (
    ImageSopClass,
    create_image,
    create_multiframe,
    is_image,
    jpeg_end,
    parse_jpeg,
)
from tests.image_helpers import (
    JPEG_KINDS,
    LOSSLESS_KINDS,
    dciodvfy_errors,
    dcmj2pnm_pixels,
    decoded_jpeg,
    fragments,
    make_jpeg,
    options,
    rgb_pixels,
    run,
    save_pillow,
)

LOSSY_KINDS = tuple(kind for kind in JPEG_KINDS if kind not in LOSSLESS_KINDS)
EIGHT_BIT_KINDS = ("baseline_rgb", "baseline_grey", "baseline_444", "ffmpeg_mjpeg",
                   "lossless_rgb")


def _create(source: Path, out: Path, **kwargs: object) -> Path:
    result = create_image(source, out, options(**kwargs))  # type: ignore[arg-type]
    assert len(result.outputs) == 1 and result.frames == 1
    return result.outputs[0].path


def _precision(source: Path) -> int:
    return parse_jpeg(source.read_bytes()).precision


@pytest.mark.parametrize("kind", JPEG_KINDS)
def test_it_encapsulates_the_jpeg_bytes_unchanged(kind: str, tmp_path: Path) -> None:
    source = make_jpeg(kind, tmp_path)
    output = _create(source, tmp_path / "out", accept_progressive=True)
    (fragment,) = fragments(output)
    original = source.read_bytes()
    assert len(fragment) % 2 == 0
    assert fragment[:len(original)] == original
    assert fragment[len(original):] in (b"", b"\x00")
    assert jpeg_end(fragment) == len(original)
    assert is_image(source)


@pytest.mark.parametrize("kind", LOSSY_KINDS)
@pytest.mark.parametrize("keep_app", [True, False])
def test_it_matches_img2dcm_for_the_lossy_processes(kind: str, keep_app: bool,
                                                    tmp_path: Path) -> None:
    source = make_jpeg(kind, tmp_path)
    ours = _create(source, tmp_path / "out", accept_progressive=True,
                   keep_app_segments=keep_app)
    theirs = tmp_path / "img2dcm.dcm"
    flags = ["--keep-appn"] if keep_app else []
    result = run("img2dcm", "-q", *flags, str(source), str(theirs))
    assert result.returncode == 0, result.stderr
    assert fragments(ours) == fragments(theirs)
    mine, dcmtk = dcmread(ours), dcmread(theirs)
    assert mine.file_meta.TransferSyntaxUID == dcmtk.file_meta.TransferSyntaxUID
    for keyword in ("PhotometricInterpretation", "Rows", "Columns", "SamplesPerPixel",
                    "BitsStored", "LossyImageCompression"):
        assert mine[keyword].value == dcmtk[keyword].value, keyword


@pytest.mark.parametrize("kind", LOSSLESS_KINDS)
def test_it_matches_gdcmimg_for_lossless_jpeg(kind: str, tmp_path: Path) -> None:
    source = make_jpeg(kind, tmp_path)
    ours = _create(source, tmp_path / "out")
    theirs = tmp_path / "gdcmimg.dcm"
    result = run("gdcmimg", "-i", str(source), "-o", str(theirs))
    assert result.returncode == 0, result.stderr
    assert fragments(ours) == fragments(theirs)
    mine, gdcm = dcmread(ours), dcmread(theirs)
    assert mine.file_meta.TransferSyntaxUID == gdcm.file_meta.TransferSyntaxUID
    assert mine.PhotometricInterpretation == gdcm.PhotometricInterpretation
    assert mine.BitsStored == gdcm.BitsStored
    assert mine.LossyImageCompression == "00"


@pytest.mark.parametrize("kind", JPEG_KINDS)
def test_it_writes_secondary_captures_dciodvfy_accepts(kind: str, tmp_path: Path) -> None:
    output = _create(make_jpeg(kind, tmp_path), tmp_path / "out", accept_progressive=True)
    assert dciodvfy_errors(output) == []


@pytest.mark.parametrize("sop_class", [ImageSopClass.VL_PHOTOGRAPHIC,
                                       ImageSopClass.VL_ENDOSCOPIC])
@pytest.mark.parametrize("kind", ["baseline_rgb", "baseline_grey", "ffmpeg_mjpeg"])
def test_it_writes_visible_light_images_dciodvfy_accepts(kind: str, sop_class: ImageSopClass,
                                                        tmp_path: Path) -> None:
    output = _create(make_jpeg(kind, tmp_path), tmp_path / "out", sop_class=sop_class)
    assert dciodvfy_errors(output) == []
    ds = dcmread(output)
    assert ds.SOPClassUID == sop_class.uid
    assert ds.Modality == sop_class.modality
    assert ds.LossyImageCompressionMethod == "ISO_10918_1"


@pytest.mark.parametrize("kind", [kind for kind in JPEG_KINDS if kind != "progressive"])
def test_dcmj2pnm_renders_the_pixels_libjpeg_decodes(kind: str, tmp_path: Path) -> None:
    source = make_jpeg(kind, tmp_path)
    output = _create(source, tmp_path / "out")
    rendered = dcmj2pnm_pixels(output, _precision(source))
    expected = decoded_jpeg(source)
    assert rendered.shape == expected.shape
    assert np.array_equal(rendered, expected)


def test_it_drops_app_segments_only_when_asked(tmp_path: Path) -> None:
    source = tmp_path / "exif.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Test camera"  # Make
    save_pillow(source, rgb_pixels(), quality=90, exif=exif.tobytes())
    kept = fragments(_create(source, tmp_path / "kept"))[0]
    dropped = fragments(_create(source, tmp_path / "dropped", keep_app_segments=False))[0]
    assert b"Exif\x00\x00" in kept and b"JFIF\x00" in kept
    assert b"Exif\x00\x00" not in dropped and b"JFIF\x00" not in dropped
    assert np.array_equal(decoded_jpeg(source),
                          np.asarray(Image.open(_jpeg_file(tmp_path, dropped))).astype(int))


def _jpeg_file(folder: Path, fragment: bytes) -> Path:
    path = folder / "fragment.jpg"
    path.write_bytes(fragment[:jpeg_end(fragment)])
    return path


def test_it_warns_that_exif_orientation_is_not_applied(tmp_path: Path) -> None:
    source = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    save_pillow(source, rgb_pixels(), exif=exif.tobytes())
    result = create_image(source, tmp_path / "out", options())
    assert any("Orientation 6" in warning for warning in result.warnings)


def test_progressive_jpeg_is_refused_unless_accepted_or_decoded(tmp_path: Path) -> None:
    from archive.conversions.outcome import ConversionFailed
    from archive.conversions.syntaxes import TargetSyntax

    source = make_jpeg("progressive", tmp_path)
    with pytest.raises(ConversionFailed, match="progressive JPEG"):
        create_image(source, tmp_path / "refused", options())
    assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())
    accepted = create_image(source, tmp_path / "accepted", options(accept_progressive=True))
    ds = dcmread(accepted.outputs[0].path)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.55"
    assert any("retired" in warning for warning in accepted.warnings)
    decoded = create_image(source, tmp_path / "decoded",
                           options(target=TargetSyntax.EXPLICIT_LE))
    ds = dcmread(decoded.outputs[0].path)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(ds.pixel_array.astype(int), decoded_jpeg(source))
    assert ds.LossyImageCompression == "01"  # decoded from a lossy JPEG: once lossy, always
    assert dciodvfy_errors(decoded.outputs[0].path) == []


def test_several_jpegs_become_one_multiframe_instance(tmp_path: Path) -> None:
    sources = []
    for seed in range(3):
        path = tmp_path / f"frame{seed}.jpg"
        sources.append(save_pillow(path, rgb_pixels(seed=10 + seed), quality=90))
    result = create_multiframe(sources, tmp_path / "out", options())
    output = result.outputs[0].path
    ds = dcmread(output)
    assert ds.NumberOfFrames == 3 and result.frames == 3
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7.4"  # Multi-frame True Color SC
    for fragment, source in zip(fragments(output), sources, strict=True):
        assert fragment[:jpeg_end(fragment)] == source.read_bytes()
    for frame, source in enumerate(sources, start=1):
        assert np.array_equal(dcmj2pnm_pixels(output, 8, frame), decoded_jpeg(source))
    assert dciodvfy_errors(output) == []


def test_twelve_bit_jpegs_become_a_grayscale_word_multiframe(tmp_path: Path) -> None:
    first = make_jpeg("extended_12", tmp_path)
    second = tmp_path / "second.jpg"
    second.write_bytes(first.read_bytes())
    output = create_multiframe([first, second], tmp_path / "out", options()).outputs[0].path
    ds = dcmread(output)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7.3"
    assert (ds.BitsAllocated, ds.BitsStored) == (16, 12)
    assert dciodvfy_errors(output) == []
    assert np.array_equal(dcmj2pnm_pixels(output, 12, 2), decoded_jpeg(second))


def test_bytes_after_the_eoi_marker_are_left_out_with_a_warning(tmp_path: Path) -> None:
    source = make_jpeg("baseline_grey", tmp_path)
    padded = tmp_path / "trailing.jpg"
    padded.write_bytes(source.read_bytes() + b"\x00\x00junk after the image")
    result = create_image(padded, tmp_path / "out", options())
    (fragment,) = fragments(result.outputs[0].path)
    assert fragment[:jpeg_end(fragment)] == source.read_bytes()
    assert any("after the EOI marker" in warning for warning in result.warnings)


def test_the_img2dcm_command_line_makes_the_same_object(tmp_path: Path) -> None:
    import shlex

    from archive.objects.images import ImageFormat, image_command_lines

    source = make_jpeg("baseline_rgb", tmp_path)
    opts = options(ImageSopClass.VL_PHOTOGRAPHIC)
    ours = create_image(source, tmp_path / "out", opts).outputs[0].path
    theirs = tmp_path / "peer output.dcm"
    lines = dict(image_command_lines(opts, [str(source)], str(theirs), [ImageFormat.JPEG]))
    assert set(lines) == {"DCMTK", "dcm4che", "GDCM"}
    assert "--xc" in lines["dcm4che"]
    result = run(*shlex.split(lines["DCMTK"]))
    assert result.returncode == 0, result.stderr
    peer = dcmread(theirs)
    assert peer.SOPClassUID == dcmread(ours).SOPClassUID
    assert peer.PatientName == "Image^Test"
    assert fragments(theirs) == fragments(ours)
