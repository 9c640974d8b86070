"""The de-identification of one data set: PS3.15 Annex E's Basic Application Level
Confidentiality Profile with the options chosen (every action code of Table E.1-1 as the
checked-in table gives it), or a site's dumb-mode rules.

Every attribute is judged where it is, at any depth: its row of the table decides, an option
overrides the basic action; attributes the table does not list are kept, except dates and
person names (removed or emptied: they identify) and even-group elements the dictionary does
not know (refused: no rule covers them). Private elements go, unless listed as safe under the
Retain Safe Private Option. Every change is reported with the rule behind it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pydicom
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from archive.deid.config import AttributeChange, DeidConfig, Deidentified, DeidRefused
from archive.deid.dumb import DumbRuleRefused, apply_dumb
from archive.deid.keys import CertificateRefused
from archive.deid.method import held_back_reason, record_method
from archive.deid.profile import ActionCode
from archive.deid.reversible import ADDED_BY_DEIDENTIFICATION, add_encrypted_attributes
from archive.deid.walk import PIXEL_TAGS, Walk
from archive.objects.edit.changes import EditRefused
from archive.objects.edit.files import read_for_edit, write_like_source
from archive.reading import NO_HEADER_WARNING
from archive.storage import uid_component

# the file meta elements a de-identified file keeps (PS3.10 7.1): version, SOP class and
# instance, transfer syntax, and the writer (the console); every other one (the source,
# sending and receiving AE titles and presentation addresses, private information, RTV
# elements, anything unknown) names a system or a site and goes
META_KEPT = frozenset({0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012,
                       0x00020013})
MAX_SEQUENCE_DEPTH = 32
MEDIA_UIDS = {0x00080018: 0x00020003}  # SOP Instance UID → Media Storage SOP Instance UID
IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME = 0x00020012, 0x00020013
IMPLEMENTATION_VERSION = f"PYDICOM {pydicom.__version__}"[:16]


def deidentify_dataset(ds: Dataset, config: DeidConfig) -> Deidentified:
    """A de-identified copy of ``ds`` (``ds`` itself is not modified)."""
    return deidentify_in_place(copy.deepcopy(ds), config)


def deidentify_in_place(ds: Dataset, config: DeidConfig) -> Deidentified:
    if sequence_depth(ds) > MAX_SEQUENCE_DEPTH:
        raise DeidRefused(f"sequences nested more than {MAX_SEQUENCE_DEPTH} deep: not a "
                          "data set this console de-identifies")
    if config.dumb is not None:
        return _dumb(ds, config)
    result = Deidentified(dataset=ds, held_back=held_back_reason(ds, config))
    walk = Walk(config, ds)
    originals = walk.top_level(ds)
    _file_meta(ds, walk)
    result.changes = walk.changes
    result.warnings = walk.warnings
    result.phi = walk.phi
    result.retained_uids = walk.retained_uids
    if config.certificate_pem is not None:  # what the record below overwrites, if it was there
        for tag in ADDED_BY_DEIDENTIFICATION:
            if tag in ds and tag not in originals:
                originals.add(copy.deepcopy(ds[tag]))
    result.changes += record_method(ds, config)
    if config.certificate_pem is not None and len(originals):
        try:
            add_encrypted_attributes(ds, originals, config.certificate_pem)
        except CertificateRefused as exc:
            raise DeidRefused(f"the project's certificate cannot encrypt: {exc}") from exc
        result.changes.append(AttributeChange(
            "(0400,0500)", 0x04000500, "EncryptedAttributesSequence", ActionCode.K,
            "reversible: the replaced values, encrypted for the project's certificate",
            "", f"{len(originals)} original attributes"))
    return result


def deidentify_file(source: Path, out_dir: Path, config: DeidConfig) -> tuple[Path, Deidentified]:
    """Read ``source``, de-identify it and write it into ``out_dir`` under a name made of
    its new SOP Instance UID (a file name can carry PHI too)."""
    ds, warnings = read_source(source)
    result = deidentify_in_place(ds, config)
    result.warnings[:0] = warnings
    # a kept (Retain UIDs, dumb mode) UID can be anything: the name never leaves out_dir
    destination = out_dir / f"{uid_component(str(ds.SOPInstanceUID))}.dcm"
    try:
        write_like_source(ds, destination)
    except (ValueError, TypeError, OverflowError) as exc:  # a value pydicom cannot encode
        raise DeidRefused("the de-identified data set cannot be written: a value does not "
                          f"fit its VR ({type(exc).__name__})") from exc
    return destination, result


def sequence_depth(ds: Dataset) -> int:
    """How deep the data set's sequences nest (0: none), measured without recursion."""
    deepest, waiting = 0, [(ds, 0)]
    while waiting:
        current, depth = waiting.pop()
        deepest = max(deepest, depth)
        if depth > MAX_SEQUENCE_DEPTH:
            break
        for tag in current.keys():  # noqa: SIM118 (tags: the pixel data stays unread)
            if tag not in PIXEL_TAGS and (element := current[tag]).VR == "SQ":
                waiting.extend((item, depth + 1) for item in element.value or [])
    return deepest


def read_source(source: Path) -> tuple[Dataset, list[str]]:
    """The file to de-identify (large values left on disk until written); a bare data set
    without the Part 10 header is taken too, with a header added."""
    try:
        ds = read_for_edit(source)
    except EditRefused as exc:
        refusal = str(exc)
    else:
        if "SOPInstanceUID" not in ds or "SOPClassUID" not in ds:
            raise DeidRefused(f"{source.name} cannot be read as a composite instance: it has "
                              "no SOP Class UID or SOP Instance UID")
        return ds, []
    try:
        ds = dcmread(source, force=True)
        if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
            raise DeidRefused(refusal)
        implicit, little = ds.original_encoding
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else
            ExplicitVRLittleEndian if little is not False else ExplicitVRBigEndian)
    except (InvalidDicomError, OSError, EOFError, ValueError, AttributeError) as exc:
        raise DeidRefused(f"{refusal} ({type(exc).__name__}: {exc})") from exc
    return ds, [NO_HEADER_WARNING]


def _file_meta(ds: Dataset, walk: Walk) -> None:
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return
    for tag in [int(t) for t in meta.keys() if int(t) not in META_KEPT]:  # noqa: SIM118
        element = meta[tag]
        walk.changes.append(AttributeChange(
            walk.label("", tag), tag, element.keyword, ActionCode.X,
            "file meta: names a system or a site", walk.shown(element), "(removed)"))
        del meta[tag]
    for tag, value in ((IMPLEMENTATION_CLASS_UID, PYDICOM_IMPLEMENTATION_UID),
                       (IMPLEMENTATION_VERSION_NAME, IMPLEMENTATION_VERSION)):
        before = str(meta[tag].value) if tag in meta else ""
        if before != value:  # the writer is the console now (PS3.10 7.1)
            meta.add_new(tag, "UI" if tag == IMPLEMENTATION_CLASS_UID else "SH", value)
            walk.changes.append(AttributeChange(
                walk.label("", tag), tag, meta[tag].keyword, ActionCode.D,
                "file meta: names the writer of the file", before, value))
    for instance_tag, media_tag in MEDIA_UIDS.items():
        if instance_tag in ds and media_tag in meta:
            meta[media_tag].value = ds[instance_tag].value


def _dumb(ds: Dataset, config: DeidConfig) -> Deidentified:
    assert config.dumb is not None
    try:
        changes = apply_dumb(ds, config.dumb)
    except DumbRuleRefused as exc:
        raise DeidRefused(str(exc)) from exc
    result = Deidentified(dataset=ds, held_back=held_back_reason(ds, config))
    result.changes = [AttributeChange(
        f"({c.tag >> 16:04X},{c.tag & 0xFFFF:04X})", c.tag, c.keyword, str(c.action),
        "dumb mode: the site's rule", c.before, c.after) for c in changes]
    result.changes += record_method(ds, config)
    return result

