"""Enhanced multi-frame inputs for the split tests, and the oracles that judge the outputs.

The corpus's Enhanced MR (emri_small*) has no functional groups at all, so a well-formed
Enhanced MR is made from it here (its pixel data kept as stored, compressed or not); a
Legacy Converted Enhanced PET and CT come from highdicom, out of legacy slices made here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
from highdicom.legacy import (
    LegacyConvertedEnhancedCTImage,
    LegacyConvertedEnhancedMRImage,
    LegacyConvertedEnhancedPETImage,
)
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    EnhancedPETImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
    generate_uid,
)

from tests.archive_helpers import corpus

MR_FRAMES = 10
MR_SPACING = 1.2


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _seq(**values: object) -> Sequence:
    return Sequence([_item(**values)])


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    return _item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def mr_position(frame: int) -> list[float]:
    return [-30.0, -31.5, round(10.0 + MR_SPACING * (frame - 1), 4)]


def enhanced_mr(corpus_name: str, target: Path) -> Path:
    """emri_small (any of its transfer syntaxes) with the functional groups an Enhanced MR
    needs: geometry, MR timing, echo, modifiers, coils, VOI, one position per frame."""
    ds = dcmread(corpus(corpus_name))
    ds.Manufacturer, ds.ManufacturerModelName, ds.DeviceSerialNumber = "Test", "Split", "1"
    ds.ApplicableSafetyStandardAgency = "IEC"
    ds.AcquisitionContextSequence = Sequence()
    dimension_uid = generate_uid()
    ds.DimensionOrganizationSequence = _seq(DimensionOrganizationUID=dimension_uid)
    ds.DimensionIndexSequence = Sequence([
        _item(DimensionOrganizationUID=dimension_uid, DimensionIndexPointer=0x00209056,
              FunctionalGroupPointer=0x00209111),
        _item(DimensionOrganizationUID=dimension_uid, DimensionIndexPointer=0x00209057,
              FunctionalGroupPointer=0x00209111)])
    ds.pop(0x00189090, None)  # Velocity Encoding Direction 0\0\0, which dciodvfy calls an error
    shared = Dataset()
    shared.PixelMeasuresSequence = _seq(PixelSpacing=[0.9375, 0.9375],
                                        SliceThickness=MR_SPACING,
                                        SpacingBetweenSlices=MR_SPACING)
    shared.PlaneOrientationSequence = _seq(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    shared.MRImageFrameTypeSequence = _seq(
        FrameType=["ORIGINAL", "PRIMARY", "T1", "NONE"], PixelPresentation="MONOCHROME",
        VolumetricProperties="VOLUME", VolumeBasedCalculationTechnique="NONE",
        ComplexImageComponent="MAGNITUDE", AcquisitionContrast="T1")
    shared.MRTimingAndRelatedParametersSequence = _seq(
        RepetitionTime=8.2, FlipAngle=8, EchoTrainLength=1, RFEchoTrainLength=0,
        GradientEchoTrainLength=1)
    shared.MRFOVGeometrySequence = _seq(
        InPlanePhaseEncodingDirection="ROW", MRAcquisitionFrequencyEncodingSteps=256,
        MRAcquisitionPhaseEncodingStepsInPlane=218, PercentSampling=100,
        PercentPhaseFieldOfView=100)
    shared.MREchoSequence = _seq(EffectiveEchoTime=3.7)
    shared.MRModifierSequence = _seq(
        InversionRecovery="NO", FlowCompensation="NONE", T2Preparation="NO",
        SpectrallySelectedExcitation="WATER", SpatialPresaturation="NONE",
        PartialFourier="NO", ParallelAcquisition="YES", ParallelAcquisitionTechnique="SENSE",
        ParallelReductionFactorInPlane=1.0, ParallelReductionFactorOutOfPlane=1.0)
    shared.MRImagingModifierSequence = _seq(
        MagnetizationTransfer="NONE", BloodSignalNulling="NO", Tagging="NONE",
        TransmitterFrequency=127.7, PixelBandwidth=241)
    shared.MRReceiveCoilSequence = _seq(ReceiveCoilName="HEAD", ReceiveCoilType="VOLUME",
                                        QuadratureReceiveCoil="NO")
    shared.MRTransmitCoilSequence = _seq(TransmitCoilName="BODY", TransmitCoilType="BODY")
    shared.MRAveragesSequence = _seq(NumberOfAverages=1)
    shared.FrameVOILUTSequence = _seq(WindowCenter=600, WindowWidth=1200)
    shared.PixelValueTransformationSequence = _seq(RescaleIntercept=0, RescaleSlope=1,
                                                   RescaleType="US")
    shared.FrameAnatomySequence = _seq(
        AnatomicRegionSequence=Sequence([_code("T-A0100", "SRT", "Brain")]),
        FrameLaterality="U")
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for frame in range(1, MR_FRAMES + 1):
        groups = Dataset()
        groups.FrameContentSequence = _seq(
            FrameAcquisitionNumber=3, StackID="1", InStackPositionNumber=frame,
            DimensionIndexValues=[1, frame],
            FrameAcquisitionDateTime=f"20120820120{frame - 1}04.06",
            FrameReferenceDateTime=f"20120820120{frame - 1}04.06",
            FrameAcquisitionDuration=65270.7)
        groups.PlanePositionSequence = _seq(ImagePositionPatient=mr_position(frame))
        frames.append(groups)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.save_as(target, enforce_file_format=True)
    return target


def enhanced_ct_with_acquisition(target: Path) -> Path:
    """The corpus's Enhanced CT with the CT groups it lacks: X-Ray details, exposure,
    acquisition details, geometry and reconstruction (shared), as a scanner writes them."""
    ds = dcmread(corpus("eCT_Supplemental.dcm"))
    shared = ds.SharedFunctionalGroupsSequence[0]
    shared.CTXRayDetailsSequence = _seq(KVP=120, FocalSpots=[0.7], FilterType="BODY")
    shared.CTExposureSequence = _seq(ExposureTimeInms=1000.0, XRayTubeCurrentInmA=200.0,
                                     ExposureInmAs=200.0, CTDIvol=40.0)
    shared.CTAcquisitionDetailsSequence = _seq(
        DataCollectionDiameter=500, GantryDetectorTilt=0, TableHeight=150,
        RotationDirection="CW", RevolutionTime=1.0, SingleCollimationWidth=0.625,
        TotalCollimationWidth=40.0)
    shared.CTGeometrySequence = _seq(DistanceSourceToDetector=1000.0,
                                     DistanceSourceToDataCollectionCenter=550.0)
    shared.CTReconstructionSequence = _seq(
        ReconstructionAlgorithm="FILTER_BACK_PROJ", ConvolutionKernel="B30f",
        ConvolutionKernelGroup="BRAIN", ReconstructionDiameter=200.0)
    ds.save_as(target, enforce_file_format=True)
    return target


def _legacy_slice(sop_class: str, modality: str, series_uid: str, study_uid: str,
                  frame_of_reference: str, index: int, pixels: np.ndarray) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Split^Test", "S1", \
        "19700101", "O"
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study_uid, "20240102", "100000"
    ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "1", ""
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = series_uid, 7, modality
    ds.SeriesDate, ds.SeriesTime = "20240102", "100500"
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_of_reference, ""
    ds.Manufacturer = "Test"
    ds.InstanceNumber = index
    ds.ContentDate, ds.ContentTime = "20240102", "101000"
    ds.AcquisitionDate, ds.AcquisitionTime = "20240102", "100500"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PixelSpacing, ds.SliceThickness = [2.0, 2.0], 3.0
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [-64.0, -64.0, 3.0 * index]
    ds.SliceLocation = 3.0 * index
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = pixels.astype("<i2").tobytes()
    return ds


def _pet_slice(uids: tuple[str, str, str], index: int, slices: int) -> Dataset:
    rng = np.random.default_rng(index)
    ds = _legacy_slice(PositronEmissionTomographyImageStorage, "PT", *uids, index,
                       rng.integers(0, 3000, (32, 32), dtype=np.int16))
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.CollimatorType = "NONE"
    ds.Units, ds.CountsSource, ds.SeriesType = "BQML", "EMISSION", ["STATIC", "IMAGE"]
    ds.CorrectedImage, ds.DecayCorrection = ["DECY", "ATTN"], "START"
    ds.NumberOfSlices, ds.ImageIndex = slices, index
    ds.RescaleIntercept, ds.RescaleSlope = 0, 0.5 + index / 100
    ds.FrameReferenceTime, ds.ActualFrameDuration = 90000, 180000
    ds.DecayFactor = 1.05
    ds.RadiopharmaceuticalInformationSequence = Sequence([_item(
        Radiopharmaceutical="Fluorodeoxyglucose",
        RadionuclideCodeSequence=Sequence([_code("C-111A1", "SRT", "^18^Fluorine")]),
        RadionuclideHalfLife=6586.2, RadionuclideTotalDose=370000000,
        RadiopharmaceuticalStartTime="090000")])
    ds.PatientOrientationCodeSequence = Sequence()
    ds.PatientGantryRelationshipCodeSequence = Sequence()
    return ds


def legacy_converted_pet(folder: Path, slices: int = 4) -> tuple[Path, list[Dataset]]:
    """A Legacy Converted Enhanced PET (highdicom) from legacy PET slices made here."""
    uids = (generate_uid(), generate_uid(), generate_uid())
    legacy = [_pet_slice(uids, index, slices) for index in range(1, slices + 1)]
    for number, ds in enumerate(legacy, 1):
        ds.save_as(folder / f"pet-legacy-{number}.dcm", enforce_file_format=True)
    image = LegacyConvertedEnhancedPETImage(legacy, generate_uid(), 8, generate_uid(), 1)
    path = folder / "lc-pet.dcm"
    image.save_as(path, enforce_file_format=True)
    return path, legacy


def enhanced_pet(folder: Path) -> tuple[Path, list[Dataset]]:
    """An Enhanced PET made from the Legacy Converted one: its legacy attributes moved to
    where the Enhanced PET IOD keeps them (acquisition flags, Real World Value Mapping units,
    frame correction factors, frame reference times), the unassigned groups dropped."""
    converted, legacy = legacy_converted_pet(folder)
    ds = dcmread(converted)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedPETImageStorage
    ds.CountsSource, ds.DecayCorrectionDateTime = "EMISSION", "20240102100500"
    for flag, value in (("DecayCorrected", "YES"), ("AttenuationCorrected", "YES"),
                        ("ScatterCorrected", "NO"), ("DeadTimeCorrected", "NO"),
                        ("GantryMotionCorrected", "NO"), ("PatientMotionCorrected", "NO"),
                        ("RandomsCorrected", "NO")):
        setattr(ds, flag, value)
    drug = legacy[0].RadiopharmaceuticalInformationSequence[0]
    drug.RadiopharmaceuticalStartDateTime = "20240102090000"
    ds.RadiopharmaceuticalInformationSequence = Sequence([drug])
    shared = ds.SharedFunctionalGroupsSequence[0]
    del shared.UnassignedSharedConvertedAttributesSequence
    shared.RealWorldValueMappingSequence = _seq(
        LUTExplanation="Activity", LUTLabel="BQML", RealWorldValueIntercept=0.0,
        RealWorldValueSlope=1.0, DoubleFloatRealWorldValueFirstValueMapped=-32768.0,
        DoubleFloatRealWorldValueLastValueMapped=32767.0,
        MeasurementUnitsCodeSequence=Sequence([_code("Bq/ml", "UCUM", "Bq/ml")]))
    for frame in ds.PerFrameFunctionalGroupsSequence:
        del frame.UnassignedPerFrameConvertedAttributesSequence
        del frame.ConversionSourceAttributesSequence
        frame.PETFrameCorrectionFactorsSequence = _seq(DecayFactor=1.05)
        content = frame.FrameContentSequence[0]
        content.FrameReferenceDateTime = "20240102100630"  # 90 s after the series time
        content.TemporalPositionIndex = 1
    path = folder / "enhanced-pet.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, legacy


def legacy_converted_ct(folder: Path, slices: int = 3) -> tuple[Path, list[Dataset]]:
    uids = (generate_uid(), generate_uid(), generate_uid())
    legacy = []
    for index in range(1, slices + 1):
        rng = np.random.default_rng(100 + index)
        ds = _legacy_slice(CTImageStorage, "CT", *uids, index,
                           rng.integers(-1024, 2000, (24, 24), dtype=np.int16))
        ds.RescaleIntercept, ds.RescaleSlope, ds.KVP = 0, 1, 120
        ds.AcquisitionNumber = 1
        legacy.append(ds)
    image = LegacyConvertedEnhancedCTImage(legacy, generate_uid(), 9, generate_uid(), 1)
    path = folder / "lc-ct.dcm"
    image.save_as(path, enforce_file_format=True)
    return path, legacy


def legacy_converted_mr(folder: Path, slices: int = 3) -> tuple[Path, list[Dataset]]:
    uids = (generate_uid(), generate_uid(), generate_uid())
    legacy = []
    for index in range(1, slices + 1):
        rng = np.random.default_rng(200 + index)
        ds = _legacy_slice(MRImageStorage, "MR", *uids, index,
                           rng.integers(0, 4000, (20, 24), dtype=np.int16))
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = ["SE", "IR"], ["SK"], "FS"
        ds.MRAcquisitionType, ds.RepetitionTime, ds.EchoTime = "2D", 2500.0, 20.0
        ds.EchoTrainLength, ds.InversionTime, ds.FlipAngle = 4, 150.0, 90.0
        ds.MagneticFieldStrength, ds.SequenceName = 1.5, "tir2d1"
        legacy.append(ds)
    image = LegacyConvertedEnhancedMRImage(legacy, generate_uid(), 10, generate_uid(), 1)
    path = folder / "lc-mr.dcm"
    image.save_as(path, enforce_file_format=True)
    return path, legacy


def dciodvfy_errors(path: Path) -> set[str]:
    """dciodvfy's Error lines, without the module names (which differ between the enhanced
    and the legacy IOD for the same fault)."""
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return {re.sub(r"\s*Module=<[^>]*>", "", line).strip() for line in lines
            if line.startswith("Error")}


def gdcm_frames(path: Path, work: Path) -> np.ndarray:
    """All frames as GDCM decodes them (``gdcmconv --raw``) and DCMTK writes out the raw
    value (``dcmdump +W``): shape (frames, rows, columns), stored values."""
    raw = work / f"gdcm-raw-{path.name}"
    folder = work / f"gdcm-pixels-{path.name}"
    folder.mkdir(exist_ok=True)
    run = subprocess.run(["gdcmconv", "--raw", str(path), str(raw)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    run = subprocess.run(["dcmdump", "-q", "+W", str(folder), str(raw)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    header = dcmread(raw, stop_before_pixels=True)
    signed = int(header.PixelRepresentation) == 1
    dtype = {8: "i1" if signed else "u1", 16: "<i2" if signed else "<u2"}[
        int(header.BitsAllocated)]
    (data,) = [p.read_bytes() for p in folder.iterdir() if p.name.startswith(raw.name)]
    frames = int(header.get("NumberOfFrames") or 1)
    rows, columns = int(header.Rows), int(header.Columns)
    return np.frombuffer(data, dtype=dtype)[: frames * rows * columns].reshape(
        frames, rows, columns)
