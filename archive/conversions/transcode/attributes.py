"""The attributes a transcode changes: transfer syntax, image pixel description, SOP
Instance UID with its source reference, and Lossy Image Compression (PS3.3 C.7.6.1.1.5)."""

from __future__ import annotations

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID, generate_uid

from archive.conversions.syntaxes import TargetSyntax

OFFSET_TAGS = (0x7FE00001, 0x7FE00002)  # Extended Offset Table and its Lengths
UNCOMPRESSED_PREDECESSOR = ("121320", "DCM", "Uncompressed predecessor")
SOURCE_FOR_PROCESSING = ("121322", "DCM", "Source image for image processing operation")


def _values(ds: Dataset, keyword: str) -> list[str]:
    value = ds.get(keyword)
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [str(item) for item in value]
    return [str(value)]


def ratio_text(ratio: float) -> str:
    """A DS value of at most 16 characters."""
    return f"{ratio:.2f}" if ratio < 1e12 else f"{ratio:.6g}"


def mark_lossy(ds: Dataset, ratio: float, method: str, earlier_method: str | None) -> None:
    """LossyImageCompression 01, this step's ratio and method appended to earlier ones (an
    earlier ratio without its method gets the source syntax's method, when it is known,
    so that the two lists stay in step)."""
    ratios = _values(ds, "LossyImageCompressionRatio")
    methods = _values(ds, "LossyImageCompressionMethod")
    if earlier_method and len(methods) < len(ratios):
        methods += [earlier_method] * (len(ratios) - len(methods))
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = [*ratios, ratio_text(ratio)]
    ds.LossyImageCompressionMethod = [*methods, method]


def keep_lossy_history(ds: Dataset, source_was_lossy: bool) -> None:
    """Once lossy, always lossy: a lossless copy of a lossy image keeps "01"."""
    if source_was_lossy:
        ds.LossyImageCompression = "01"


def new_instance(ds: Dataset, meta: FileMetaDataset, uid_root: str | None,
                 lossy: bool, description: str) -> str:
    """A new SOP Instance UID; the old one referenced in Source Image Sequence."""
    old_uid = str(ds.get("SOPInstanceUID", ""))
    prefix = uid_root if uid_root is None or uid_root.endswith(".") else f"{uid_root}."
    uid = generate_uid(prefix=prefix) if prefix else generate_uid()
    ds.SOPInstanceUID = uid
    meta.MediaStorageSOPInstanceUID = uid
    if old_uid:
        item = Dataset()
        item.ReferencedSOPClassUID = ds.get("SOPClassUID", meta.MediaStorageSOPClassUID)
        item.ReferencedSOPInstanceUID = old_uid
        code = Dataset()
        value, scheme, meaning = UNCOMPRESSED_PREDECESSOR if lossy else SOURCE_FOR_PROCESSING
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value, scheme, meaning
        item.PurposeOfReferenceCodeSequence = Sequence([code])
        earlier = list(ds.get("SourceImageSequence", []))
        ds.SourceImageSequence = Sequence([*earlier, item])
    old = str(ds.get("DerivationDescription", ""))
    ds.DerivationDescription = (f"{old}; {description}" if old else description)[:1024]
    return uid


def describe_step(source_syntax: UID, target: TargetSyntax, ratio: float | None) -> str:
    text = f"Transcoded from {source_syntax.name} to {target.label}"
    return f"{text}, lossy {ratio_text(ratio)}:1" if ratio is not None else text


def set_pixel_description(ds: Dataset, photometric: str, planar: int, samples: int) -> None:
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = planar
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration


def drop_stale(ds: Dataset) -> None:
    """Group lengths and offset tables of the source describe bytes that change."""
    for tag in list(ds._dict):
        if tag.element == 0 or int(tag) in OFFSET_TAGS:
            del ds[tag]
