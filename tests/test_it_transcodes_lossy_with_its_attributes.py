"""Lossy transcodes: the error measured on the output decoded by DCMTK (dcmdjpls, dcmdjpeg)
or GDCM (gdcmconv --raw; HTJ2K: pydicom) against the source decoded by pydicom — JPEG-LS
near-lossless within NEAR, JPEG and JPEG 2000 above a PSNR floor — and the attributes of
PS3.3 C.7.6.1.1.5: new SOP Instance UID, Lossy Image Compression 01, ratio and method
appended, the source referenced."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode import TranscodeOptions, transcode_file
from tests.archive_helpers import corpus
from tests.transcode_helpers import (
    assert_readable_by_peers,
    peer_decoded,
    run,
    source_pixels,
)

pytestmark = pytest.mark.dcmtk

T = TargetSyntax
# PSNR over the source's value range (max − min), as the converter reports it: at least
# 40 dB at the default settings (quality 90, 10:1), except colour JPEG Baseline, whose 4:2:2
# chroma subsampling costs more: there at least DCMTK's own (dcmcjpeg +eb +q 90) − 0.5 dB
PSNR_FLOOR_DB = 40.0


def _psnr(ours: Any, reference: Any) -> float:
    error = ours.astype(np.float64) - reference.astype(np.float64)
    mse = float(np.mean(np.square(error)))
    peak = max(1.0, float(reference.max()) - float(reference.min()))
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def _lossy(name: str, tmp_path: Path, **options: Any) -> tuple[Path, Any, Any]:
    result = transcode_file(corpus(name), tmp_path, TranscodeOptions(**options))
    (output,) = result.outputs
    assert_readable_by_peers(output.path, name)
    return output.path, peer_decoded(output.path, tmp_path, name), result


@pytest.mark.parametrize("near", [2, 5])
@pytest.mark.parametrize("name", ["emri_small.dcm", "SC_rgb.dcm", "693_UNCI.dcm",
                                  "US1_J2KR.dcm"])
def test_jpeg_ls_near_lossless_stays_within_near(name: str, near: int,
                                                 tmp_path: Path) -> None:
    _, ours, result = _lossy(name, tmp_path, target=T.JPEG_LS_NEAR_LOSSLESS, near=near)
    reference = source_pixels(name)
    error = int(np.abs(ours.astype(np.int64) - reference.astype(np.int64)).max())
    assert error <= near
    assert result.metrics["max_error"] == error
    assert result.metrics["psnr_db"] > 0 and f"max error {error}" in result.message


@pytest.mark.parametrize(("name", "options"), [
    ("vlut_04.dcm", {"target": T.JPEG_BASELINE}),
    ("MR-SIEMENS-DICOM-WithOverlays.dcm", {"target": T.JPEG_EXTENDED}),
    ("emri_small.dcm", {"target": T.JPEG_EXTENDED, "quality": 95}),
    ("693_UNCI.dcm", {"target": T.J2K_LOSSY}),
    ("US1_UNCR.dcm", {"target": T.J2K_LOSSY, "j2k_psnr": 45.0}),
    ("693_UNCI.dcm", {"target": T.HTJ2K_LOSSY}),
    ("SC_rgb.dcm", {"target": T.HTJ2K_LOSSY}),
])
def test_jpeg_and_jpeg_2000_stay_above_the_psnr_floor(name: str, options: dict[str, Any],
                                                      tmp_path: Path) -> None:
    _, ours, result = _lossy(name, tmp_path, **options)
    reference = source_pixels(name)
    psnr = _psnr(ours, reference)
    assert psnr >= PSNR_FLOOR_DB, f"{name}: {psnr:.1f} dB"
    # the converter's own measure (pydicom's decoders) agrees with the peer's decoding
    reported = result.metrics["psnr_db"]
    assert reported == 999.0 if math.isinf(psnr) else abs(reported - psnr) < 0.5


@pytest.mark.parametrize("name", ["SC_rgb.dcm", "US1_UNCR.dcm"])
def test_colour_jpeg_baseline_is_as_good_as_dcmtks(name: str, tmp_path: Path) -> None:
    path, ours, result = _lossy(name, tmp_path, target=T.JPEG_BASELINE)
    assert dcmread(path, stop_before_pixels=True).PhotometricInterpretation == "YBR_FULL_422"
    theirs = tmp_path / "dcmtk.dcm"
    assert run(["dcmcjpeg", "+eb", "+q", "90", str(corpus(name)), str(theirs)]).returncode == 0
    reference = source_pixels(name)
    dcmtk_psnr = _psnr(peer_decoded(theirs, tmp_path), reference)
    assert _psnr(ours, reference) >= dcmtk_psnr - 0.5
    assert abs(result.metrics["psnr_db"] - _psnr(ours, reference)) < 0.5


def test_jpeg_2000_lossy_meets_the_ratio_asked(tmp_path: Path) -> None:
    """OpenJPEG counts the ratio on Bits Stored (12 here), DICOM's ratio on the uncompressed
    bytes (16 bits allocated): 20:1 asked is 26.7:1 of the uncompressed size."""
    path, _, _ = _lossy("MR-SIEMENS-DICOM-WithOverlays.dcm", tmp_path, target=T.J2K_LOSSY,
                        j2k_ratio=20.0)
    ratio = float(dcmread(path, stop_before_pixels=True).LossyImageCompressionRatio)
    assert ratio == pytest.approx(20 * 16 / 12, rel=0.1)


def test_a_lossy_result_is_a_new_instance_marked_lossy(tmp_path: Path) -> None:
    source = dcmread(corpus("emri_small.dcm"), stop_before_pixels=True)
    assert source.LossyImageCompression == "00" and "LossyImageCompressionMethod" not in source
    path, _, result = _lossy("emri_small.dcm", tmp_path, target=T.JPEG_LS_NEAR_LOSSLESS)
    ds = dcmread(path, stop_before_pixels=True)
    assert ds.SOPInstanceUID != source.SOPInstanceUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert result.outputs[0].sop_instance_uid == ds.SOPInstanceUID
    assert path.name == f"{ds.SOPInstanceUID}.dcm"
    assert ds.LossyImageCompression == "01"
    assert ds.LossyImageCompressionMethod == "ISO_14495_1"
    from pydicom.encaps import generate_frames

    source_bytes = source.Rows * source.Columns * 2 * source.NumberOfFrames
    pixel_bytes = sum(len(frame) for frame in generate_frames(dcmread(path).PixelData,
                                                              number_of_frames=10))
    assert float(ds.LossyImageCompressionRatio) == pytest.approx(
        source_bytes / pixel_bytes, rel=0.01)
    (reference,) = ds.SourceImageSequence
    assert reference.ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert reference.ReferencedSOPClassUID == source.SOPClassUID
    assert reference.PurposeOfReferenceCodeSequence[0].CodeValue == "121320"
    assert "JPEG-LS Near-Lossless" in ds.DerivationDescription
    # everything else is kept
    for keyword in ("PatientName", "StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID",
                    "Modality", "StudyDate", "BitsStored", "PixelRepresentation"):
        assert ds.get(keyword) == source.get(keyword), keyword


def test_a_second_lossy_step_appends_its_ratio_and_method(tmp_path: Path) -> None:
    """MR2_J2KI is JPEG 2000 lossy with ratio 18 and no method: the method of its syntax is
    filled in for that step so that the two lists stay in step."""
    path, _, _ = _lossy("MR2_J2KI.dcm", tmp_path, target=T.JPEG_LS_NEAR_LOSSLESS)
    ds = dcmread(path, stop_before_pixels=True)
    assert ds.LossyImageCompression == "01"
    assert list(ds.LossyImageCompressionMethod) == ["ISO_15444_1", "ISO_14495_1"]
    ratios = list(ds.LossyImageCompressionRatio)
    assert len(ratios) == 2 and float(ratios[0]) == 18


def test_a_lossless_copy_of_a_lossy_image_stays_marked_lossy(tmp_path: Path) -> None:
    result = transcode_file(corpus("MR2_J2KI.dcm"), tmp_path,
                            TranscodeOptions(target=T.EXPLICIT_LE))
    ds = dcmread(result.outputs[0].path, stop_before_pixels=True)
    assert ds.LossyImageCompression == "01"
    assert ds.SOPInstanceUID == dcmread(corpus("MR2_J2KI.dcm")).SOPInstanceUID


def test_a_new_uid_under_the_root_asked(tmp_path: Path) -> None:
    result = transcode_file(corpus("emri_small.dcm"), tmp_path, TranscodeOptions(
        target=T.RLE, new_uid=True, uid_root="1.2.826.0.1.3680043.10.999"))
    uid = result.outputs[0].sop_instance_uid
    assert uid.startswith("1.2.826.0.1.3680043.10.999.") and len(uid) <= 64
    ds = dcmread(result.outputs[0].path, stop_before_pixels=True)
    assert ds.get("LossyImageCompression", "00") == "00"
    assert ds.SourceImageSequence[0].PurposeOfReferenceCodeSequence[0].CodeValue == "121322"
