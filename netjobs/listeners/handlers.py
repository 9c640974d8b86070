"""What a listener does with each DIMSE request: plain functions over their inputs, with
thin pynetdicom event adapters. A success status goes back only once the instance is
durably stored and indexed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
)

from archive.indexing import DuplicateRejected, IndexCache, SopClassMismatch, store_received
from archive.matching import QueryError, find
from archive.models import DuplicatePolicy
from archive.reading import FileRejected
from netjobs.dicom.status import DimseStatus
from netjobs.models import Job

logger = logging.getLogger(__name__)


@dataclass
class StoreSettings:
    listener_id: int
    duplicate_policy: DuplicatePolicy
    cache: IndexCache = field(default_factory=IndexCache)
    job: Job | None = None  # a C-GET job receiving on its own association


def store_instance(data: bytes | bytearray | memoryview, context_sop_class: str,
                   calling_ae_title: str, settings: StoreSettings,
                   association_id: int | None = None) -> int:
    """Archive one received instance; the DIMSE status to answer with."""
    try:
        store_received(data, source_detail=calling_ae_title, policy=settings.duplicate_policy,
                       cache=settings.cache, expected_sop_class=context_sop_class or None,
                       job=settings.job, association_id=association_id)
    except DuplicateRejected:
        return DimseStatus.DUPLICATE_SOP_INSTANCE
    except SopClassMismatch:
        return DimseStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS
    except FileRejected as exc:
        logger.warning("listener %s: refused an instance from %s: %s", settings.listener_id,
                       calling_ae_title, exc)
        return DimseStatus.CANNOT_UNDERSTAND
    except OSError as exc:  # out of space, permissions: never a success
        logger.error("listener %s: cannot write an instance: %s", settings.listener_id, exc)
        settings.cache.clear()
        return DimseStatus.OUT_OF_RESOURCES
    return DimseStatus.SUCCESS


def on_c_store(event: Any, settings: StoreSettings) -> int:
    recorder = getattr(event.assoc, "_console_recorder", None)  # a listener's record
    return store_instance(event.encoded_dataset(), str(event.context.abstract_syntax),
                          event.assoc.requestor.ae_title, settings,
                          recorder.record.pk if recorder is not None else None)


def refuse_c_store(event: Any, settings: StoreSettings) -> int:
    """Storage is off: its contexts exist only for the instances a C-GET sends back."""
    logger.info("listener %s: refused a C-STORE from %s (Storage is not offered)",
                settings.listener_id, event.assoc.requestor.ae_title)
    return DimseStatus.REFUSED_SOP_CLASS_NOT_SUPPORTED


def find_responses(identifier: Any, root: str, cancelled: Any) -> Iterator[tuple[int, Any]]:
    """Pending responses with the matches, cancel when asked, or the failure status."""
    try:
        for answer in find(identifier, root):
            if cancelled():
                yield DimseStatus.CANCEL, None
                return
            yield DimseStatus.PENDING, answer
    except QueryError as exc:
        logger.info("C-FIND refused: %s", exc)
        yield DimseStatus.DATASET_DOES_NOT_MATCH_SOP_CLASS, None


def on_c_find(event: Any) -> Iterator[tuple[int, Any]]:
    model = event.request.AffectedSOPClassUID
    root = "PATIENT" if model == PatientRootQueryRetrieveInformationModelFind else "STUDY"
    yield from find_responses(event.identifier, root, lambda: event.is_cancelled)


def on_c_echo(event: Any) -> int:
    return DimseStatus.SUCCESS
