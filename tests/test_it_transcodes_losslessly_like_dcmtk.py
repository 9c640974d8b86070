"""Lossless transcodes: for every corpus file pydicom can decode and every lossless target,
our output decoded by DCMTK (dcmdjpeg, dcmdjpls, dcmdrle, dcmconv) or GDCM (gdcmconv --raw;
HTJ2K: pydicom's pylibjpeg-openjpeg, as no tool here reads it) has the source's pixel values
exactly; dcmdump and gdcminfo read it without a word on stderr; back to Explicit VR LE it
gives the source's values again; dciodvfy finds no error the source did not have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from archive.conversions.outcome import ConversionFailed
from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode import TranscodeOptions, transcode_file
from tests.archive_helpers import corpus
from tests.transcode_helpers import (
    assert_readable_by_peers,
    corpus_names,
    dciodvfy_errors,
    decodable,
    peer_decoded,
    pixels,
    same_values,
    source_pixels,
)

pytestmark = pytest.mark.dcmtk

LOSSLESS = [target for target in TargetSyntax if not target.is_lossy]
# the full matrix on files up to 300 KB decoded; the larger ones below, with fewer targets
SMALL = corpus_names(max_decoded_bytes=300_000)
LARGE = ["693_J2KR.dcm", "MR2_J2KR.dcm", "US1_J2KR.dcm", "OBXXXX1A_rle.dcm", "JPEG-LL.dcm",
         "gdcm-US-ALOKA-16_big.dcm", "mlut_18.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm",
         "eCT_Supplemental.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm"]


def _transcode(name: str, target: TargetSyntax, out: Path, **options: Any) -> Path:
    if not decodable(name):
        pytest.skip(f"pydicom cannot decode {name}: no reference values")
    try:
        result = transcode_file(corpus(name), out, TranscodeOptions(target=target, **options))
    except ConversionFailed as refused:
        # only what the target cannot hold may be refused (the refusal tests check reasons)
        assert any(word in str(refused) for word in ("pick", "float pixel data")), str(refused)
        pytest.skip(f"{target.label} cannot hold {name}: {refused}")
    (output,) = result.outputs
    assert output.path.parent == out and result.frames >= 1
    assert str(dcmread(output.path, stop_before_pixels=True).file_meta.TransferSyntaxUID) \
        == target.uid
    return output.path


def _check(name: str, target: TargetSyntax, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = _transcode(name, target, out)
    reference = source_pixels(name)
    assert same_values(peer_decoded(path, tmp_path, name), reference), f"{name} → {target}"
    assert_readable_by_peers(path, name)
    back = tmp_path / "back"
    back.mkdir()
    (returned,) = transcode_file(path, back,
                                 TranscodeOptions(target=TargetSyntax.EXPLICIT_LE)).outputs
    assert same_values(pixels(returned.path), reference), f"{name} → {target} → Explicit LE"


@pytest.mark.parametrize("target", LOSSLESS, ids=str)
@pytest.mark.parametrize("name", SMALL)
def test_every_small_corpus_file_keeps_its_values_in_every_lossless_target(
    name: str, target: TargetSyntax, tmp_path: Path
) -> None:
    _check(name, target, tmp_path)


@pytest.mark.parametrize("target", [TargetSyntax.JPEG_LS_LOSSLESS, TargetSyntax.RLE,
                                    TargetSyntax.J2K_LOSSLESS, TargetSyntax.HTJ2K_LOSSLESS,
                                    TargetSyntax.JPEG_LOSSLESS_SV1, TargetSyntax.EXPLICIT_BE],
                         ids=str)
@pytest.mark.parametrize("name", LARGE)
def test_larger_files_keep_their_values(name: str, target: TargetSyntax,
                                        tmp_path: Path) -> None:
    _check(name, target, tmp_path)


@pytest.mark.parametrize(("name", "target"), [
    ("emri_small.dcm", TargetSyntax.JPEG_LS_LOSSLESS),
    ("693_UNCI.dcm", TargetSyntax.RLE),
    ("SC_rgb.dcm", TargetSyntax.J2K_LOSSLESS),
    ("US1_J2KR.dcm", TargetSyntax.JPEG_LOSSLESS_SV1),
    ("emri_small_RLE.dcm", TargetSyntax.EXPLICIT_BE),
    ("OBXXXX1A.dcm", TargetSyntax.DEFLATED_LE),
])
def test_dciodvfy_finds_no_new_error(name: str, target: TargetSyntax, tmp_path: Path) -> None:
    path = _transcode(name, target, tmp_path, new_uid=True)
    new = dciodvfy_errors(path) - dciodvfy_errors(corpus(name))
    assert not new, new


def test_fragments_and_offsets_are_as_asked(tmp_path: Path) -> None:
    """--split like gdcmconv: fragments of at most N bytes; the Basic Offset Table points at
    each frame's first fragment (pydicom's own parser reads it back)."""
    from pydicom.encaps import generate_fragmented_frames, parse_basic_offsets

    path = _transcode("emri_small.dcm", TargetSyntax.JPEG_LS_LOSSLESS, tmp_path,
                      fragment_size=1001)
    ds = dcmread(path)
    frames = list(generate_fragmented_frames(ds.PixelData, number_of_frames=10))
    assert len(frames) == 10 and all(len(frame) > 1 for frame in frames)
    assert all(len(fragment) <= 1000 and len(fragment) % 2 == 0
               for frame in frames for fragment in frame)
    offsets = parse_basic_offsets(ds.PixelData)
    sizes = [sum(8 + len(fragment) for fragment in frame) for frame in frames]
    assert offsets == [sum(sizes[:index]) for index in range(10)]
    assert same_values(peer_decoded(path, tmp_path), source_pixels("emri_small.dcm"))


def test_planar_configuration_is_written_as_asked(tmp_path: Path) -> None:
    path = _transcode("SC_rgb.dcm", TargetSyntax.EXPLICIT_LE, tmp_path,
                      planar_configuration=1)
    ds = dcmread(path)
    assert ds.PlanarConfiguration == 1
    # the bytes hold the red plane first: DCMTK reads them back to the same pixels
    assert same_values(peer_decoded(path, tmp_path), source_pixels("SC_rgb.dcm"))
    red = source_pixels("SC_rgb.dcm")[..., 0].tobytes()
    assert ds.PixelData[:len(red)] == red


def test_a_file_already_in_the_target_is_copied_unchanged(tmp_path: Path) -> None:
    result = transcode_file(corpus("emri_small_RLE.dcm"), tmp_path,
                            TranscodeOptions(target=TargetSyntax.RLE))
    assert result.outputs[0].path.read_bytes() == corpus("emri_small_RLE.dcm").read_bytes()
    assert "copied" in result.message
