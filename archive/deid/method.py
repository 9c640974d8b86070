"""What a de-identified data set says about its own de-identification (PS3.3 C.7.1.1:
Patient Identity Removed, De-identification Method and its Code Sequence from CID 7050,
Longitudinal Temporal Information Modified), and which files must wait for a person to look
at their pixels before they leave (Clean Pixel Data, PS3.15 E.3.1)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from archive.deid.config import AttributeChange, DeidConfig
from archive.deid.profile import BASIC_PROFILE_CODE, ActionCode, ProfileOption
from archive.objects.edit.type1 import has_pixel_data

ADDED = "+"  # the change list's action for an attribute the record adds
METHOD_RECORD = "de-identification record"  # the reason of those changes
BASIC_PROFILE_MEANING = "Basic Application Confidentiality Profile"
DUMB_METHOD = "Site rules: empty/remove/replace lists, not PS3.15 Annex E"  # LO: 64
# modalities whose images often carry burned-in text (patient name, dates) even when the
# file does not say so: ultrasound, endoscopy, external camera photography, secondary capture
BURNS_IN = {"US": "ultrasound", "ES": "endoscopy", "XC": "external-camera photography",
            "GM": "general microscopy", "OT": "other", "SC": "secondary capture"}
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"


def held_back_reason(ds: Dataset, config: DeidConfig) -> str:
    """Why the file waits for review before release, or "" (BurnedInAnnotation NO, or a
    modality that does not burn text into its pixels)."""
    if not config.hold_back_burned_in or not has_pixel_data(ds):
        return ""
    burned = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if burned == "YES":
        return "Burned In Annotation is YES: the pixels may show identifying text"
    if burned == "NO":
        return ""
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality in BURNS_IN:
        return (f"{BURNS_IN[modality]} ({modality}) images often show burned-in text, and "
                "Burned In Annotation does not say NO")
    if str(ds.get("SOPClassUID", "")).startswith(SECONDARY_CAPTURE_PREFIX):
        return ("a secondary capture often shows burned-in text, and Burned In Annotation "
                "does not say NO")
    return ""


def record_method(ds: Dataset, config: DeidConfig) -> list[AttributeChange]:
    """Write the de-identification attributes; the changes they make, for the preview."""
    changes: list[AttributeChange] = []

    def put(keyword: str, vr: str, value: object, shown: str) -> None:
        element = ds.get(keyword)
        before = "" if element is None else str(element or "")
        ds.add_new(keyword, vr, value)
        tag = int(ds.data_element(keyword).tag)  # type: ignore[union-attr]
        changes.append(AttributeChange(f"({tag >> 16:04X},{tag & 0xFFFF:04X})", tag, keyword,
                                       ActionCode.D if before else ADDED, METHOD_RECORD,
                                       before, shown))

    if config.dumb is not None:
        put("DeidentificationMethod", "LO", DUMB_METHOD, DUMB_METHOD)
        return changes
    codes = method_codes(config.options)
    put("PatientIdentityRemoved", "CS", "YES", "YES")
    put("DeidentificationMethod", "LO", [meaning for _, meaning in codes],
        "\\".join(meaning for _, meaning in codes))
    put("DeidentificationMethodCodeSequence", "SQ", Sequence([_code(v, m) for v, m in codes]),
        f"{len(codes)} items")
    put("LongitudinalTemporalInformationModified", "CS", _longitudinal(config.options),
        _longitudinal(config.options))
    return changes


def method_codes(options: frozenset[ProfileOption]) -> list[tuple[str, str]]:
    """(code value, code meaning) of CID 7050 for the profile and each option applied."""
    chosen = [option for option in ProfileOption if option in options
              and option != ProfileOption.CLEAN_PIXEL_DATA]  # pixels are not cleaned here
    return [(BASIC_PROFILE_CODE, BASIC_PROFILE_MEANING),
            *((option.code, option.code_meaning) for option in chosen)]


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _longitudinal(options: frozenset[ProfileOption]) -> str:
    if ProfileOption.RETAIN_FULL_DATES in options:
        return "UNMODIFIED"
    if ProfileOption.RETAIN_MODIFIED_DATES in options:
        return "MODIFIED"
    return "REMOVED"
