"""New Encapsulated PDF, CDA, STL, OBJ and MTL instances (like DCMTK ``pdf2dcm``/``cda2dcm``/
``stl2dcm``, dcm4che ``pdf2dcm``), the document's bytes kept exactly.

The kind of a document comes from its content (``detect_document``), never from its name:
a PDF starts with ``%PDF-`` and ends with ``%%EOF``; a CDA is well-formed XML whose root is
``{urn:hl7-org:v3}ClinicalDocument``; a binary STL is an 80-byte header, a triangle count and
50 bytes a triangle; an ASCII STL is ``solid … endsolid``; OBJ and MTL are text made of their
statements. Encapsulated Document Length (0042,0015) keeps the exact length, so the pad byte
an odd-length document gets can be removed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from archive.conversions.outcome import ConversionFailed, FileConversion
from archive.objects.common import MANUFACTURER, Identity, output_name, start_dataset, write_part10
from archive.objects.documents.content import (
    cda_facts,
    looks_like_cda,
    looks_like_mtl,
    looks_like_obj,
    pdf_title,
    stl_variant,
)

SOFTWARE_VERSION = "1"


class DocumentKind(StrEnum):
    """The documents DICOM encapsulates, with their SOP class, MIME type and modality."""

    PDF = "pdf"
    CDA = "cda"
    STL = "stl"
    OBJ = "obj"
    MTL = "mtl"

    @property
    def label(self) -> str:
        return {
            "pdf": "Encapsulated PDF",
            "cda": "Encapsulated CDA",
            "stl": "Encapsulated STL",
            "obj": "Encapsulated OBJ",
            "mtl": "Encapsulated MTL",
        }[self.value]

    @property
    def sop_class_uid(self) -> UID:
        suffix = {"pdf": "1", "cda": "2", "stl": "3", "obj": "4", "mtl": "5"}[self.value]
        return UID(f"1.2.840.10008.5.1.4.1.1.104.{suffix}")

    @property
    def mime_type(self) -> str:
        """MIME Type of Encapsulated Document as PS3.3 A.45-A.85 give it."""
        return {
            "pdf": "application/pdf",
            "cda": "text/XML",
            "stl": "model/stl",
            "obj": "model/obj",
            "mtl": "model/mtl",
        }[self.value]

    @property
    def modality(self) -> str:
        return "DOC" if self in (DocumentKind.PDF, DocumentKind.CDA) else "M3D"

    @property
    def extension(self) -> str:
        return {"pdf": ".pdf", "cda": ".xml", "stl": ".stl", "obj": ".obj", "mtl": ".mtl"}[
            self.value
        ]

    @property
    def is_model(self) -> bool:
        """A 3D manufacturing model (PS3.3 A.85): Frame of Reference and units needed."""
        return self.modality == "M3D"

    @classmethod
    def for_sop_class(cls, uid: str) -> DocumentKind | None:
        return next((kind for kind in cls if kind.sop_class_uid == uid), None)

    @classmethod
    def for_mime_type(cls, mime: str) -> DocumentKind | None:
        return next((kind for kind in cls if kind.mime_type.lower() == mime.lower()), None)


PDF_MAGIC = b"%PDF-"
PDF_EOF = b"%%EOF"
PDF_TAIL = 2048  # %%EOF must be within the file's last bytes


def _read_head_tail(path: Path, size: int) -> tuple[bytes, bytes]:
    with path.open("rb") as stream:
        head = stream.read(4096)
        stream.seek(max(0, size - PDF_TAIL))
        tail = stream.read()
    return head, tail


def _named_as(path: Path) -> DocumentKind | None:
    suffix = path.suffix.lower().lstrip(".")
    return DocumentKind(suffix) if suffix in {k.value for k in DocumentKind} else None


def detect_document(path: Path) -> DocumentKind:
    """The kind of document ``path`` holds, by its content; ConversionFailed with the reason
    when it is none of them (or only pretends to be one)."""
    try:
        size = path.stat().st_size
        head, tail = _read_head_tail(path, size)
    except OSError as error:
        raise ConversionFailed(f"cannot read {path.name}: {error.strerror}") from error
    if size == 0:
        raise ConversionFailed(f"{path.name} is empty")
    if head.startswith(PDF_MAGIC):
        if PDF_EOF not in tail:
            raise ConversionFailed(
                f"{path.name} starts like a PDF but has no %%EOF near its end (truncated?)"
            )
        return DocumentKind.PDF
    if stl_variant(path, size, head):
        return DocumentKind.STL
    if looks_like_cda(path, head):
        return DocumentKind.CDA
    if looks_like_mtl(path):
        return DocumentKind.MTL
    if looks_like_obj(path):
        return DocumentKind.OBJ
    named = _named_as(path)
    if named is DocumentKind.PDF:
        raise ConversionFailed(f"{path.name} is not a PDF: it does not start with %PDF-")
    if named is not None:
        raise ConversionFailed(f"{path.name} is not a valid {named.name} document")
    raise ConversionFailed(
        f"{path.name} is not a PDF, CDA, STL, OBJ or MTL document (it starts with {head[:8]!r})"
    )


@dataclass(frozen=True)
class DocumentCreateOptions:
    identity: Identity
    title: str = ""  # Document Title; else the PDF's /Title or CDA's title, else the stem
    kind: DocumentKind | None = None  # what the form expects; the content must agree


def _title(source: Path, kind: DocumentKind, options: DocumentCreateOptions) -> str:
    if options.title.strip():
        return options.title.strip()
    found = ""
    if kind is DocumentKind.PDF:
        found = pdf_title(source)
    elif kind is DocumentKind.CDA:
        found = cda_facts(source).title
    return found or source.stem


def _model_modules(ds: Dataset) -> None:
    """Frame of Reference, Enhanced General Equipment and Manufacturing 3D Model (PS3.3
    A.85): a new frame of reference (the model is in its own coordinates) and millimetres."""
    if "FrameOfReferenceUID" not in ds:
        ds.FrameOfReferenceUID = generate_uid()
    if "PositionReferenceIndicator" not in ds:
        ds.PositionReferenceIndicator = ""
    ds.Manufacturer = ds.get("Manufacturer") or MANUFACTURER
    ds.ManufacturerModelName = ds.get("ManufacturerModelName") or MANUFACTURER
    ds.DeviceSerialNumber = ds.get("DeviceSerialNumber") or "1"
    ds.SoftwareVersions = ds.get("SoftwareVersions") or SOFTWARE_VERSION
    if "ConversionType" in ds:
        del ds.ConversionType  # SC Equipment is no module of the model IODs
    unit = Dataset()
    unit.CodeValue = "mm"
    unit.CodingSchemeDesignator = "UCUM"
    unit.CodeMeaning = "mm"
    ds.MeasurementUnitsCodeSequence = [unit]


def _document_dataset(
    source: Path, kind: DocumentKind, options: DocumentCreateOptions, content: bytes
) -> Dataset:
    identity = options.identity
    ds = start_dataset(identity, kind.sop_class_uid, kind.modality)
    now = identity.now
    ds.AcquisitionDateTime = ds.get("AcquisitionDateTime", "")  # Type 2
    ds.BurnedInAnnotation = ds.get("BurnedInAnnotation") or ("NO" if kind.is_model else "YES")
    ds.DocumentTitle = _title(source, kind, options)[:1024]
    ds.ConceptNameCodeSequence = ds.get("ConceptNameCodeSequence", [])  # Type 2
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    if kind is DocumentKind.CDA:
        ds.HL7InstanceIdentifier = cda_facts(source).instance_identifier
    if kind.is_model:
        _model_modules(ds)
    ds.MIMETypeOfEncapsulatedDocument = kind.mime_type
    ds.EncapsulatedDocumentLength = len(content)
    ds.EncapsulatedDocument = content + (b"\x00" if len(content) % 2 else b"")
    return ds


def create_document(source: Path, out_dir: Path, options: DocumentCreateOptions) -> FileConversion:
    """An Encapsulated PDF/CDA/STL/OBJ/MTL instance holding ``source``'s bytes exactly."""
    kind = detect_document(source)
    if options.kind is not None and options.kind is not kind:
        raise ConversionFailed(
            f"{source.name} was given as {options.kind.name}, but its content is {kind.name}"
        )
    content = source.read_bytes()
    if len(content) > 2**32 - 2:
        raise ConversionFailed(f"{source.name} is over 4 GiB, more than one element can hold")
    ds = _document_dataset(source, kind, options, content)
    path = out_dir / output_name(kind.name, options.identity)
    try:
        output = write_part10(ds, path, ExplicitVRLittleEndian)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    warnings = []
    if kind is DocumentKind.STL and stl_variant(source, len(content), content[:4096]) == "ascii":
        warnings.append("ASCII STL kept as is (DCMTK's stl2dcm accepts binary STL only)")
    return FileConversion(
        outputs=[output],
        input_bytes=len(content),
        message=f"{kind.label}, {len(content)} bytes, “{ds.DocumentTitle}”",
        warnings=warnings,
    )
