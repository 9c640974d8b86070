"""Split one enhanced multi-frame file into legacy single-frame files, frame by frame."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import iter_pixels
from pydicom.sequence import Sequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    PYDICOM_ROOT_UID,
    ExplicitVRLittleEndian,
    generate_uid,
)

from archive.conversions.outcome import (
    ConversionFailed,
    ConversionSkipped,
    FileConversion,
    OutputFile,
)
from archive.conversions.split import legacy
from archive.conversions.split.classes import (
    LEGACY_CLASSES,
    SPLIT_CLASSES,
    LegacyKind,
    SplitClass,
    class_name,
)
from archive.conversions.split.groups import flatten_groups


@dataclass(frozen=True)
class SplitOptions:
    """``frames``: 1-based frame numbers to extract (None: all), like ``emf2sf -f``.
    ``uid_root``: the root of the new UIDs (None: pydicom's)."""

    frames: tuple[int, ...] | None = None
    uid_root: str | None = None

    def __post_init__(self) -> None:
        if self.frames is not None and not self.frames:
            raise ValueError("no frame chosen (None chooses them all)")
        if self.frames is not None and any(number < 1 for number in self.frames):
            raise ValueError("frame numbers start at 1")
        root = (self.uid_root or "").rstrip(".")
        if root and (len(root) > 40 or not all(p.isdigit() for p in root.split("."))):
            raise ValueError(f"not a UID root (digits and dots, at most 40): {self.uid_root}")


@dataclass
class _Source:
    path: Path
    header: Dataset  # everything but the pixel data
    spec: SplitClass
    frames: int
    pet: legacy.PetSeries | None = None


def split_file(source: Path, out_dir: Path, options: SplitOptions) -> FileConversion:
    """emf2sf: one legacy CT / MR / PET Image per chosen frame, into ``out_dir``."""
    src = _open(source)
    warnings: list[str] = []
    numbers = _chosen(options.frames, src.frames, warnings)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: list[OutputFile] = []
    try:
        for number, pixels in _frames(src, numbers):
            outputs.append(_write(src, number, pixels, options, out_dir, warnings))
        if len(outputs) < len(numbers):
            raise ConversionFailed(f"{src.spec.name}: only {len(outputs)} of "
                                   f"{len(numbers)} frames in the pixel data")
    except ConversionFailed:
        _remove(outputs)
        raise
    plural = "instance" if len(outputs) == 1 else "instances"
    return FileConversion(
        outputs=outputs, input_bytes=source.stat().st_size, frames=len(outputs),
        message=f"{src.spec.name} → {len(outputs)} {src.spec.legacy_name} {plural}",
        warnings=list(dict.fromkeys(warnings)))


def _open(source: Path) -> _Source:
    try:
        header = dcmread(source, stop_before_pixels=True)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ConversionFailed(f"not a readable DICOM file: {exc}") from exc
    sop_class = str(header.get("SOPClassUID") or "")
    spec = SPLIT_CLASSES.get(sop_class)
    if spec is None:
        if sop_class in LEGACY_CLASSES:
            raise ConversionSkipped(f"{class_name(sop_class)}: already a legacy single-frame"
                                    " image")
        frames = header.get("NumberOfFrames")
        shape = f"{frames}-frame" if frames is not None else "single-frame"
        raise ConversionSkipped(f"{class_name(sop_class)} ({shape}) is not an Enhanced or "
                                "Legacy Converted Enhanced CT, MR or PET image")
    try:
        frames = int(header.get("NumberOfFrames") or 0)
    except (TypeError, ValueError) as exc:
        raise ConversionFailed(f"{spec.name}: unreadable Number of Frames") from exc
    if frames < 1:
        raise ConversionFailed(f"{spec.name} without a Number of Frames")
    _check_groups(header, spec, frames)
    if int(header.get("SamplesPerPixel") or 1) != 1:
        raise ConversionFailed(f"{spec.name} with {header.SamplesPerPixel} samples per pixel:"
                               f" a {spec.legacy_name} is grayscale")
    pet = _pet_series(header, frames) if spec.kind == LegacyKind.PET else None
    return _Source(source, header, spec, frames, pet)


def _check_groups(header: Dataset, spec: SplitClass, frames: int) -> None:
    missing = [k for k in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")
               if not header.get(k)]
    if missing:
        raise ConversionFailed(
            f"{spec.name} without its {' and '.join(missing)} (Type 1): no per-frame "
            "position, orientation or pixel spacing to give the legacy images")
    per_frame = len(header.PerFrameFunctionalGroupsSequence)
    if per_frame != frames:
        raise ConversionFailed(f"{spec.name}: {per_frame} per-frame functional group items "
                               f"for {frames} frames")


def _chosen(wanted: tuple[int, ...] | None, frames: int, warnings: list[str]) -> list[int]:
    if wanted is None:
        return list(range(1, frames + 1))
    numbers = list(dict.fromkeys(wanted))
    beyond = [n for n in numbers if n > frames]
    if beyond and len(beyond) == len(numbers):
        raise ConversionSkipped(f"has {frames} frames: none of {_listed(beyond)}")
    if beyond:
        warnings.append(f"has {frames} frames: {_listed(beyond)} left out")
    return [n for n in numbers if n <= frames]


def _listed(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _frames(src: _Source, numbers: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """The chosen frames, decoded one at a time from the file (never the whole pixel data)."""
    frames = iter_pixels(src.path, indices=[n - 1 for n in numbers])
    for number in numbers:
        try:
            array = next(frames)
        except StopIteration:
            return
        except Exception as exc:  # decoders raise anything from ValueError to RuntimeError
            reason = " ".join(str(exc).split())  # one line for the job item
            raise ConversionFailed(f"{src.spec.name}: frame {number} cannot be decoded: "
                                   f"{reason}") from exc
        yield number, array


def _write(src: _Source, number: int, pixels: np.ndarray, options: SplitOptions,
           out_dir: Path, warnings: list[str]) -> OutputFile:
    dataset = legacy_frame(src, number, options, warnings)
    _put_pixels(dataset, pixels, src)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    dataset.file_meta = meta
    name = f"IM{number:04d}.dcm"
    path = out_dir / name
    try:
        dataset.save_as(path, enforce_file_format=True, little_endian=True, implicit_vr=False)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConversionFailed(f"frame {number}: cannot be written: {exc}") from exc
    return OutputFile(path=path, name=name, sop_instance_uid=str(dataset.SOPInstanceUID))


def legacy_frame(src: _Source, number: int, options: SplitOptions,
                 warnings: list[str]) -> Dataset:
    """The legacy header of frame ``number`` (1-based), without pixel data."""
    header, kind = src.header, src.spec.kind
    target = Dataset()
    for element in header:
        if element.keyword not in {"SharedFunctionalGroupsSequence",
                                   "PerFrameFunctionalGroupsSequence"}:
            target[element.tag] = copy.deepcopy(element)
    flattened = flatten_groups(target, header.SharedFunctionalGroupsSequence[0],
                               header.PerFrameFunctionalGroupsSequence[number - 1])
    legacy.put_frame_facts(target, flattened.facts, kind)
    _identify(target, src, number, options)
    _reference_source(target, header, number, flattened.source_images)
    legacy.contrast_bolus(target)
    legacy.slice_location(target)
    if kind == LegacyKind.CT:
        legacy.finish_ct(target, warnings)
    elif kind == LegacyKind.MR:
        legacy.finish_mr(target)
    else:
        pet = src.pet or _pet_series(header, src.frames)
        legacy.finish_pet(target, number, flattened.facts, pet, warnings)
    legacy.remove_enhanced_only(target)
    legacy.drop_supplemental_palette(target, warnings)
    legacy.ensure_present(target, legacy.COMMON_TYPE2)
    if "PatientOrientationCodeSequence" not in target:
        legacy.ensure_present(target, ["PatientPosition"])  # Type 2C
    return target


def _identify(target: Dataset, src: _Source, number: int, options: SplitOptions) -> None:
    """New UIDs, derived from the source's (the same file split twice gives the same UIDs,
    so the archive sees duplicates rather than copies); the same study."""
    root = f"{options.uid_root.rstrip('.')}." if options.uid_root else PYDICOM_ROOT_UID
    source_uid = str(src.header.SOPInstanceUID)
    target.SOPClassUID = src.spec.legacy_uid
    target.SOPInstanceUID = generate_uid(root, entropy_srcs=[source_uid, "frame", str(number)])
    target.SeriesInstanceUID = generate_uid(root, entropy_srcs=[source_uid, "series"])
    target.InstanceNumber = number
    target.Modality = src.spec.kind.value
    now = datetime.datetime.now()
    target.InstanceCreationDate = now.strftime("%Y%m%d")
    target.InstanceCreationTime = now.strftime("%H%M%S")


def _reference_source(target: Dataset, header: Dataset, number: int,
                      derived_from: list[Dataset]) -> None:
    item = Dataset()
    item.ReferencedSOPClassUID = header.SOPClassUID
    item.ReferencedSOPInstanceUID = header.SOPInstanceUID
    item.ReferencedFrameNumber = number
    item.SpatialLocationsPreserved = "YES"
    target.SourceImageSequence = Sequence([*derived_from, item])


def _pet_series(header: Dataset, frames: int) -> legacy.PetSeries:
    positions = set()
    for frame in header.PerFrameFunctionalGroupsSequence:
        for content in frame.get("FrameContentSequence") or []:
            if "TemporalPositionIndex" in content:
                positions.add(int(content.TemporalPositionIndex))
    return legacy.PetSeries(frames, len(positions))


def _put_pixels(target: Dataset, pixels: np.ndarray, src: _Source) -> None:
    if pixels.dtype.kind == "f":
        raise ConversionFailed(f"{src.spec.name} with float pixel data: a "
                               f"{src.spec.legacy_name} holds integers")
    bits = pixels.dtype.itemsize * 8
    stored = int(src.header.get("BitsStored") or bits)
    target.Rows, target.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    target.SamplesPerPixel = 1
    target.BitsAllocated = bits
    target.BitsStored = min(stored, bits)
    target.HighBit = target.BitsStored - 1
    target.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    data = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False).tobytes()
    target.PixelData = data + b"\0" if len(data) % 2 else data
    target["PixelData"].VR = "OW" if bits > 8 else "OB"
    if "PlanarConfiguration" in target:
        del target.PlanarConfiguration


def _remove(outputs: list[OutputFile]) -> None:
    for output in outputs:
        output.path.unlink(missing_ok=True)
