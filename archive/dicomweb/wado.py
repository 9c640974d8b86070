"""WADO-RS retrieval of instances (PS3.18 10.4): which instances a resource names, which
transfer syntax the Accept header lets each go in, and the multipart body, streamed.

An instance goes as it is stored when its syntax is acceptable (``transfer-syntax=*``
accepts every one); otherwise it is transcoded, lossless only, with the transcode kind's
code into a temporary folder and sent from there. When an instance can go in none of the
accepted syntaxes the request is refused (406) with the reason before anything is sent.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet
from pydicom.uid import UID

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode.convert import transcode_file
from archive.conversions.transcode.options import TranscodeOptions
from archive.dicomweb.accept import media_ranges
from archive.models import Instance
from archive.storage import absolute_path

logger = logging.getLogger(__name__)

DICOM = "application/dicom"
ANY_SYNTAX = "*"
EXPLICIT_LE = "1.2.840.10008.1.2.1"  # what application/dicom means without transfer-syntax
CHUNK = 256 * 1024
_NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
           "1.2.840.10008.1.2.1.99"}
_LOSSLESS_TARGETS = {str(t.uid): t for t in TargetSyntax if not t.is_lossy}


class NotAcceptable(ValueError):
    """No acceptable representation: 406 with this reason."""


class NotFound(LookupError):
    """The resource names nothing in the archive: 404 with this reason."""


@dataclass(frozen=True)
class Acceptable:
    """The transfer syntaxes the Accept header accepts for application/dicom, best first."""

    syntaxes: tuple[str, ...]

    def accepts(self, syntax: str) -> bool:
        return ANY_SYNTAX in self.syntaxes or syntax in self.syntaxes


def acceptable(accept: str) -> Acceptable:
    """The syntaxes an Accept header accepts for instances (PS3.18 8.7.3); NotAcceptable
    when it accepts no multipart application/dicom at all."""
    ranked: list[tuple[float, int, str]] = []
    for index, media in enumerate(media_ranges(accept)):
        if media.quality > 0 and (media.kind in ("*/*", "multipart/*") or (
                media.kind == "multipart/related"
                and media.parameters.get("type", DICOM) == DICOM)):
            syntax = media.parameters.get("transfer-syntax", EXPLICIT_LE)
            ranked.append((-media.quality, index, syntax))
    if not ranked:
        raise NotAcceptable(f'instances are sent as multipart/related; type="{DICOM}" '
                            f"(with a transfer-syntax parameter, * for as stored), not "
                            f"{accept}")
    return Acceptable(tuple(syntax for *_, syntax in sorted(ranked)))


def instances(study: str, series: str | None = None,
              instance: str | None = None) -> QuerySet[Instance]:
    """The instances a resource names, in series and instance order; NotFound if none."""
    found = Instance.objects.filter(series__study__study_instance_uid=study)
    if series is not None:
        found = found.filter(series__series_instance_uid=series)
    if instance is not None:
        found = found.filter(sop_instance_uid=instance)
    if not found.exists():
        what = ("instance " + instance if instance else "series " + series if series
                else "study " + study)
        raise NotFound(f"the archive holds no {what}")
    return found.order_by("series__series_number", "series__pk", "instance_number", "pk")


@dataclass(frozen=True)
class Delivery:
    """One instance: its stored file, and the syntax to transcode it to (None: as stored)."""

    path: Path
    sop_instance_uid: str
    stored: str  # its transfer syntax in the archive
    target: TargetSyntax | None

    @property
    def syntax(self) -> str:
        """The transfer syntax it is sent in."""
        return str(self.target.uid) if self.target is not None else self.stored


def _target(instance: Instance, wanted: Acceptable) -> TargetSyntax | None:
    stored = instance.transfer_syntax_uid
    if wanted.accepts(stored):
        return None
    reasons = []
    for syntax in wanted.syntaxes:
        target = _LOSSLESS_TARGETS.get(syntax)
        if target is None:
            reasons.append(f"{syntax}: not a lossless syntax this server writes")
        elif not instance.rows and stored not in _NATIVE:
            reasons.append(f"{syntax}: the object has no pixel data to transcode")
        elif not instance.rows:
            reasons.append(f"{syntax}: objects without pixel data go as stored only")
        else:
            return target
    raise NotAcceptable(f"instance {instance.sop_instance_uid} is stored in "
                        f"{UID(stored).name} ({stored}) and cannot be sent in any accepted "
                        f"syntax: " + "; ".join(reasons))


def deliveries(found: QuerySet[Instance], wanted: Acceptable) -> list[Delivery]:
    """How each instance goes; NotAcceptable (before anything is sent) if one cannot."""
    return [Delivery(absolute_path(i.file_path), i.sop_instance_uid, i.transfer_syntax_uid,
                     _target(i, wanted))
            for i in found.only("file_path", "sop_instance_uid", "transfer_syntax_uid",
                                "rows")]


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fp:
        while chunk := fp.read(CHUNK):
            yield chunk


def _transcoded(delivery: Delivery) -> Iterator[bytes]:
    assert delivery.target is not None
    work = Path(tempfile.mkdtemp(prefix="wado-"))
    try:
        done = transcode_file(delivery.path, work, TranscodeOptions(target=delivery.target))
        yield from _file_chunks(done.outputs[0].path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def multipart(found: list[Delivery], boundary: str) -> Iterator[bytes]:
    """The body: one part per instance, read from disk a chunk at a time. A failure while
    sending (a file gone, a decoder error) is logged and ends the body without its closing
    boundary, so a client sees a broken response, never a short one that looks whole."""
    for delivery in found:
        yield (f"--{boundary}\r\nContent-Type: {DICOM}; transfer-syntax={delivery.syntax}"
               "\r\n\r\n").encode()
        try:
            yield from (_file_chunks(delivery.path) if delivery.target is None
                        else _transcoded(delivery))
        except Exception:
            logger.exception("WADO-RS: instance %s could not be sent; the response is cut",
                             delivery.sop_instance_uid)
            return
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()
