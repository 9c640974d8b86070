"""Which enhanced multi-frame SOP classes split, into which legacy single-frame class."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydicom.uid import (
    UID,
    CTImageStorage,
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedPETImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
)


class LegacyKind(StrEnum):
    """The legacy IOD a frame becomes; its value is the Modality it carries."""

    CT = "CT"
    MR = "MR"
    PET = "PT"


@dataclass(frozen=True)
class SplitClass:
    name: str  # the source's class, for messages: "Enhanced MR"
    kind: LegacyKind
    legacy_uid: UID
    legacy_name: str  # "MR Image"


_CT = (LegacyKind.CT, CTImageStorage, "CT Image")
_MR = (LegacyKind.MR, MRImageStorage, "MR Image")
_PET = (LegacyKind.PET, PositronEmissionTomographyImageStorage, "PET Image")

SPLIT_CLASSES: dict[str, SplitClass] = {
    EnhancedCTImageStorage: SplitClass("Enhanced CT", *_CT),
    LegacyConvertedEnhancedCTImageStorage: SplitClass("Legacy Converted Enhanced CT", *_CT),
    EnhancedMRImageStorage: SplitClass("Enhanced MR", *_MR),
    LegacyConvertedEnhancedMRImageStorage: SplitClass("Legacy Converted Enhanced MR", *_MR),
    EnhancedPETImageStorage: SplitClass("Enhanced PET", *_PET),
    LegacyConvertedEnhancedPETImageStorage: SplitClass("Legacy Converted Enhanced PET",
                                                       *_PET),
}

LEGACY_CLASSES = {spec.legacy_uid for spec in SPLIT_CLASSES.values()}


def class_name(uid: str) -> str:
    """A SOP class's name for a message ("Segmentation Storage"), or the UID itself."""
    name = UID(uid).name if uid else ""
    return name if name and name != uid else (uid or "no SOP Class UID")
