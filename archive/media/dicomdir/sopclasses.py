"""SOP Class UID to the directory record type of its instances (PS3.3 F.4, F.5).

Classes not listed below are IMAGE when pydicom knows them as a storage SOP class of an image
IOD. A SOP class nobody knows (private or newer than pydicom) is refused with UnknownSopClass,
as dcmmkdir refuses it ("invalid SOP class ... for STD-GEN-CD/DVD-RAM profile").
"""

from __future__ import annotations

from functools import cache

from pydicom.dataset import Dataset
from pydicom.uid import UID

from archive.media.dicomdir.elements import keyword_tag, text

_PREFIX = "1.2.840.10008.5.1.4.1.1."
_WAVEFORM = "1.2.840.10008.5.1.4.1.1.9."

# Classes whose records sit at the root of the directory (no PATIENT/STUDY/SERIES above them).
SINGLE_LEVEL: dict[str, str] = {
    "1.2.840.10008.5.1.4.38.1": "HANGING PROTOCOL",
    "1.2.840.10008.5.1.4.39.1": "PALETTE",
    "1.2.840.10008.5.1.4.43.1": "IMPLANT",
    "1.2.840.10008.5.1.4.44.1": "IMPLANT ASSY",
    "1.2.840.10008.5.1.4.45.1": "IMPLANT GROUP",
}


def _suffixes(record_type: str, *suffixes: str) -> dict[str, str]:
    return {_PREFIX + suffix: record_type for suffix in suffixes}


# Four-level classes whose leaf record is not IMAGE.
LEAF_TYPES: dict[str, str] = {
    **_suffixes("SR DOCUMENT", "88.1", "88.2", "88.3", "88.4", "88.11", "88.22", "88.33",
                "88.34", "88.35", "88.40", "88.50", "88.65", "88.67", "88.68", "88.69", "88.70",
                "88.71", "88.72", "88.73", "88.74", "88.75", "88.76", "88.77", "78.6", "79.1"),
    **_suffixes("KEY OBJECT DOC", "88.59"),
    **_suffixes("PRESENTATION", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7", "11.8",
                "11.9", "11.10", "11.11", "11.12", "131"),
    **_suffixes("ENCAP DOC", "104.1", "104.2", "104.3", "104.4", "104.5"),
    **_suffixes("RT DOSE", "481.2"),
    **_suffixes("RT STRUCTURE SET", "481.3"),
    **_suffixes("RT PLAN", "481.5", "481.8"),
    **_suffixes("RT TREAT RECORD", "481.4", "481.6", "481.7", "481.9"),
    **_suffixes("RADIOTHERAPY", "481.10", "481.11", "481.12", "481.13", "481.14", "481.15",
                "481.16", "481.17", "481.18", "481.19", "481.20", "481.21", "481.22", "481.25"),
    **_suffixes("SPECTROSCOPY", "4.2"),
    **_suffixes("RAW DATA", "66"),
    **_suffixes("REGISTRATION", "66.1", "66.3"),
    **_suffixes("FIDUCIAL", "66.2"),
    **_suffixes("SURFACE", "66.5"),
    **_suffixes("TRACT", "66.6"),
    **_suffixes("VALUE MAP", "67"),
    **_suffixes("SURFACE SCAN", "68.1", "68.2"),
    **_suffixes("STEREOMETRIC", "77.1.5.3"),
    **_suffixes("MEASUREMENT", "78.1", "78.2", "78.3", "78.4", "78.5", "78.7", "78.8", "80.1"),
    **_suffixes("ASSESSMENT", "90.1", "200.3"),
    **_suffixes("ANNOTATION", "91.1"),
    **_suffixes("PLAN", "200.1", "200.2", "200.7", "200.8"),
    **_suffixes("INVENTORY", "201.1"),
    **_suffixes("CURVE", "9", "129"),
    **_suffixes("OVERLAY", "8"),
    **_suffixes("MODALITY LUT", "10"),
    **_suffixes("VOI LUT", "11"),
    "1.2.840.10008.5.1.1.27": "STORED PRINT",
    "1.2.840.10008.5.1.4.34.1": "RT PLAN",
    "1.2.840.10008.5.1.4.34.7": "RT PLAN",
    "1.2.840.10008.5.1.4.34.10": "RT PLAN",
}

# Storage classes of pydicom whose name does not say "Image" but whose IOD is an image.
# DICOS Threat Detection Report (501.3) has no record type in PS3.3 F.4 and stays unknown.
_IMAGE_WITHOUT_THE_WORD: frozenset[str] = frozenset(
    _PREFIX + suffix for suffix in ("6.2", "30", "66.4", "77.1.5.8", "81.1", "82.1",
                                    "501.4", "501.5", "501.6")
)


class UnknownSopClass(ValueError):
    """The SOP class is no storage SOP class this code knows a record type for."""

    def __init__(self, sop_class_uid: str) -> None:
        self.sop_class_uid = sop_class_uid
        name = UID(sop_class_uid).name if sop_class_uid else ""
        shown = f"{sop_class_uid} ({name})" if name and name != sop_class_uid else sop_class_uid
        super().__init__(
            f"SOP class {shown or '(none)'} is not a storage SOP class with a directory record"
            " type: dcmmkdir refuses such files too"
        )


def is_storage_class(uid: str) -> bool:
    """True for a SOP class pydicom knows whose name is a storage class (any edition)."""
    known = UID(uid)
    return known.type == "SOP Class" and "Storage" in known.name and not _is_service(uid)


def _is_service(uid: str) -> bool:
    return uid in {"1.2.840.10008.1.3.10", "1.2.840.10008.1.20.1", "1.2.840.10008.1.20.2"}


@cache
def record_type_for_uid(sop_class_uid: str) -> str:
    """The leaf (or single-level) record type for a SOP class; UnknownSopClass if none."""
    uid = str(sop_class_uid).strip()
    if uid in SINGLE_LEVEL:
        return SINGLE_LEVEL[uid]
    if uid in LEAF_TYPES:
        return LEAF_TYPES[uid]
    if uid.startswith(_WAVEFORM) and is_storage_class(uid):
        return "WAVEFORM"
    if is_storage_class(uid) and ("Image" in UID(uid).name or uid in _IMAGE_WITHOUT_THE_WORD):
        return "IMAGE"
    raise UnknownSopClass(uid)


def record_type_for(ds: Dataset) -> str:
    """The leaf record type for an instance, from its SOP Class UID (dataset or file meta)."""
    uid = text(ds, keyword_tag("SOPClassUID"))
    if not uid and getattr(ds, "file_meta", None) is not None:
        uid = text(ds.file_meta, keyword_tag("MediaStorageSOPClassUID"))
    return record_type_for_uid(uid)


def is_single_level(record_type: str) -> bool:
    """True for record types placed at the root, without PATIENT/STUDY/SERIES records."""
    return record_type in SINGLE_LEVEL.values()
