"""STOW-RS (PS3.18 10.5): a multipart/related body read as a stream into the archive.

The body is read in chunks (never whole into memory) and each part is written, fsynced, to
a temporary file in the storage root's incoming area. Only once the body has been read to
its closing boundary are the parts stored, each with the Storage SCP's code (store_file):
a malformed, truncated or oversized body stores nothing, and every temporary file goes.

``type="application/dicom"``: each part is a Part 10 file, archived byte for byte.
``type="application/dicom+json"``: the application/dicom+json parts hold arrays of DICOM
JSON datasets whose BulkDataURIs name the other parts by their Content-Location; each
dataset becomes a Part 10 file (Explicit VR Little Endian, or the transfer-syntax of a
single-frame compressed Pixel Data part, encapsulated) before it is stored.

Failure Reason values are PS3.18 Table I.2-2's, plus PS3.7's 0111H for a duplicate the
policy rejects; Warning Reason values are Table I.2-1's, plus the implementation-specific
B111H: the SOP instance was already archived and that first copy is kept, not this one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from archive.dicomweb.stow_multipart import Part, Refused, discard, media_type
from archive.indexing import DuplicateRejected, IndexCache, StoreOutcome, store_file
from archive.models import DuplicatePolicy, Instance, InstanceSource
from archive.reading import NO_HEADER_WARNING, FileRejected, read_index_keys
from archive.storage import WrittenFile, incoming_path

logger = logging.getLogger(__name__)

OCTET_STREAM = "application/octet-stream"
MAX_BOUNDARY = 200


class PayloadType(StrEnum):
    DICOM = "application/dicom"
    DICOM_JSON = "application/dicom+json"


class FailureReason(IntEnum):
    """Failure Reason (0008,1197) values."""

    OUT_OF_RESOURCES = 0xA700
    DATA_SET_DOES_NOT_MATCH = 0xA900  # also: not of the study the request is for
    CANNOT_UNDERSTAND = 0xC000
    TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122
    PROCESSING_FAILURE = 0x0110
    DUPLICATE_REJECTED = 0x0111


class WarningReason(IntEnum):
    """Warning Reason (0008,1196) values."""

    COERCION = 0xB000  # stored with a Part 10 header the sender's bytes lacked
    ELEMENTS_DISCARDED = 0xB006
    DOES_NOT_MATCH_SOP_CLASS = 0xB007
    DUPLICATE_KEPT = 0xB111  # implementation specific: the archive's first copy is kept


@dataclass(frozen=True)
class Stored:
    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    warning: WarningReason | None = None
    note: str = ""


@dataclass(frozen=True)
class Failed:
    sop_class_uid: str
    sop_instance_uid: str
    reason: FailureReason
    note: str


@dataclass
class Outcome:
    stored: list[Stored] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return [f.note for f in self.failed] + [s.note for s in self.stored if s.note]

    @property
    def status(self) -> HTTPStatus:
        """PS3.18 Table 10.5.3-1: 200 all stored, 202 warnings or failures, 409 none."""
        if not self.stored:
            return HTTPStatus.CONFLICT
        if self.failed or any(s.warning is not None for s in self.stored):
            return HTTPStatus.ACCEPTED
        return HTTPStatus.OK


def request_type(content_type: str) -> tuple[PayloadType, str]:
    """The payload type and boundary of a STOW-RS request; Refused 415 or 400."""
    kind, params = media_type(content_type)
    if kind != "multipart/related":
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                      f"STOW-RS takes multipart/related; type=\"{PayloadType.DICOM}\" or "
                      f"type=\"{PayloadType.DICOM_JSON}\", not {content_type or 'no body type'}")
    type_ = params.get("type", PayloadType.DICOM).lower()
    if type_ not in set(PayloadType):
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                      f"multipart/related parts of type {type_} are not supported; send "
                      f"{PayloadType.DICOM} or {PayloadType.DICOM_JSON}")
    boundary = params.get("boundary", "")
    if not boundary:
        raise Refused(HTTPStatus.BAD_REQUEST, "the Content-Type has no boundary parameter")
    # RFC 2046 says at most 70 characters; Orthanc 1.7 sends 73, so a longer one is taken
    if len(boundary) > MAX_BOUNDARY or not boundary.isascii():
        raise Refused(HTTPStatus.BAD_REQUEST,
                      f"the boundary must be 1 to {MAX_BOUNDARY} ASCII characters")
    return PayloadType(type_), boundary


# --- storing -------------------------------------------------------------------------------
@dataclass
class Target:
    study: str | None  # the study of a study-scoped POST
    policy: DuplicatePolicy
    source_detail: str
    cache: IndexCache = field(default_factory=IndexCache)


def store_instance(path: Path, written: WrittenFile | None, target: Target,
                   label: str) -> Stored | Failed:
    """Archive one Part 10 file (renamed into place when ``written`` says it is a durable
    temporary file of the storage root, else copied)."""
    try:
        keys = read_index_keys(path).keys
    except FileRejected as exc:
        return Failed("", "", FailureReason.CANNOT_UNDERSTAND, f"{label}: {exc}")
    if target.study and keys.study_instance_uid != target.study:
        return Failed(keys.sop_class_uid, keys.sop_instance_uid,
                      FailureReason.DATA_SET_DOES_NOT_MATCH,
                      f"{label}: its Study Instance UID {keys.study_instance_uid} is not "
                      f"{target.study}, the study this request stores into")
    try:
        result = store_file(path, source=InstanceSource.DICOMWEB,
                            source_detail=target.source_detail, policy=target.policy,
                            cache=target.cache, received=written)
    except DuplicateRejected as exc:
        return Failed(keys.sop_class_uid, keys.sop_instance_uid,
                      FailureReason.DUPLICATE_REJECTED, f"{label}: {exc}")
    except FileRejected as exc:
        return Failed(keys.sop_class_uid, keys.sop_instance_uid,
                      FailureReason.CANNOT_UNDERSTAND, f"{label}: {exc}")
    except OSError as exc:  # out of space, permissions: never a success
        logger.error("STOW-RS: cannot write %s: %s", keys.sop_instance_uid, exc)
        target.cache.clear()
        return Failed(keys.sop_class_uid, keys.sop_instance_uid,
                      FailureReason.OUT_OF_RESOURCES, f"{label}: cannot be written ({exc})")
    if result.outcome == StoreOutcome.DUPLICATE_KEPT:
        study, series = Instance.objects.filter(pk=result.instance.pk).values_list(
            "series__study__study_instance_uid", "series__series_instance_uid").get()
        return Stored(keys.sop_class_uid, keys.sop_instance_uid, study, series,
                      WarningReason.DUPLICATE_KEPT, f"{label}: {result.message}")
    coerced = NO_HEADER_WARNING in keys.warnings
    return Stored(keys.sop_class_uid, keys.sop_instance_uid, keys.study_instance_uid,
                  keys.series_instance_uid, WarningReason.COERCION if coerced else None,
                  f"{label}: {NO_HEADER_WARNING}" if coerced else "")


def store_parts(parts: list[Part], payload: PayloadType, target: Target) -> Outcome:
    """Store what the parts hold, each instance on its own; the parts' files are removed."""
    outcome = Outcome()
    try:
        for result in (_dicom_parts(parts, target) if payload == PayloadType.DICOM
                       else _json_parts(parts, target)):
            if isinstance(result, Failed):
                outcome.failed.append(result)
            else:
                outcome.stored.append(result)
    finally:
        discard(parts)
    if not outcome.stored and not outcome.failed:
        raise Refused(HTTPStatus.BAD_REQUEST, "the request holds no DICOM instance")
    return outcome


def _dicom_parts(parts: list[Part], target: Target) -> Iterator[Stored | Failed]:
    for part in parts:
        label = f"part {part.number}"
        if part.media_type not in ("", PayloadType.DICOM):
            yield Failed("", "", FailureReason.CANNOT_UNDERSTAND,
                         f"{label} is {part.media_type}, not {PayloadType.DICOM}")
            continue
        yield store_instance(part.path, part.written, target, label)


def _json_parts(parts: list[Part], target: Target) -> Iterator[Stored | Failed]:
    metadata = [p for p in parts if p.media_type in (PayloadType.DICOM_JSON, "application/json")]
    if not metadata:
        raise Refused(HTTPStatus.BAD_REQUEST,
                      f"no part is {PayloadType.DICOM_JSON} (the datasets' metadata)")
    bulk = {p.headers["content-location"]: p for p in parts
            if p not in metadata and p.headers.get("content-location")}
    for part in metadata:
        try:
            documents = json.loads(part.path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            yield Failed("", "", FailureReason.CANNOT_UNDERSTAND,
                         f"part {part.number} is not JSON: {exc}")
            continue
        documents = [documents] if isinstance(documents, dict) else documents
        if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
            yield Failed("", "", FailureReason.CANNOT_UNDERSTAND,
                         f"part {part.number} is not an array of DICOM JSON datasets")
            continue
        for index, document in enumerate(documents, start=1):
            label = f"dataset {index} of part {part.number}"
            built = part10_from_json(document, bulk, label)
            if isinstance(built, Failed):
                yield built
                continue
            try:
                yield store_instance(built, None, target, label)
            finally:
                built.unlink(missing_ok=True)


class _MissingBulkData(Exception):
    pass


def _json_uid(document: dict[str, Any], tag: str) -> str:
    values = (document.get(tag) or {}).get("Value") or [""]
    return str(values[0] or "")


def part10_from_json(document: dict[str, Any], bulk: dict[str, Part],
                     label: str) -> Path | Failed:
    """A DICOM JSON dataset as a Part 10 file in the incoming area, its BulkDataURIs read
    from the parts with that Content-Location; or why it cannot be one."""
    uids = _json_uid(document, "00080016"), _json_uid(document, "00080018")
    used: dict[str, Part] = {}

    def load(tag: str, vr: str, uri: str) -> bytes:
        part = bulk.get(uri)
        if part is None:
            raise _MissingBulkData(uri)
        used[tag.upper()] = part
        return part.path.read_bytes()

    try:
        ds = Dataset.from_json(document, bulk_data_uri_handler=load)
    except _MissingBulkData as exc:
        return Failed(*uids, FailureReason.CANNOT_UNDERSTAND,
                      f"{label}: its BulkDataURI {exc} is the Content-Location of no part")
    except Exception as exc:  # pydicom raises many kinds on malformed JSON datasets
        return Failed(*uids, FailureReason.CANNOT_UNDERSTAND, f"{label}: {exc}")
    syntax = UID(ExplicitVRLittleEndian)
    pixels = used.get("7FE00010")
    if pixels is not None and pixels.media_type not in ("", OCTET_STREAM):
        compressed = UID(pixels.parameter("transfer-syntax"))
        if not compressed or not compressed.is_compressed or int(
                ds.get("NumberOfFrames") or 1) != 1:
            return Failed(*uids, FailureReason.TRANSFER_SYNTAX_NOT_SUPPORTED,
                          f"{label}: Pixel Data as {pixels.media_type} needs a compressed "
                          f"transfer-syntax parameter and a single frame")
        ds.PixelData = encapsulate([ds.PixelData])
        ds["PixelData"].VR = "OB"
        syntax = compressed
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(uids[0])
    ds.file_meta.MediaStorageSOPInstanceUID = UID(uids[1])
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    path = incoming_path()
    try:
        ds.save_as(path, enforce_file_format=True)
    except Exception as exc:  # missing UIDs, values that cannot be encoded
        path.unlink(missing_ok=True)
        return Failed(*uids, FailureReason.CANNOT_UNDERSTAND,
                      f"{label}: cannot be written as a DICOM file: {exc}")
    return path


# --- the response --------------------------------------------------------------------------
def response_dataset(outcome: Outcome, base_url: str, study: str | None) -> Dataset:
    """The Store Instances Response Module (PS3.18 Annex I)."""
    studies = {s.study_uid for s in outcome.stored}
    target = study or (next(iter(studies)) if len(studies) == 1 else None)
    ds = Dataset()
    ds.RetrieveURL = f"{base_url}/studies/{target}" if target else None
    if outcome.failed:
        ds.FailedSOPSequence = [_failed_item(f) for f in outcome.failed]
    if outcome.stored:
        ds.ReferencedSOPSequence = [_stored_item(s, base_url) for s in outcome.stored]
    return ds


def _failed_item(failed: Failed) -> Dataset:
    item = Dataset()
    if failed.sop_class_uid:
        item.ReferencedSOPClassUID = failed.sop_class_uid
    if failed.sop_instance_uid:
        item.ReferencedSOPInstanceUID = failed.sop_instance_uid
    item.FailureReason = int(failed.reason)
    return item


def _stored_item(stored: Stored, base_url: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = stored.sop_class_uid
    item.ReferencedSOPInstanceUID = stored.sop_instance_uid
    item.RetrieveURL = (f"{base_url}/studies/{stored.study_uid}/series/{stored.series_uid}"
                        f"/instances/{stored.sop_instance_uid}")
    if stored.warning is not None:
        item.WarningReason = int(stored.warning)
    return item
