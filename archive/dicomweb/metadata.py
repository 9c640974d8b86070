"""WADO-RS metadata (PS3.18 10.4.1.1.2) and bulk data (10.4.1.1.4) of archived instances.

Metadata is the DICOM JSON of each instance with every binary value longer than
``BULK_THRESHOLD`` named by a BulkDataURI under the instance's ``/bulkdata/``, plus the
Available Transfer Syntax UID (0008,3002) a client needs to ask for frames. The files are
read with large values deferred, so pixel data is not read for metadata.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from archive.dicomweb.accept import media_ranges
from archive.dicomweb.frames import (
    OCTET_STREAM,
    FrameRepresentation,
    PixelSource,
    frame_bytes,
    representation,
)
from archive.dicomweb.multipart import Part
from archive.dicomweb.wado import NotAcceptable, NotFound
from archive.inspect.dicomjson import BINARY_VRS, WORD_SIZE, swap_words, to_dicom_json
from archive.inspect.loading import load
from archive.inspect.nativexml import to_native_xml
from archive.inspect.paths import BadPath, resolve
from archive.models import Instance
from archive.storage import absolute_path

logger = logging.getLogger(__name__)

BULK_THRESHOLD = 1024
DEFER_SIZE = 64 * 1024
PIXEL_DATA = "7FE00010"
AVAILABLE_TRANSFER_SYNTAX = "00083002"


def instance_url(base: str, instance: Instance) -> str:
    series = instance.series
    return (f"{base}/studies/{series.study.study_instance_uid}/series/"
            f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}")


def instance_metadata(base: str, instance: Instance) -> dict[str, Any]:
    """The instance's DICOM JSON with BulkDataURIs, as the metadata resource gives it."""
    loaded = load(absolute_path(instance.file_path), defer_size=DEFER_SIZE)
    url = instance_url(base, instance)
    found = to_dicom_json(loaded.dataset, bulk_uri=lambda path: f"{url}/bulkdata/{path}",
                          bulk_threshold=BULK_THRESHOLD, little_endian=loaded.little_endian)
    found[AVAILABLE_TRANSFER_SYNTAX] = {"vr": "UI", "Value": [instance.transfer_syntax_uid]}
    return dict(sorted(found.items()))


def instance_metadata_xml(base: str, instance: Instance) -> bytes:
    """The same as PS3.19 Native DICOM Model XML."""
    loaded = load(absolute_path(instance.file_path))
    url = instance_url(base, instance)
    ds = loaded.dataset
    ds.AvailableTransferSyntaxUID = instance.transfer_syntax_uid
    return to_native_xml(ds, bulk_uri=lambda path: f"{url}/bulkdata/{path}",
                         bulk_threshold=BULK_THRESHOLD, little_endian=loaded.little_endian)


def metadata_json(base: str, found: list[Instance]) -> Iterator[bytes]:
    """The JSON array, one instance at a time; a file that cannot be read is logged and
    ends the body unclosed, so a client sees a broken response, never a short one."""
    yield b"["
    for index, instance in enumerate(found):
        try:
            item = json.dumps(instance_metadata(base, instance)).encode()
        except Exception:
            logger.exception("WADO-RS metadata: instance %s could not be read; the response "
                             "is cut", instance.sop_instance_uid)
            return
        yield (b"," if index else b"") + item
    yield b"]"


def _element_bytes(ds: Dataset, path: str, little_endian: bool) -> bytes:
    """The value of the binary element at ``path``, little endian; NotFound otherwise."""
    parent, _, last = path.rpartition("/")
    holder = ds
    if parent:
        sequence_path, _, item = parent.rpartition("/")
        try:
            holder = resolve(ds, sequence_path).value[int(item)]
        except (BadPath, IndexError, TypeError, ValueError) as exc:
            raise NotFound(f"the instance has no element {path}") from exc
    try:
        tag = int(last, 16)
    except ValueError as exc:
        raise NotFound(f"{path} is not an element path") from exc
    if tag not in holder:
        raise NotFound(f"the instance has no element {path}")
    raw = holder.get_item(tag)
    if isinstance(raw, RawDataElement) and raw.VR == "UN":
        return bytes(raw.value or b"")
    element = holder[tag]
    if element.VR not in BINARY_VRS or not isinstance(element.value, bytes | bytearray):
        raise NotFound(f"element {path} is a {element.VR}, not bulk data")
    size = WORD_SIZE.get(str(element.VR))
    data = bytes(element.value)
    return swap_words(data, size) if size and not little_endian else data


def accepts_octet_stream(accept: str) -> bool:
    for media in media_ranges(accept):
        content = media.parameters.get("type", "*/*").lower() \
            if media.kind == "multipart/related" else media.kind
        if media.quality > 0 and content in ("*/*", "multipart/*", "application/*",
                                             OCTET_STREAM):
            return True
    return False


def bulk_parts(base: str, instance: Instance, path: str,
               accept: str) -> tuple[str, Iterator[Part]]:
    """The media type and parts of a bulk data resource. Pixel data goes frame by frame as
    the frames resource sends it; any other value as one application/octet-stream part.
    NotFound or NotAcceptable are raised before the first part."""
    location = f"{instance_url(base, instance)}/bulkdata/{path}"
    file = absolute_path(instance.file_path)
    if path.upper() == PIXEL_DATA:
        wanted = representation(instance.transfer_syntax_uid, accept)
        count = PixelSource.open(file).frame_count
        return wanted.media_type, _pixel_parts(file, count, wanted, location)
    if not accepts_octet_stream(accept):
        raise NotAcceptable(f"bulk data is sent as multipart/related; type=\"{OCTET_STREAM}"
                            f"\", not {accept}")
    loaded = load(file)
    data = _element_bytes(loaded.dataset, path.upper(), loaded.little_endian)
    return OCTET_STREAM, iter([Part(OCTET_STREAM, location, data)])


def _pixel_parts(file: Path, count: int, wanted: FrameRepresentation,
                 location: str) -> Iterator[Part]:
    for data in frame_bytes(file, list(range(count)), wanted):
        yield Part(wanted.content_type, location, data)
