"""The SOP classes a new image can have, and the IOD modules each needs beyond the common ones
(``archive.objects.common.start_dataset``): General Image, SC Image / SC Multi-frame Image,
VL Image and Acquisition Context (PS3.3 A.8, A.8.3–A.8.5, A.32.1, A.32.4)."""

from __future__ import annotations

from enum import StrEnum

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.uid import UID

from archive.conversions.outcome import ConversionFailed


class ImageSopClass(StrEnum):
    """What the operator picks; the value is what forms and the API send."""

    SECONDARY_CAPTURE = "sc"
    VL_PHOTOGRAPHIC = "vl_photographic"
    VL_ENDOSCOPIC = "vl_endoscopic"

    @property
    def label(self) -> str:
        return {"sc": "Secondary Capture Image", "vl_photographic": "VL Photographic Image",
                "vl_endoscopic": "VL Endoscopic Image"}[self.value]

    @property
    def uid(self) -> UID:
        return UID({"sc": "1.2.840.10008.5.1.4.1.1.7",
                    "vl_photographic": "1.2.840.10008.5.1.4.1.1.77.1.4",
                    "vl_endoscopic": "1.2.840.10008.5.1.4.1.1.77.1.1"}[self.value])

    @property
    def modality(self) -> str:
        return {"sc": "OT", "vl_photographic": "XC", "vl_endoscopic": "ES"}[self.value]

    @property
    def file_prefix(self) -> str:
        return {"sc": "SC", "vl_photographic": "XC", "vl_endoscopic": "ES"}[self.value]

    @property
    def is_visible_light(self) -> bool:
        return self != ImageSopClass.SECONDARY_CAPTURE


MULTIFRAME_TRUE_COLOR = UID("1.2.840.10008.5.1.4.1.1.7.4")
MULTIFRAME_GRAYSCALE_BYTE = UID("1.2.840.10008.5.1.4.1.1.7.2")
MULTIFRAME_GRAYSCALE_WORD = UID("1.2.840.10008.5.1.4.1.1.7.3")
MULTIFRAME_LABELS = {MULTIFRAME_TRUE_COLOR: "Multi-frame True Color SC Image",
                     MULTIFRAME_GRAYSCALE_BYTE: "Multi-frame Grayscale Byte SC Image",
                     MULTIFRAME_GRAYSCALE_WORD: "Multi-frame Grayscale Word SC Image"}
PAGE_NUMBER_VECTOR = Tag(0x0018, 0x2001)
IMAGE_TYPE_1 = ("ORIGINAL", "DERIVED")
IMAGE_TYPE_2 = ("PRIMARY", "SECONDARY")


def multiframe_class(samples: int, bits_allocated: int, bits_stored: int,
                     signed: bool) -> UID:
    """The Multi-frame SC class that can hold these pixels (PS3.3 A.8.3–A.8.5)."""
    if samples == 3:
        if bits_allocated != 8:
            raise ConversionFailed("Multi-frame True Color SC holds 8-bit colour only; this "
                                   f"image has {bits_allocated} bits per sample")
        return MULTIFRAME_TRUE_COLOR
    if signed:
        raise ConversionFailed("the Multi-frame Grayscale SC classes hold unsigned samples "
                               "only; this image is signed")
    if bits_allocated == 8:
        return MULTIFRAME_GRAYSCALE_BYTE
    if not 9 <= bits_stored <= 16:
        raise ConversionFailed(f"Multi-frame Grayscale Word SC needs 9–16 bits stored; this "
                               f"image has {bits_stored}")
    return MULTIFRAME_GRAYSCALE_WORD


def check_visible_light(sop_class: ImageSopClass, samples: int, bits_allocated: int,
                        signed: bool, frames: int) -> None:
    """The VL Image module's pixel constraints (PS3.3 C.8.12.1): one frame, 8-bit unsigned."""
    if not sop_class.is_visible_light:
        return
    if frames > 1:
        raise ConversionFailed(f"a {sop_class.label} holds one frame; make one instance per "
                               "image, or pick Secondary Capture for a multi-frame object")
    if bits_allocated != 8 or signed:
        raise ConversionFailed(f"a {sop_class.label} holds 8-bit unsigned samples only; this "
                               f"image has {bits_allocated} bits"
                               f"{' (signed)' if signed else ''}: pick Secondary Capture")
    if samples not in (1, 3):
        raise ConversionFailed(f"a {sop_class.label} holds 1 or 3 samples per pixel")


def _default(ds: Dataset, keyword: str, value: object) -> None:
    """A creator default: the template's value, when it has one, wins."""
    if keyword not in ds:
        setattr(ds, keyword, value)


def _image_type(ds: Dataset, first: str, second: str, derived: bool) -> None:
    """Image Type values 1 and 2 (PS3.3 C.7.6.1.1.2, enumerated): a template's when they are
    enumerated values (never ORIGINAL for pixels that are not the source's), else the
    creator's; a template's further values (3, 4…) are kept after them."""
    given = ds.get("ImageType") or []
    values = [str(v) for v in given] if isinstance(given, MultiValue | list) else [str(given)]
    value1 = values[0] if values and values[0] in IMAGE_TYPE_1 else first
    value2 = values[1] if len(values) > 1 and values[1] in IMAGE_TYPE_2 else second
    ds.ImageType = ["DERIVED" if derived else value1, value2, *values[2:]]


def fill_image_modules(ds: Dataset, sop_class: ImageSopClass, derived: bool) -> None:
    """General Image and the class's own modules. ``derived``: the pixels are not the
    source's own (re-encoded lossily, palette expanded…)."""
    _default(ds, "PatientOrientation", "")
    _default(ds, "Laterality", "")  # General Series, Type 2C: unknown for an imported image
    if sop_class == ImageSopClass.SECONDARY_CAPTURE:
        _image_type(ds, "DERIVED", "SECONDARY", derived)
        _default(ds, "ConversionType", "WSD")
        _default(ds, "DateOfSecondaryCapture", ds.get("ContentDate", ""))
        _default(ds, "TimeOfSecondaryCapture", ds.get("ContentTime", ""))
        return
    if "ConversionType" in ds:  # SC Equipment is not part of the VL IODs
        del ds.ConversionType
    _image_type(ds, "ORIGINAL", "PRIMARY", derived)
    _default(ds, "AcquisitionContextSequence", [])  # Acquisition Context, Type 2: empty


def fill_multiframe_modules(ds: Dataset, frames: int) -> None:
    """SC Multi-frame Image and SC Multi-frame Vector: the frames are numbered like pages
    (Frame Increment Pointer → Page Number Vector, 1…n)."""
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = PAGE_NUMBER_VECTOR
    ds.PageNumberVector = list(range(1, frames + 1))
    _default(ds, "BurnedInAnnotation", "NO")
    if str(ds.PhotometricInterpretation).startswith("MONOCHROME"):
        ds.PresentationLUTShape = "IDENTITY"
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
