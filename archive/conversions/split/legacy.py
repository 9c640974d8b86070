"""The legacy CT / MR / PET attributes a flattened frame still lacks, mapped from the
enhanced ones (PS3.3 C.8.2.1 CT Image, C.8.3.1 MR Image, C.8.9.1 PET Series, C.8.9.4 PET
Image), and the enhanced-only attributes removed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from pydicom.dataset import Dataset
from pydicom.valuerep import DSfloat

from archive.conversions.split.classes import LegacyKind
from archive.conversions.split.groups import FrameFacts

# Attributes of the enhanced IODs (multi-frame, dimension, enhanced image modules, frame
# content and frame type groups) that no legacy single-frame image has.
ENHANCED_ONLY = (
    "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence", "NumberOfFrames",
    "DimensionOrganizationSequence", "DimensionIndexSequence", "DimensionOrganizationType",
    "ConcatenationUID", "ConcatenationFrameOffsetNumber", "InConcatenationNumber",
    "InConcatenationTotalNumber", "SOPInstanceUIDOfConcatenationSource",
    "RepresentativeFrameNumber", "ReferencedImageEvidenceSequence",
    "SourceImageEvidenceSequence", "PixelPresentation", "VolumetricProperties",
    "VolumeBasedCalculationTechnique", "ComplexImageComponent", "AcquisitionContrast",
    "FrameType", "StackID", "InStackPositionNumber", "DimensionIndexValues",
    "FrameAcquisitionNumber", "FrameAcquisitionDateTime", "FrameReferenceDateTime",
    "FrameAcquisitionDuration", "FrameComments", "FrameLabel", "TemporalPositionIndex",
    "FrameLaterality", "ContentQualification", "AcquisitionContextSequence",
    "DataPointRows", "DataPointColumns", "EffectiveEchoTime", "InversionTimes",
    "ExposureTimeInms", "XRayTubeCurrentInmA", "ExposureInmAs",
    "ExtendedOffsetTable", "ExtendedOffsetTableLengths",
    # Common Instance Reference (what the evidence of the multi-frame instance was)
    "ReferencedSeriesSequence", "StudiesContainingOtherReferencedInstancesSequence",
)

PALETTE = (
    *(f"{colour}PaletteColorLookupTable{part}" for colour in ("Red", "Green", "Blue")
      for part in ("Descriptor", "Data")),
    "PaletteColorLookupTableUID", "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData", "SegmentedBluePaletteColorLookupTableData")

# Type 2 attributes of modules every legacy image has (Patient, General Study, General
# Series, Frame of Reference, General Equipment, General Image, Image Plane).
COMMON_TYPE2 = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber", "SeriesNumber",
    "PositionReferenceIndicator", "Manufacturer", "SliceThickness",
)
CT_TYPE2 = ("KVP", "AcquisitionNumber")
MR_TYPE2 = ("ScanOptions", "MRAcquisitionType", "EchoTime", "EchoTrainLength")
PET_TYPE2 = ("CollimatorType", "CorrectedImage", "AcquisitionDate", "AcquisitionTime",
             "ActualFrameDuration", "RadiopharmaceuticalInformationSequence",
             "PatientOrientationCodeSequence", "PatientGantryRelationshipCodeSequence")

# PS3.3 C.8.9.1.1.3 Units, from the UCUM code of the Real World Value Mapping.
PET_UNITS = {
    "{counts}": "CNTS", "1": "NONE", "cm2": "CM2", "cm2/ml": "CM2ML", "%": "PCNT",
    "{counts}/s": "CPS", "Bq/ml": "BQML", "mg/min/ml": "MGMINML", "umol/min/ml": "UMOLMINML",
    "ml/min/g": "MLMING", "ml/g": "MLG", "/cm": "1CM", "umol/ml": "UMOLML",
    "{propcounts}": "PROPCNTS", "{propcounts}/s": "PROPCPS", "ml/min/ml": "MLMINML",
    "ml/ml": "MLML", "g/ml": "GML", "{SUVbw}g/ml": "GML", "{SUVlbm}g/ml": "GML",
    "{SUVbsa}cm2/ml": "CM2ML", "{SUVibw}g/ml": "GML",
}


def ds_value(number: float) -> DSfloat:
    return DSfloat(number, auto_format=True)


def put_frame_facts(target: Dataset, facts: FrameFacts, kind: LegacyKind) -> None:
    if facts.acquisition_number is not None:
        target.AcquisitionNumber = facts.acquisition_number
    if facts.acquisition_datetime:
        target.AcquisitionDateTime = facts.acquisition_datetime
        target.AcquisitionDate = facts.acquisition_datetime[:8]
        if len(facts.acquisition_datetime) > 8:
            target.AcquisitionTime = facts.acquisition_datetime[8:].split("+")[0].split(
                "-")[0]
    if facts.comments:
        target.ImageComments = facts.comments[:10240]
    if facts.temporal_position is not None and kind == LegacyKind.MR:
        target.TemporalPositionIdentifier = facts.temporal_position


def slice_location(target: Dataset) -> None:
    """The position along the normal of the image plane (row × column direction)."""
    position, orientation = target.get("ImagePositionPatient"), target.get(
        "ImageOrientationPatient")
    if not position or not orientation or len(position) != 3 or len(orientation) != 6:
        return
    row, column = [float(v) for v in orientation[:3]], [float(v) for v in orientation[3:]]
    normal = (row[1] * column[2] - row[2] * column[1], row[2] * column[0] - row[0] * column[2],
              row[0] * column[1] - row[1] * column[0])
    location = sum(float(p) * n for p, n in zip(position, normal, strict=True))
    target.SliceLocation = ds_value(round(location, 6) + 0.0)


def ensure_present(target: Dataset, keywords: Iterable[str]) -> None:
    """Type 2: present, empty when the source does not know the value."""
    for keyword in keywords:
        if keyword not in target:
            setattr(target, keyword, [] if keyword.endswith("Sequence") else None)


def contrast_bolus(target: Dataset) -> None:
    """The Enhanced Contrast/Bolus agents become the legacy Contrast/Bolus module: the agent
    and route in words, the first agent's volume and concentration, code items only."""
    agents = target.get("ContrastBolusAgentSequence")
    if not agents:
        return
    if "ContrastBolusAgent" not in target:
        names = "; ".join(str(a.get("CodeMeaning") or "") for a in agents)
        target.ContrastBolusAgent = names[:64] or None
    first = agents[0]
    routes = first.get("ContrastBolusAdministrationRouteSequence")
    if routes and "ContrastBolusRoute" not in target:
        target.ContrastBolusRoute = str(routes[0].get("CodeMeaning") or "")[:64] or None
    for keyword in ("ContrastBolusVolume", "ContrastBolusIngredientConcentration"):
        if keyword in first and keyword not in target:
            setattr(target, keyword, first.get(keyword))
    for agent in agents:
        for element in list(agent):
            if element.keyword not in {"CodeValue", "CodingSchemeDesignator",
                                       "CodingSchemeVersion", "CodeMeaning", "LongCodeValue",
                                       "URNCodeValue"}:
                del agent[element.tag]


def finish_ct(target: Dataset, warnings: list[str]) -> None:
    _as_integer(target, "ExposureTimeInms", "ExposureTime")
    _as_integer(target, "XRayTubeCurrentInmA", "XRayTubeCurrent")
    _as_integer(target, "ExposureInmAs", "Exposure")
    if "DistanceSourceToDataCollectionCenter" in target and \
            "DistanceSourceToPatient" not in target:
        target.DistanceSourceToPatient = target.DistanceSourceToDataCollectionCenter
    if "RescaleIntercept" not in target or "RescaleSlope" not in target:
        warnings.append("no Pixel Value Transformation: Rescale 0 / 1 assumed")
        target.RescaleIntercept = target.get("RescaleIntercept", 0)
        target.RescaleSlope = target.get("RescaleSlope", 1)
    ensure_present(target, CT_TYPE2)


def _as_integer(target: Dataset, enhanced: str, legacy: str) -> None:
    """An enhanced FD (ms, mA, mAs) as the legacy IS in the same unit."""
    value = target.get(enhanced)
    if value is not None and legacy not in target:
        setattr(target, legacy, round(float(value)))


def finish_mr(target: Dataset) -> None:
    echo = target.get("EffectiveEchoTime")
    if echo is not None and "EchoTime" not in target:
        target.EchoTime = ds_value(float(echo))
    inversion = target.get("InversionTimes")
    if inversion and "InversionTime" not in target:
        values = inversion if target["InversionTimes"].VM > 1 else [inversion]
        target.InversionTime = ds_value(float(values[0]))
    _copy_if_absent(target, "NominalCardiacTriggerDelayTime", "TriggerTime")
    _copy_if_absent(target, "PulseSequenceName", "SequenceName")
    _copy_if_absent(target, "TransmitterFrequency", "ImagingFrequency")
    _copy_if_absent(target, "ResonantNucleus", "ImagedNucleus")
    _copy_if_absent(target, "MRAcquisitionPhaseEncodingStepsInPlane",
                    "NumberOfPhaseEncodingSteps")
    if "ScanningSequence" not in target:
        target.ScanningSequence = _scanning_sequence(target)
    if "SequenceVariant" not in target:
        target.SequenceVariant = _sequence_variant(target)
    if "ScanOptions" not in target:
        target.ScanOptions = _scan_options(target) or None
    image_type = list(target.get("ImageType") or [])
    if len(image_type) > 2 and image_type[2] == "ANGIO" and "AngioFlag" not in target:
        target.AngioFlag = "Y"
    if "RepetitionTime" not in target:
        target.RepetitionTime = None  # Type 2C: required unless EP and SK; empty, unknown
    if "IR" in target.ScanningSequence and "InversionTime" not in target:
        target.InversionTime = None
    ensure_present(target, MR_TYPE2)


def _copy_if_absent(target: Dataset, enhanced: str, legacy: str) -> None:
    value = target.get(enhanced)
    if value is not None and value != "" and legacy not in target:
        setattr(target, legacy, ds_value(float(value)) if isinstance(value, float) else value)


def _flag(target: Dataset, keyword: str) -> str:
    return str(target.get(keyword) or "").upper()


def _scanning_sequence(target: Dataset) -> list[str]:
    """PS3.3 C.8.3.1 Scanning Sequence from the MR Pulse Sequence and MR Modifier groups."""
    pulse = _flag(target, "EchoPulseSequence")
    values = []
    if pulse in {"SPIN", "BOTH"}:
        values.append("SE")
    if pulse in {"GRADIENT", "BOTH"}:
        values.append("GR")
    if _flag(target, "InversionRecovery") == "YES":
        values.append("IR")
    if _flag(target, "EchoPlanarPulseSequence") == "YES":
        values.append("EP")
    return values or ["RM"]  # nothing known: Research Mode


def _sequence_variant(target: Dataset) -> list[str]:
    values = []
    if _flag(target, "SegmentedKSpaceTraversal") not in {"", "SINGLE"}:
        values.append("SK")
    if _flag(target, "MagnetizationTransfer") not in {"", "NONE"}:
        values.append("MTC")
    steady = _flag(target, "SteadyStatePulseSequence")
    if steady not in {"", "NONE"}:
        values.append("TRSS" if steady == "TIME_REVERSED" else "SS")
    if _flag(target, "Spoiling") not in {"", "NONE"}:
        values.append("SP")
    if _flag(target, "OversamplingPhase") not in {"", "NONE"}:
        values.append("OSP")
    return values or ["NONE"]


def _scan_options(target: Dataset) -> list[str]:
    values = []
    if _flag(target, "RectilinearPhaseEncodeReordering") not in {"", "LINEAR"}:
        values.append("PER")
    if _flag(target, "CardiacSynchronizationTechnique") not in {"", "NONE"}:
        values.append("CG")
    if _flag(target, "RespiratoryMotionCompensationTechnique") not in {"", "NONE"}:
        values.append("RG")
    if _flag(target, "PartialFourier") == "YES":
        direction = _flag(target, "PartialFourierDirection")
        values += {"PHASE": ["PFP"], "FREQUENCY": ["PFF"]}.get(direction, [])
    if _flag(target, "SpatialPresaturation") not in {"", "NONE"}:
        values.append("SP")
    if _flag(target, "SpectrallySelectedSuppression").startswith("FAT"):
        values.append("FS")
    if _flag(target, "FlowCompensation") not in {"", "NONE"}:
        values.append("FC")
    return values


def finish_pet(target: Dataset, number: int, facts: FrameFacts, series: PetSeries,
               warnings: list[str]) -> None:
    if "Units" not in target:
        target.Units = _pet_units(target, warnings)
    if "SeriesType" not in target:
        target.SeriesType = ["DYNAMIC" if series.time_slices > 1 else "STATIC", "IMAGE"]
    if "CorrectedImage" not in target:
        target.CorrectedImage = [code for keyword, code in (
            ("DecayCorrected", "DECY"), ("AttenuationCorrected", "ATTN"),
            ("ScatterCorrected", "SCAT"), ("DeadTimeCorrected", "DTIM"),
            ("GantryMotionCorrected", "MOTN"), ("PatientMotionCorrected", "PMOT"),
            ("RandomsCorrected", "RAN")) if _flag(target, keyword) == "YES"] or None
    if "DecayCorrection" not in target:
        target.DecayCorrection = _decay_correction(target)
    if "NumberOfSlices" not in target:
        target.NumberOfSlices = series.slices
    if "ImageIndex" not in target:  # Type 1; the frame's place in the enhanced image
        target.ImageIndex = number
    if "NumberOfTimeSlices" not in target and series.time_slices > 1:
        target.NumberOfTimeSlices = series.time_slices
    if "FrameReferenceTime" not in target:
        target.FrameReferenceTime = ds_value(_reference_ms(target, facts))
    if "ActualFrameDuration" not in target and facts.acquisition_duration_ms is not None:
        target.ActualFrameDuration = round(facts.acquisition_duration_ms)
    if "RescaleIntercept" not in target or "RescaleSlope" not in target:
        target.RescaleIntercept = target.get("RescaleIntercept", 0)
        target.RescaleSlope = target.get("RescaleSlope", 1)
    if target.DecayCorrection != "NONE" and "DecayFactor" not in target:
        warnings.append("decay corrected, but no Decay Factor in the source")
    ensure_present(target, PET_TYPE2)


class PetSeries:
    """Counts over all frames that each legacy PET image states (Number of Slices…)."""

    def __init__(self, frames: int, time_slices: int) -> None:
        self.time_slices = max(time_slices, 1)
        self.slices = max(frames // self.time_slices, 1)


def _pet_units(target: Dataset, warnings: list[str]) -> str:
    for mapping in target.get("RealWorldValueMappingSequence") or []:
        for unit in mapping.get("MeasurementUnitsCodeSequence") or []:
            code = str(unit.get("CodeValue") or "")
            if code in PET_UNITS:
                return PET_UNITS[code]
    warnings.append("PET units unknown (no Real World Value Mapping with UCUM units): NONE")
    return "NONE"


def _decay_correction(target: Dataset) -> str:
    if _flag(target, "DecayCorrected") != "YES":
        return "NONE"
    when = str(target.get("DecayCorrectionDateTime") or "")
    for drug in target.get("RadiopharmaceuticalInformationSequence") or []:
        if when and when == str(drug.get("RadiopharmaceuticalStartDateTime") or ""):
            return "ADMIN"
    return "START"


def _reference_ms(target: Dataset, facts: FrameFacts) -> float:
    """Frame Reference Time: ms from the series' date and time to the frame's reference."""
    def parse(value: str) -> datetime | None:
        digits = value.split("+")[0].split("-")[0]
        for pattern in ("%Y%m%d%H%M%S.%f", "%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"):
            try:
                return datetime.strptime(digits, pattern)
            except ValueError:
                continue
        return None

    series = parse(f"{target.get('SeriesDate') or ''}{target.get('SeriesTime') or ''}")
    frame = parse(facts.reference_datetime or facts.acquisition_datetime)
    if series is None or frame is None:
        return 0.0
    milliseconds = (frame - series).total_seconds() * 1000.0
    return milliseconds if math.isfinite(milliseconds) else 0.0


def drop_supplemental_palette(target: Dataset, warnings: list[str]) -> None:
    """A grayscale legacy image may not carry the enhanced image's Supplemental Palette."""
    if str(target.get("PhotometricInterpretation") or "") == "PALETTE COLOR":
        return
    present = [keyword for keyword in PALETTE if keyword in target]
    for keyword in present:
        delattr(target, keyword)
    if present:
        warnings.append("the Supplemental Palette Color LUT is left out (a legacy image "
                        "cannot carry it)")


def remove_enhanced_only(target: Dataset) -> None:
    for keyword in ENHANCED_ONLY:
        if keyword in target:
            delattr(target, keyword)
