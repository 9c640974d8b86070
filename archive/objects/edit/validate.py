"""What an applied edit must not have done, checked on the result before anything is
written: remove or empty a Type 1 attribute (``type1``), make the file meta contradict
the data set or its encoding, or describe pixels that Pixel Data does not hold.
"""

from __future__ import annotations

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from archive.objects.edit.changes import EditRefused
from archive.objects.edit.journal import Journal, Touched
from archive.objects.edit.paths import tag_text
from archive.objects.edit.type1 import required_at_top, required_in_item
from archive.objects.edit.values import shown

PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
PIXEL_DESCRIPTION = {
    0x00280002: "SamplesPerPixel", 0x00280004: "PhotometricInterpretation",
    0x00280006: "PlanarConfiguration", 0x00280008: "NumberOfFrames", 0x00280010: "Rows",
    0x00280011: "Columns", 0x00280100: "BitsAllocated", 0x00280101: "BitsStored",
    0x00280102: "HighBit", 0x00280103: "PixelRepresentation",
}
CONDITION_TAGS = (0x00080016, 0x00280004, 0x00280002, 0x00280008, 0x00200032, 0x00200037,
                  0x52009229, 0x52009230, 0x00420011, 0x0040A491, *PIXEL_DATA_TAGS)
META_FIXED = {0x00020000: "File Meta Information Group Length",
              0x00020001: "File Meta Information Version",
              0x00020010: "Transfer Syntax UID"}
META_REQUIRED = {0x00020002: "Media Storage SOP Class UID",
                 0x00020003: "Media Storage SOP Instance UID",
                 0x00020012: "Implementation Class UID"}
MEDIA_PAIRS = ((0x00020003, 0x00080018), (0x00020002, 0x00080016))
SAMPLES = {"MONOCHROME1": 1, "MONOCHROME2": 1, "PALETTE COLOR": 1, "RGB": 3, "YBR_FULL": 3,
           "YBR_FULL_422": 3, "YBR_PARTIAL_420": 3, "YBR_ICT": 3, "YBR_RCT": 3}


def check_result(ds: Dataset, journal: Journal) -> None:
    """Raise EditRefused for the first rule the edited ``ds`` breaks."""
    changed = [t for t in journal.touched.values() if _changed(t)]
    _check_type1(ds, journal, changed)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        _check_meta(ds, meta, [t for t in changed if t.container is meta])
    top = {t.tag for t in changed if t.container is ds}
    if top & set(PIXEL_DESCRIPTION) and any(tag in ds for tag in PIXEL_DATA_TAGS):
        _check_pixels(ds, sorted(top & set(PIXEL_DESCRIPTION)))


def _changed(touched: Touched) -> bool:
    after = touched.container.get(touched.tag) if touched.tag in touched.container else None
    return shown(touched.before) != shown(after) or (
        touched.before is not None and after is not None and touched.before.VR != after.VR)


def _empty(element: DataElement | None) -> bool:
    return element is None or element.is_empty


def _view_before(container: Dataset, journal: Journal, tags: tuple[int, ...] | None) -> Dataset:
    """The container's elements (those named, or those touched) as they were."""
    view = Dataset()
    wanted = tags if tags is not None else tuple(int(t) for t in container.keys())  # noqa: SIM118 - keys() does not decode
    for tag in wanted:
        touched = journal.touched.get((id(container), tag))
        if touched is not None:
            if touched.before is not None:
                view[tag] = touched.before
        elif tag in container:
            view[tag] = container.get_item(tag)
    return view


def _check_type1(ds: Dataset, journal: Journal, changed: list[Touched]) -> None:
    required_top = required_at_top(_view_before(ds, journal, CONDITION_TAGS))
    for touched in changed:
        container = touched.container
        if container is getattr(ds, "file_meta", None):
            continue
        if container is ds:
            required = required_top
        else:
            markers = _view_before(container, journal, None)
            required = {**required_in_item(container), **required_in_item(markers)}
        reason = required.get(touched.tag)
        after = container.get(touched.tag) if touched.tag in container else None
        if reason is None or not _empty(after):
            continue
        verb = "Removing" if after is None else "Emptying"
        name = _name(touched)
        raise EditRefused(f"{verb} {name} is refused: it is Type 1 (required, with a value) "
                          f"in the {reason}")


def _check_meta(ds: Dataset, meta: Dataset, changed: list[Touched]) -> None:
    for touched in changed:
        if touched.tag in META_FIXED:
            raise EditRefused(
                f"{META_FIXED[touched.tag]} {tag_text(touched.tag)} cannot be edited: the "
                "file would no longer be read as it is encoded (transcode to change the "
                "transfer syntax)")
        if touched.tag in META_REQUIRED and _empty(meta.get(touched.tag)):
            raise EditRefused(f"Removing or emptying {META_REQUIRED[touched.tag]} "
                              f"{tag_text(touched.tag)} is refused: the file meta needs it")
    for meta_tag, data_tag in MEDIA_PAIRS:
        if meta_tag in meta and data_tag in ds and str(meta[meta_tag].value) != str(
                ds[data_tag].value):
            raise EditRefused(
                f"{META_REQUIRED[meta_tag]} {tag_text(meta_tag)} would differ from "
                f"{ds[data_tag].name} {tag_text(data_tag)} ({ds[data_tag].value})")


def _check_pixels(ds: Dataset, edited: list[int]) -> None:
    names = ", ".join(f"{PIXEL_DESCRIPTION[t]} {tag_text(t)}" for t in edited)
    tag = next(t for t in PIXEL_DATA_TAGS if t in ds)
    raw = ds.get_item(tag)
    assert raw is not None
    undefined = raw.is_undefined_length if isinstance(raw, DataElement) else (
        raw.length == 0xFFFFFFFF)
    if undefined:
        raise EditRefused(f"Changing {names} is refused: the pixel data is compressed and "
                          "its codestream fixes how the pixels are described")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples, allocated = int(ds.SamplesPerPixel), int(ds.BitsAllocated)
        stored, high = int(ds.BitsStored), int(ds.HighBit)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise EditRefused(f"Changing {names} is refused: the pixel description is "
                          f"incomplete ({exc})") from exc
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    problems = []
    if allocated != 1 and allocated % 8:
        problems.append(f"BitsAllocated {allocated} is neither 1 nor a multiple of 8")
    if stored > allocated or stored < 1:
        problems.append(f"BitsStored {stored} does not fit BitsAllocated {allocated}")
    if high != stored - 1:
        problems.append(f"HighBit {high} is not BitsStored - 1 ({stored - 1})")
    if photometric in SAMPLES and SAMPLES[photometric] != samples:
        problems.append(f"{photometric} needs SamplesPerPixel {SAMPLES[photometric]}")
    expected = (rows * columns * samples * frames * allocated + 7) // 8
    length = raw.length if not isinstance(raw, DataElement) else len(raw.value or b"")
    if length not in (expected, expected + 1):
        problems.append(f"{rows}×{columns}×{samples} samples×{frames} frames at "
                        f"{allocated} bits is {expected} bytes, Pixel Data holds {length}")
    if problems:
        raise EditRefused(f"Changing {names} is refused: it would contradict the Pixel Data "
                          f"({'; '.join(problems)})")


def _name(touched: Touched) -> str:
    element = touched.before or touched.container.get(touched.tag)
    keyword = element.keyword if element is not None else ""
    return f"{keyword} {tag_text(touched.tag)}".strip()
