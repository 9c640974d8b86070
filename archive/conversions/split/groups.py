"""Functional groups of one frame, flattened onto a legacy dataset (PS3.3 C.7.6.16).

Shared groups first, then the frame's own (which win). A group's item is copied onto the top
level, attribute by attribute, which is how the legacy modules hold the same attributes
(Pixel Measures → Pixel Spacing, Slice Thickness; Plane Position → Image Position (Patient);
Frame VOI LUT → Window Center/Width; Pixel Value Transformation → Rescale…; the CT, MR and
PET groups → KVP, Repetition Time, Decay Factor…). A few groups need their own mapping:
Frame Content, the frame type groups (→ Image Type), Frame Anatomy, Derivation Image and
Referenced Image. Private groups and private attributes inside groups are not copied (their
private creator blocks would clash with the top level's).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

FRAME_TYPE_GROUPS = frozenset({
    "CTImageFrameTypeSequence", "MRImageFrameTypeSequence", "PETFrameTypeSequence",
})
# Groups whose sequence is itself the attribute a legacy image holds.
WHOLE_GROUPS = frozenset({"ReferencedImageSequence", "RealWorldValueMappingSequence"})
# Groups with nothing a legacy image holds.
DROPPED_GROUPS = frozenset({
    "ContrastBolusUsageSequence",  # the agent's number and phase per frame
    "ConversionSourceAttributesSequence",  # the legacy source of a Legacy Converted frame
})


@dataclass
class FrameFacts:
    """What the Frame Content group says about one frame."""

    acquisition_number: int | None = None
    acquisition_datetime: str = ""
    reference_datetime: str = ""
    acquisition_duration_ms: float | None = None
    temporal_position: int | None = None
    comments: str = ""


@dataclass
class Flattened:
    facts: FrameFacts = field(default_factory=FrameFacts)
    source_images: list[Dataset] = field(default_factory=list)


def flatten_groups(target: Dataset, shared: Dataset | None, frame: Dataset | None) -> Flattened:
    """Copy the frame's shared then per-frame functional groups onto ``target``."""
    result = Flattened()
    for groups in (shared, frame):
        if groups is not None:
            _apply(target, groups, result)
    return result


def _apply(target: Dataset, groups: Dataset, result: Flattened) -> None:
    for element in groups:
        if element.tag.is_private or element.VR != "SQ" or element.keyword in DROPPED_GROUPS:
            continue
        keyword = element.keyword
        if keyword in WHOLE_GROUPS:  # a group whose sequence is the legacy attribute
            target[element.tag] = copy.deepcopy(element)
            continue
        if not element.value:
            continue
        item = element.value[0]
        if keyword == "FrameContentSequence":
            _frame_content(target, item, result.facts)
        elif keyword in FRAME_TYPE_GROUPS:
            _frame_type(target, item)
        elif keyword == "FrameAnatomySequence":
            _frame_anatomy(target, item)
        elif keyword == "DerivationImageSequence":
            _derivation(target, item, result)
        else:
            copy_public(target, item)


def copy_public(target: Dataset, item: Dataset) -> None:
    for element in item:
        if not element.tag.is_private:
            target[element.tag] = copy.deepcopy(element)


def _frame_content(target: Dataset, item: Dataset, facts: FrameFacts) -> None:
    if (number := item.get("FrameAcquisitionNumber")) is not None:
        facts.acquisition_number = int(number)
    if when := str(item.get("FrameAcquisitionDateTime") or ""):
        facts.acquisition_datetime = when
    if when := str(item.get("FrameReferenceDateTime") or ""):
        facts.reference_datetime = when
    if (duration := item.get("FrameAcquisitionDuration")) is not None:
        facts.acquisition_duration_ms = float(duration)
    if (position := item.get("TemporalPositionIndex")) is not None:
        facts.temporal_position = int(position)
    if comments := str(item.get("FrameComments") or ""):
        facts.comments = comments


def _frame_type(target: Dataset, item: Dataset) -> None:
    """Frame Type becomes Image Type; the rest of the group (pixel presentation, volumetric
    properties…) is enhanced-only."""
    if "FrameType" in item:
        target.ImageType = item["FrameType"].value


def _frame_anatomy(target: Dataset, item: Dataset) -> None:
    if "AnatomicRegionSequence" in item:
        target.AnatomicRegionSequence = copy.deepcopy(item.AnatomicRegionSequence)
    if "PrimaryAnatomicStructureSequence" in item:
        target.PrimaryAnatomicStructureSequence = copy.deepcopy(
            item.PrimaryAnatomicStructureSequence)
    laterality = str(item.get("FrameLaterality") or "")
    if laterality in {"R", "L", "U", "B"}:
        target.ImageLaterality = laterality


def _derivation(target: Dataset, item: Dataset, result: Flattened) -> None:
    if "DerivationDescription" in item:
        target.DerivationDescription = item.DerivationDescription
    if "DerivationCodeSequence" in item:
        target.DerivationCodeSequence = copy.deepcopy(item.DerivationCodeSequence)
    result.source_images.extend(copy.deepcopy(list(item.get("SourceImageSequence") or [])))
