"""Which attributes each directory record type holds (PS3.3 F.5), as dcmmkdir -Pgp writes them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydicom.datadict import dictionary_VR
from pydicom.tag import BaseTag

from archive.media.dicomdir.elements import keyword_tag


class KeyType(StrEnum):
    """How a record key is filled from the instance (PS3.3 F.5 Type column)."""

    REQUIRED = "1"      # must have a value: missing → MissingRecordKeys, or invented
    CONDITIONAL = "1C"  # copied when the instance has a value
    EMPTY_OK = "2"      # always written, empty when the instance has no value
    OPTIONAL = "3"      # copied when the instance has a value (only the few dcmmkdir copies)


@dataclass(frozen=True)
class RecordKey:
    """One attribute of a directory record."""

    keyword: str
    key_type: KeyType
    tag: BaseTag
    vr: str  # the dictionary's


# retired attributes pydicom's dictionary no longer names (dcmmkdir still writes them)
_RETIRED = {"LookupTableNumber": (0x00200026, "IS")}


def _keys(spec: str) -> tuple[RecordKey, ...]:
    """Parse 'Keyword:1 Other:2 ...' into record keys."""
    keys = []
    for word in spec.split():
        keyword, _, kind = word.partition(":")
        if keyword in _RETIRED:
            number, vr = _RETIRED[keyword]
            keys.append(RecordKey(keyword, KeyType(kind), BaseTag(number), vr))
        else:  # ValueError for a keyword the dictionary does not know
            tag = keyword_tag(keyword)
            keys.append(RecordKey(keyword, KeyType(kind), tag, dictionary_VR(tag)))
    return tuple(keys)


PATIENT_KEYS = _keys("PatientName:2 PatientID:1")
STUDY_KEYS = _keys(
    "StudyDate:1 StudyTime:1 AccessionNumber:2 StudyDescription:2 StudyInstanceUID:1 StudyID:1"
)
SERIES_KEYS = _keys("Modality:1 SeriesInstanceUID:1 SeriesNumber:1")

_CONTENT_ID = "InstanceNumber:1 ContentLabel:1 ContentDescription:2 ContentCreatorName:2"
_CONTENT_ID_DATED = "ContentDate:1 ContentTime:1 " + _CONTENT_ID

LEAF_KEYS: dict[str, tuple[RecordKey, ...]] = {
    "IMAGE": _keys("ImageType:3 InstanceNumber:1 ReferencedImageSequence:1C"),
    "RT DOSE": _keys("InstanceNumber:1 DoseSummationType:1"),
    "RT STRUCTURE SET": _keys(
        "InstanceNumber:1 StructureSetLabel:1 StructureSetDate:2 StructureSetTime:2"
    ),
    "RT PLAN": _keys("InstanceNumber:1 RTPlanLabel:1 RTPlanDate:2 RTPlanTime:2"),
    "RT TREAT RECORD": _keys("InstanceNumber:1 TreatmentDate:2 TreatmentTime:2"),
    "PRESENTATION": _keys(
        "PresentationCreationDate:1 PresentationCreationTime:1 " + _CONTENT_ID
        + " ReferencedSeriesSequence:1C BlendingSequence:1C"
    ),
    "WAVEFORM": _keys("ContentDate:1 ContentTime:1 InstanceNumber:1"),
    "SR DOCUMENT": _keys(
        "ContentDate:1 ContentTime:1 InstanceNumber:1 VerificationDateTime:1C"
        " ConceptNameCodeSequence:1 CompletionFlag:1 VerificationFlag:1"
    ),
    "KEY OBJECT DOC": _keys(
        "ContentDate:1 ContentTime:1 InstanceNumber:1 ConceptNameCodeSequence:1"
    ),
    "SPECTROSCOPY": _keys(
        "ImageType:1 ContentDate:1 ContentTime:1 InstanceNumber:1"
        " ReferencedImageEvidenceSequence:1C NumberOfFrames:1 Rows:1 Columns:1"
        " DataPointRows:1 DataPointColumns:1"
    ),
    "RAW DATA": _keys("ContentDate:1 ContentTime:1 InstanceNumber:1"),
    "REGISTRATION": _keys(_CONTENT_ID_DATED),
    "FIDUCIAL": _keys(_CONTENT_ID_DATED),
    "VALUE MAP": _keys(_CONTENT_ID_DATED),
    "MEASUREMENT": _keys(_CONTENT_ID_DATED),
    "SURFACE": _keys(_CONTENT_ID_DATED),
    "TRACT": _keys(_CONTENT_ID_DATED),
    "ANNOTATION": _keys(_CONTENT_ID_DATED),
    "ENCAP DOC": _keys(
        "ContentDate:2 ContentTime:2 InstanceNumber:1 DocumentTitle:2 HL7InstanceIdentifier:1C"
        " ConceptNameCodeSequence:2 MIMETypeOfEncapsulatedDocument:1"
    ),
    "SURFACE SCAN": _keys("ContentDate:1 ContentTime:1"),
    "ASSESSMENT": _keys("InstanceNumber:1 InstanceCreationDate:1 InstanceCreationTime:2"),
    "RADIOTHERAPY": _keys(
        "InstanceNumber:1 UserContentLabel:1C UserContentLongLabel:1C ContentDescription:2"
        " ContentCreatorName:2"
    ),
    "INVENTORY": _keys("InstanceNumber:1"),
    "STEREOMETRIC": (),
    "PLAN": (),
    "HANGING PROTOCOL": _keys(
        "HangingProtocolName:1 HangingProtocolDescription:1 HangingProtocolLevel:1"
        " HangingProtocolCreator:1 HangingProtocolCreationDateTime:1"
        " HangingProtocolDefinitionSequence:1 NumberOfPriorsReferenced:1"
        " HangingProtocolUserIdentificationCodeSequence:2"
    ),
    "PALETTE": _keys("ContentLabel:1 ContentDescription:2"),
    "IMPLANT": _keys("Manufacturer:1 ImplantName:1 ImplantSize:1C ImplantPartNumber:1"),
    "IMPLANT ASSY": _keys(
        "ImplantAssemblyTemplateName:1 Manufacturer:1 ProcedureTypeCodeSequence:1"
    ),
    "IMPLANT GROUP": _keys("ImplantTemplateGroupName:1 ImplantTemplateGroupIssuer:1"),
    "CURVE": _keys("CurveNumber:1"),
    "OVERLAY": _keys("OverlayNumber:1"),
    "MODALITY LUT": _keys("LookupTableNumber:1"),
    "VOI LUT": _keys("LookupTableNumber:1"),
    "STORED PRINT": _keys("InstanceNumber:1"),
}


def record_tags() -> dict[BaseTag, str]:
    """Every tag any record may take from an instance, with its VR (for a header read)."""
    every = [*PATIENT_KEYS, *STUDY_KEYS, *SERIES_KEYS]
    for keys in LEAF_KEYS.values():
        every.extend(keys)
    return {key.tag: key.vr for key in every}
