"""Type 1 attributes (required, never empty) of the modules an edit can meet, with the
condition under which the module is in the data set.

Curated from DICOM PS3.3 (Information Object Definitions), Annex C module tables; the
section of each module is given. Only top-level attributes are listed, plus the two macros
every reference and code item uses (PS3.3 Table 10-11 SOP Instance Reference Macro and
PS3.3 Section 8.8 Table 8.8-1 Code Sequence Macro), applied to any sequence item that has
them. A data set that already lacks one of them is not refused for it: only an edit that
removes or empties one is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

Condition = Callable[[Dataset], bool]

SC_CLASSES = "1.2.840.10008.5.1.4.1.1.7"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
VL_CLASSES = "1.2.840.10008.5.1.4.1.1.77.1."  # VL Endoscopic, Microscopic, Photographic…
PET_IMAGE = "1.2.840.10008.5.1.4.1.1.128"
KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _always(ds: Dataset) -> bool:
    return True


def _has(*keywords: str) -> Condition:
    return lambda ds: any(keyword in ds for keyword in keywords)


def has_pixel_data(ds: Dataset) -> bool:
    return any(keyword in ds for keyword in PIXEL_DATA_KEYWORDS)


def _sop_class(prefix: str, exact: bool = True) -> Condition:
    def test(ds: Dataset) -> bool:
        value = str(ds.get("SOPClassUID", "") or "")
        return value == prefix if exact else value.startswith(prefix)
    return test


def _palette(ds: Dataset) -> bool:
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    return has_pixel_data(ds) and photometric == "PALETTE COLOR"


def _colour_by_plane(ds: Dataset) -> bool:
    try:
        return has_pixel_data(ds) and int(ds.get("SamplesPerPixel", 1) or 1) > 1
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Type1Module:
    name: str
    section: str  # of PS3.3
    present: Condition
    keywords: tuple[str, ...]

    @property
    def tags(self) -> tuple[int, ...]:
        return tuple(int(tag_for_keyword(k) or 0) for k in self.keywords)


MODULES: tuple[Type1Module, ...] = (
    Type1Module("SOP Common", "C.12.1", _always, ("SOPClassUID", "SOPInstanceUID")),
    Type1Module("General Study", "C.7.2.1", _always, ("StudyInstanceUID",)),
    Type1Module("General Series", "C.7.3.1", _always, ("Modality", "SeriesInstanceUID")),
    Type1Module("Frame of Reference", "C.7.4.1",
                _has("ImagePositionPatient", "ImageOrientationPatient",
                     "SharedFunctionalGroupsSequence"), ("FrameOfReferenceUID",)),
    Type1Module("Image Plane", "C.7.6.2", _has("ImagePositionPatient"),
                ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")),
    Type1Module("Image Pixel", "C.7.6.3", has_pixel_data,
                ("SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns",
                 "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                 "PixelData")),
    Type1Module("Image Pixel (colour by plane)", "C.7.6.3", _colour_by_plane,
                ("PlanarConfiguration",)),
    Type1Module("Multi-frame", "C.7.6.6", lambda ds: has_pixel_data(ds) and "NumberOfFrames" in ds,
                ("NumberOfFrames",)),
    Type1Module("Multi-frame Functional Groups", "C.7.6.16",
                _has("PerFrameFunctionalGroupsSequence"),
                ("PerFrameFunctionalGroupsSequence", "NumberOfFrames", "InstanceNumber",
                 "ContentDate", "ContentTime")),
    Type1Module("Palette Color Lookup Table", "C.7.9", _palette,
                ("RedPaletteColorLookupTableDescriptor",
                 "GreenPaletteColorLookupTableDescriptor",
                 "BluePaletteColorLookupTableDescriptor")),
    Type1Module("SC Equipment", "C.8.6.1", _sop_class(SC_CLASSES, exact=False),
                ("ConversionType",)),
    Type1Module("CT Image", "C.8.2.1", _sop_class(CT_IMAGE),
                ("ImageType", "RescaleIntercept", "RescaleSlope")),
    Type1Module("MR Image", "C.8.3.1", _sop_class(MR_IMAGE),
                ("ImageType", "ScanningSequence", "SequenceVariant")),
    Type1Module("Segmentation Image", "C.8.20.2", _sop_class(SEGMENTATION),
                ("ImageType", "SegmentationType", "SegmentSequence")),
    Type1Module("PET Image", "C.8.9.4", _sop_class(PET_IMAGE),
                ("ImageType", "RescaleIntercept", "RescaleSlope", "FrameReferenceTime",
                 "ImageIndex")),
    Type1Module("VL Image", "C.8.12.1", _sop_class(VL_CLASSES, exact=False),
                ("ImageType", "SamplesPerPixel", "PhotometricInterpretation",
                 "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation")),
    Type1Module("Encapsulated Document", "C.24.2", _has("EncapsulatedDocument"),
                ("InstanceNumber", "MIMETypeOfEncapsulatedDocument", "EncapsulatedDocument",
                 "BurnedInAnnotation")),
    Type1Module("SR Document General", "C.17.2", _has("CompletionFlag"),
                ("InstanceNumber", "ContentDate", "ContentTime", "CompletionFlag",
                 "VerificationFlag")),
    Type1Module("Key Object Document", "C.17.6.2", _sop_class(KEY_OBJECT_SELECTION),
                ("InstanceNumber", "ContentDate", "ContentTime",
                 "CurrentRequestedProcedureEvidenceSequence")),
)


@dataclass(frozen=True)
class ItemMacro:
    """Type 1 attributes of a macro, in any sequence item that has its ``marker``."""

    name: str
    section: str
    markers: tuple[str, ...]
    keywords: tuple[str, ...]


ITEM_MACROS: tuple[ItemMacro, ...] = (
    ItemMacro("SOP Instance Reference Macro", "Table 10-11",
              ("ReferencedSOPClassUID", "ReferencedSOPInstanceUID"),
              ("ReferencedSOPClassUID", "ReferencedSOPInstanceUID")),
    ItemMacro("Code Sequence Macro", "Table 8.8-1", ("CodeValue", "CodingSchemeDesignator"),
              ("CodeMeaning",)),
)


def required_at_top(ds: Dataset) -> dict[int, str]:
    """Tag → "module (PS3.3 section)" for every Type 1 attribute the data set's modules
    require, judged on ``ds`` as it is (before the edit)."""
    required: dict[int, str] = {}
    for module in MODULES:
        if module.present(ds):
            for tag in module.tags:
                required.setdefault(tag, f"{module.name} module (PS3.3 {module.section})")
    return required


def required_in_item(item: Dataset) -> dict[int, str]:
    required: dict[int, str] = {}
    for macro in ITEM_MACROS:
        if any(marker in item for marker in macro.markers):
            for keyword in macro.keywords:
                required[int(tag_for_keyword(keyword) or 0)] = (
                    f"{macro.name} (PS3.3 {macro.section})")
    return required
