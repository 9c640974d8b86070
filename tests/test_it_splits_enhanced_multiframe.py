"""split (emf2sf): enhanced CT / MR / PET multi-frame files become legacy single-frame images.

Oracles: the source's frames as GDCM decodes them (``gdcmconv --raw``, raw value written by
DCMTK's ``dcmdump +W``), the source's own per-frame functional groups read with pydicom,
the legacy slices a Legacy Converted Enhanced image was made from, and ``dciodvfy``
(no error in an output that its source does not already have).
"""

from __future__ import annotations

import shutil
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
)

from archive.conversions.outcome import ConversionFailed, ConversionSkipped
from archive.conversions.split import SplitOptions, split_file
from tests.archive_helpers import corpus
from tests.peers import require_tool
from tests.split_helpers import (
    dciodvfy_errors,
    enhanced_ct_with_acquisition,
    enhanced_mr,
    enhanced_pet,
    gdcm_frames,
    legacy_converted_ct,
    legacy_converted_mr,
    legacy_converted_pet,
)

ENHANCED_ONLY = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
                 "NumberOfFrames", "DimensionIndexSequence", "DimensionOrganizationSequence")


@pytest.fixture(autouse=True)
def tools() -> None:
    for tool in ("dciodvfy", "gdcmconv", "dcmdump"):
        require_tool(tool)


def _group(source: Dataset, frame: int, sequence: str) -> Dataset:
    """The functional group item that applies to ``frame`` (per-frame wins over shared)."""
    per_frame = source.PerFrameFunctionalGroupsSequence[frame - 1]
    if sequence in per_frame:
        return per_frame[sequence][0]
    return source.SharedFunctionalGroupsSequence[0][sequence][0]


def _assert_no_new_errors(source: Path, outputs: list[Path]) -> None:
    known = dciodvfy_errors(source)
    for output in outputs:
        assert dciodvfy_errors(output) - known == set(), output.name


def _assert_legacy_geometry(output: Dataset, source: Dataset, frame: int) -> None:
    position = _group(source, frame, "PlanePositionSequence").ImagePositionPatient
    orientation = _group(source, frame, "PlaneOrientationSequence").ImageOrientationPatient
    measures = _group(source, frame, "PixelMeasuresSequence")
    assert [float(v) for v in output.ImagePositionPatient] == [float(v) for v in position]
    assert [float(v) for v in output.ImageOrientationPatient] == [float(v) for v in
                                                                   orientation]
    assert [float(v) for v in output.PixelSpacing] == [float(v) for v in
                                                        measures.PixelSpacing]
    assert float(output.SliceThickness) == float(measures.SliceThickness)
    row, column = np.array(orientation[:3], float), np.array(orientation[3:], float)
    expected = float(np.dot(np.array(position, float), np.cross(row, column)))
    assert float(output.SliceLocation) == pytest.approx(expected, abs=1e-4)


def _assert_identity(outputs: Sequence[Dataset], source: Dataset, frames: list[int]) -> None:
    uids = {str(ds.SOPInstanceUID) for ds in outputs}
    assert len(uids) == len(outputs) and str(source.SOPInstanceUID) not in uids
    assert {str(ds.SeriesInstanceUID) for ds in outputs} != {str(source.SeriesInstanceUID)}
    assert len({str(ds.SeriesInstanceUID) for ds in outputs}) == 1
    for ds, frame in zip(outputs, frames, strict=True):
        assert ds.StudyInstanceUID == source.StudyInstanceUID
        assert ds.FrameOfReferenceUID == source.FrameOfReferenceUID
        assert int(ds.InstanceNumber) == frame
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        reference = ds.SourceImageSequence[-1]
        assert reference.ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert reference.ReferencedSOPClassUID == source.SOPClassUID
        assert int(reference.ReferencedFrameNumber) == frame
        for keyword in ENHANCED_ONLY:
            assert keyword not in ds


def test_enhanced_ct_frames_become_ct_images(tmp_path: Path) -> None:
    path = corpus("eCT_Supplemental.dcm")
    source = dcmread(path)
    result = split_file(path, tmp_path / "out", SplitOptions())
    assert result.message == "Enhanced CT → 2 CT Image instances"
    assert result.frames == 2 and result.input_bytes == path.stat().st_size
    assert [o.name for o in result.outputs] == ["IM0001.dcm", "IM0002.dcm"]
    decoded = gdcm_frames(path, tmp_path)
    outputs = [dcmread(o.path) for o in result.outputs]
    for frame, (output, ds) in enumerate(zip(result.outputs, outputs, strict=True), 1):
        assert ds.SOPClassUID == CTImageStorage and output.sop_instance_uid == ds.SOPInstanceUID
        np.testing.assert_array_equal(ds.pixel_array, decoded[frame - 1])
        _assert_legacy_geometry(ds, source, frame)
        transform = _group(source, frame, "PixelValueTransformationSequence")
        assert float(ds.RescaleIntercept) == float(transform.RescaleIntercept)
        assert float(ds.RescaleSlope) == float(transform.RescaleSlope)
        voi = _group(source, frame, "FrameVOILUTSequence")
        assert float(ds.WindowCenter) == float(voi.WindowCenter)
        assert list(ds.ImageType) == list(_group(source, frame, "CTImageFrameTypeSequence")
                                          .FrameType)
        assert "KVP" in ds  # Type 2, unknown in this source: present and empty
        content = _group(source, frame, "FrameContentSequence")
        assert int(ds.AcquisitionNumber) == int(content.FrameAcquisitionNumber)
    _assert_identity(outputs, source, [1, 2])
    _assert_no_new_errors(path, [o.path for o in result.outputs])


def test_ct_groups_become_the_legacy_ct_attributes(tmp_path: Path) -> None:
    path = enhanced_ct_with_acquisition(tmp_path / "enhanced-ct.dcm")
    source = dcmread(path)
    result = split_file(path, tmp_path / "out", SplitOptions())
    shared = source.SharedFunctionalGroupsSequence[0]
    exposure = shared.CTExposureSequence[0]
    for output in result.outputs:
        ds = dcmread(output.path)
        assert float(ds.KVP) == float(shared.CTXRayDetailsSequence[0].KVP)
        # the enhanced FD values in ms, mA and mAs are the legacy IS ExposureTime,
        # XRayTubeCurrent and Exposure (PS3.3 C.8.2.1 and C.8.15.3.8)
        assert int(ds.ExposureTime) == round(exposure.ExposureTimeInms)
        assert int(ds.XRayTubeCurrent) == round(exposure.XRayTubeCurrentInmA)
        assert int(ds.Exposure) == round(exposure.ExposureInmAs)
        assert float(ds.DistanceSourceToPatient) == float(
            shared.CTGeometrySequence[0].DistanceSourceToDataCollectionCenter)
        reconstruction = shared.CTReconstructionSequence[0]
        assert ds.ConvolutionKernel == reconstruction.ConvolutionKernel
        assert float(ds.ReconstructionDiameter) == float(reconstruction.ReconstructionDiameter)
        assert float(ds.TableHeight) == float(
            shared.CTAcquisitionDetailsSequence[0].TableHeight)
        assert "ExposureTimeInms" not in ds and "CTExposureSequence" not in ds
    _assert_no_new_errors(path, [o.path for o in result.outputs])


@pytest.mark.parametrize("name", [
    "emri_small.dcm", "emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm",
    "emri_small_jpeg_2k_lossless.dcm", "emri_small_big_endian.dcm"])
def test_enhanced_mr_frames_become_mr_images(tmp_path: Path, name: str) -> None:
    path = enhanced_mr(name, tmp_path / f"enhanced-{name}")
    source = dcmread(path)
    result = split_file(path, tmp_path / "out", SplitOptions())
    assert result.message == "Enhanced MR → 10 MR Image instances"
    decoded = gdcm_frames(path, tmp_path)
    outputs = [dcmread(o.path) for o in result.outputs]
    for frame, ds in enumerate(outputs, 1):
        assert ds.SOPClassUID == MRImageStorage
        np.testing.assert_array_equal(ds.pixel_array, decoded[frame - 1])
        _assert_legacy_geometry(ds, source, frame)
        timing = _group(source, frame, "MRTimingAndRelatedParametersSequence")
        assert float(ds.RepetitionTime) == float(timing.RepetitionTime)
        assert float(ds.FlipAngle) == float(timing.FlipAngle)
        assert float(ds.EchoTime) == float(_group(source, frame, "MREchoSequence")
                                           .EffectiveEchoTime)
        # PS3.3 C.8.3.1.1.1: a gradient echo pulse sequence is GR, not SE
        assert source.EchoPulseSequence == "GRADIENT"
        assert "GR" in ds.ScanningSequence and "SE" not in ds.ScanningSequence
        for keyword in ("SequenceVariant", "ScanOptions", "MRAcquisitionType"):
            assert keyword in ds
        assert ds.MRAcquisitionType == source.MRAcquisitionType
    _assert_identity(outputs, source, list(range(1, 11)))
    if name == "emri_small.dcm":
        _assert_no_new_errors(path, [o.path for o in result.outputs])


def test_chosen_frames_only(tmp_path: Path) -> None:
    path = enhanced_mr("emri_small.dcm", tmp_path / "enhanced.dcm")
    result = split_file(path, tmp_path / "out", SplitOptions(frames=(5, 2, 99)))
    assert [o.name for o in result.outputs] == ["IM0005.dcm", "IM0002.dcm"]
    assert any("99" in warning for warning in result.warnings)
    decoded = gdcm_frames(path, tmp_path)
    for output, frame in zip(result.outputs, (5, 2), strict=True):
        ds = dcmread(output.path)
        assert int(ds.InstanceNumber) == frame
        np.testing.assert_array_equal(ds.pixel_array, decoded[frame - 1])
    with pytest.raises(ConversionSkipped, match="10 frames"):
        split_file(path, tmp_path / "none", SplitOptions(frames=(11,)))


def test_same_source_gives_the_same_uids_and_a_root_is_honoured(tmp_path: Path) -> None:
    path = corpus("eCT_Supplemental.dcm")
    first = split_file(path, tmp_path / "a", SplitOptions())
    again = split_file(path, tmp_path / "b", SplitOptions())
    rooted = split_file(path, tmp_path / "c", SplitOptions(uid_root="1.2.3.4"))
    assert [o.sop_instance_uid for o in first.outputs] == [
        o.sop_instance_uid for o in again.outputs]
    assert all(o.sop_instance_uid.startswith("1.2.3.4.") for o in rooted.outputs)
    with pytest.raises(ValueError):
        SplitOptions(uid_root="not.a.root")


def _legacy_round_trip(tmp_path: Path, path: Path, legacy: list[Dataset], sop_class: str,
                       keywords: tuple[str, ...]) -> list[FileDataset]:
    result = split_file(path, tmp_path / "out", SplitOptions())
    outputs = [dcmread(o.path) for o in result.outputs]
    by_position = {tuple(float(v) for v in ds.ImagePositionPatient): ds for ds in legacy}
    assert len(outputs) == len(legacy)
    for ds in outputs:
        assert ds.SOPClassUID == sop_class
        original = by_position[tuple(float(v) for v in ds.ImagePositionPatient)]
        np.testing.assert_array_equal(ds.pixel_array, original.pixel_array)
        for keyword in keywords:
            assert ds[keyword].value == original[keyword].value, keyword
    _assert_no_new_errors(path, [o.path for o in result.outputs])
    return outputs


def test_legacy_converted_pet_splits_back_into_its_legacy_slices(tmp_path: Path) -> None:
    path, legacy = legacy_converted_pet(tmp_path)
    outputs = _legacy_round_trip(
        tmp_path, path, legacy, PositronEmissionTomographyImageStorage,
        ("RescaleSlope", "RescaleIntercept", "Units", "CountsSource", "SeriesType",
         "DecayCorrection", "DecayFactor", "ImageIndex", "NumberOfSlices", "PixelSpacing",
         "FrameReferenceTime", "ActualFrameDuration"))
    assert {ds.Modality for ds in outputs} == {"PT"}


def test_enhanced_pet_frames_become_pet_images(tmp_path: Path) -> None:
    """The legacy PET attributes are mapped from where Enhanced PET keeps them; the legacy
    slices the Enhanced PET was made from say what they must be."""
    path, legacy = enhanced_pet(tmp_path)
    outputs = _legacy_round_trip(
        tmp_path, path, legacy, PositronEmissionTomographyImageStorage,
        ("RescaleSlope", "RescaleIntercept", "Units", "CountsSource", "SeriesType",
         "CorrectedImage", "DecayCorrection", "DecayFactor", "NumberOfSlices",
         "FrameReferenceTime", "ActualFrameDuration"))
    assert sorted(int(ds.ImageIndex) for ds in outputs) == [1, 2, 3, 4]


def test_legacy_converted_ct_splits_back_into_its_legacy_slices(tmp_path: Path) -> None:
    path, legacy = legacy_converted_ct(tmp_path)
    _legacy_round_trip(tmp_path, path, legacy, CTImageStorage,
                       ("RescaleSlope", "RescaleIntercept", "KVP", "PixelSpacing"))


def test_legacy_converted_mr_splits_back_into_its_legacy_slices(tmp_path: Path) -> None:
    path, legacy = legacy_converted_mr(tmp_path)
    _legacy_round_trip(tmp_path, path, legacy, MRImageStorage,
                       ("ScanningSequence", "SequenceVariant", "ScanOptions",
                        "MRAcquisitionType", "RepetitionTime", "EchoTime", "EchoTrainLength",
                        "InversionTime", "FlipAngle", "SequenceName", "PixelSpacing"))


def test_files_that_are_not_enhanced_are_skipped(tmp_path: Path) -> None:
    with pytest.raises(ConversionSkipped, match=r"CT Image.*legacy single-frame"):
        split_file(corpus("693_UNCI.dcm"), tmp_path, SplitOptions())
    with pytest.raises(ConversionSkipped, match=r"Segmentation.*not an Enhanced"):
        split_file(corpus("liver.dcm"), tmp_path, SplitOptions())
    assert not any(tmp_path.iterdir())


def test_broken_input_fails_with_a_reason_and_leaves_nothing(tmp_path: Path) -> None:
    # the corpus's own Enhanced MR has no functional groups at all
    with pytest.raises(ConversionFailed, match="SharedFunctionalGroupsSequence"):
        split_file(corpus("emri_small.dcm"), tmp_path / "a", SplitOptions())
    short = enhanced_mr("emri_small_jpeg_2k_lossless.dcm", tmp_path / "short.dcm")
    truncated = tmp_path / "truncated.dcm"
    shutil.copyfile(short, truncated)
    with truncated.open("r+b") as handle:
        handle.truncate(truncated.stat().st_size - 20000)
    with pytest.raises(ConversionFailed, match="frame"):
        split_file(truncated, tmp_path / "b", SplitOptions())
    assert not any((tmp_path / "b").glob("*.dcm"))
    text = tmp_path / "notes.dcm"
    text.write_text("not DICOM")
    with pytest.raises(ConversionFailed, match="not a readable DICOM file"):
        split_file(text, tmp_path / "c", SplitOptions())


def test_memory_stays_near_one_frame(tmp_path: Path) -> None:
    """60 frames of 512×512×16 bits (31 MB of pixel data): the split never holds much more
    than a frame (0.5 MB) of pixel data at a time."""
    big = _big_enhanced_mr(tmp_path / "big.dcm", frames=60)
    tracemalloc.start()
    try:
        result = split_file(big, tmp_path / "out", SplitOptions())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.outputs) == 60
    assert peak < 6 * 512 * 512 * 2, f"peak {peak / 1e6:.1f} MB"
    last = dcmread(result.outputs[-1].path).pixel_array
    assert int(last[0, 0]) == 59 and int(last[-1, -1]) == 59


def _big_enhanced_mr(target: Path, frames: int) -> Path:
    source = dcmread(enhanced_mr("emri_small.dcm", target.with_suffix(".small.dcm")))
    per_frame = source.PerFrameFunctionalGroupsSequence
    source.PerFrameFunctionalGroupsSequence = [per_frame[i % len(per_frame)]
                                               for i in range(frames)]
    source.Rows = source.Columns = 512
    source.NumberOfFrames = frames
    source.PixelData = b"".join(np.full((512, 512), i, "<u2").tobytes() for i in range(frames))
    source.save_as(target, enforce_file_format=True)
    return target
