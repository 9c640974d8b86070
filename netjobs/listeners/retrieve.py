"""C-MOVE and C-GET over the archive (PS3.4 C.4.2, C.4.3).

Plain functions decide what a retrieve covers, where a C-MOVE goes and which presentation
contexts carry it; the two event handlers are thin generators over them that pynetdicom's
Query/Retrieve service drives (it sends the C-STOREs and the pending and final responses).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import UID
from pynetdicom import evt
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
)

from archive.models import Instance
from archive.storage import absolute_path
from netjobs.dicom.contexts import MAX_CONTEXTS, UNCOMPRESSED, contexts_by_class
from netjobs.dicom.explain import Peer
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.status import DimseStatus
from netjobs.dicom.tls import client_context
from netjobs.models import ApplicationEntity, AssociationRole

logger = logging.getLogger(__name__)

MAX_SUB_OPERATIONS = 65535  # the counts in the responses are US


class RetrieveError(ValueError):
    """The identifier does not say what to retrieve."""


class DestinationUnusable(Exception):
    """The C-MOVE destination is known but cannot be reached as configured."""


@dataclass
class RetrieveSettings:
    listener_id: int
    ae_title: str


@dataclass(frozen=True)
class StoredInstance:
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    file_path: str


def _uid_list(identifier: Dataset, keyword: str) -> list[str]:
    value = identifier.get(keyword)
    if value in (None, ""):
        raise RetrieveError(f"{keyword} is required at this retrieve level")
    values = list(value) if isinstance(value, MultiValue | list) else [value]
    uids = [str(v).strip() for v in values if str(v).strip()]
    if not uids or any("*" in uid or "?" in uid for uid in uids):
        raise RetrieveError(f"{keyword} must hold UIDs (no wildcards)")
    return uids


def instances_to_retrieve(identifier: Dataset, patient_root: bool) -> list[StoredInstance]:
    """The archived instances an identifier's unique keys select (PS3.4 C.4.2.2.1)."""
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    instances = Instance.objects.all()
    if level == "PATIENT":
        if not patient_root:
            raise RetrieveError("The Study Root models have no PATIENT level")
        patient_id = str(identifier.get("PatientID", "") or "").strip()
        if not patient_id or "*" in patient_id or "?" in patient_id:
            raise RetrieveError("PatientID is required at the PATIENT level")
        instances = instances.filter(series__study__patient__patient_id=patient_id)
    elif level == "STUDY":
        instances = instances.filter(
            series__study__study_instance_uid__in=_uid_list(identifier, "StudyInstanceUID"))
    elif level == "SERIES":
        instances = instances.filter(
            series__series_instance_uid__in=_uid_list(identifier, "SeriesInstanceUID"))
    elif level == "IMAGE":
        instances = instances.filter(
            sop_instance_uid__in=_uid_list(identifier, "SOPInstanceUID"))
    else:
        raise RetrieveError(f"Unknown Query/Retrieve Level {level!r}")
    rows = instances.order_by("series__study_id", "series_id", "instance_number", "pk")
    return [StoredInstance(*row) for row in rows.values_list(
        "sop_class_uid", "sop_instance_uid", "transfer_syntax_uid", "file_path")]


def move_destination(ae_title: str) -> ApplicationEntity | None:
    """The AE a C-MOVE may send to: configured, and allowed as a move destination."""
    return (ApplicationEntity.objects
            .filter(ae_title=ae_title.strip(), accepts_move_destination=True)
            .order_by("kind", "pk").first())


def plan_contexts(instances: list[StoredInstance]) -> list[tuple[str, list[str]]]:
    """Presentation contexts for sending ``instances`` (like dcmsend, as store jobs do):
    each SOP class with its instances' own syntaxes plus an uncompressed fallback, at most
    128."""
    contexts = contexts_by_class((i.sop_class_uid, i.transfer_syntax_uid) for i in instances)
    if len(contexts) > MAX_CONTEXTS:
        logger.warning("retrieve needs %d presentation contexts; only %d are proposed",
                       len(contexts), MAX_CONTEXTS)
    return contexts[:MAX_CONTEXTS]


class StoredDataset(Dataset):
    """Stands for an archived file in pynetdicom's retrieve service: ``send_stored`` sends
    the file's own data set bytes, never a decode and re-encode."""

    def __init__(self, item: StoredInstance) -> None:
        super().__init__()
        self.SOPClassUID = item.sop_class_uid
        self.SOPInstanceUID = item.sop_instance_uid
        self.file_meta = FileMetaDataset()
        self.file_meta.TransferSyntaxUID = UID(item.transfer_syntax_uid)
        self.__dict__["stored_path"] = absolute_path(item.file_path)


def _has_context(assoc: Any, item: StoredInstance, transfer_syntax: str) -> bool:
    return any(cx.abstract_syntax == item.sop_class_uid and cx.as_scu
               and cx.transfer_syntax[0] == transfer_syntax for cx in assoc.accepted_contexts)


def dataset_for_context(item: StoredInstance, assoc: Any) -> Dataset:
    """The stored instance ready for a context the peer accepted: as stored when the peer
    took its transfer syntax, decompressed when it took only an uncompressed one."""
    ts = item.transfer_syntax_uid
    if _has_context(assoc, item, ts):
        return StoredDataset(item)
    uncompressed = [cx.transfer_syntax[0] for cx in assoc.accepted_contexts
                    if cx.abstract_syntax == item.sop_class_uid and cx.as_scu
                    and cx.transfer_syntax[0] in UNCOMPRESSED]
    if ts in UNCOMPRESSED or not uncompressed:
        # pynetdicom converts between uncompressed syntaxes; with no context at all the
        # send fails and is counted as a failed sub-operation.
        return dcmread(absolute_path(item.file_path))
    dataset = dcmread(absolute_path(item.file_path))
    logger.info("sending %s decompressed: the peer accepts no %s", item.sop_instance_uid,
                UID(ts).name)
    dataset.decompress(generate_instance_uid=False)  # the same instance, re-encoded
    return dataset


def send_stored_bytes(assoc: Any) -> None:
    """Make the association send a StoredDataset from its file, bytes as stored (with
    pynetdicom's chunked sending, which reads the file in pieces). Once per association."""
    if getattr(assoc, "_console_sends_stored_bytes", False):
        return
    assoc._console_sends_stored_bytes = True
    send = assoc.send_c_store

    def send_c_store(dataset: Any, *args: Any, **kwargs: Any) -> Any:
        path = dataset.__dict__.get("stored_path") if isinstance(dataset, Dataset) else None
        return send(path if path is not None else dataset, *args, **kwargs)

    assoc.send_c_store = send_c_store


# --- responses with a comment ---------------------------------------------------------------
def set_failure_comment(assoc: Any, message_id: int, comment: str) -> None:
    """Have the failure response to ``message_id`` carry an Error Comment (64 chars)."""
    comments: dict[int, str] = getattr(assoc, "_console_error_comments", {})
    comments[message_id] = comment[:64]
    assoc._console_error_comments = comments


def clear_failure_comment(assoc: Any, message_id: int) -> None:
    getattr(assoc, "_console_error_comments", {}).pop(message_id, None)


NOT_FAILURES = {DimseStatus.SUCCESS, DimseStatus.PENDING, DimseStatus.PENDING_WARNING,
                DimseStatus.CANCEL, DimseStatus.ATTRIBUTE_LIST_ERROR}


def is_final_failure(status: int) -> bool:
    return status not in NOT_FAILURES and (status & 0xF000) != 0xB000


def add_error_comments(assoc: Any) -> None:
    """Wrap the association's DIMSE sender so a failure response carries the comment noted
    for its request; any final response drops it."""
    dimse = assoc.dimse
    send = dimse.send_msg

    def send_with_comment(primitive: Any, context_id: int) -> None:
        comments: dict[int, str] = getattr(assoc, "_console_error_comments", {})
        responding_to = getattr(primitive, "MessageIDBeingRespondedTo", None)
        status = getattr(primitive, "Status", None)
        if responding_to in comments and isinstance(status, int) and status not in (
                DimseStatus.PENDING, DimseStatus.PENDING_WARNING):
            comment = comments.pop(responding_to)
            if is_final_failure(status):
                primitive.ErrorComment = comment
        send(primitive, context_id)

    dimse.send_msg = send_with_comment


# --- the handlers -------------------------------------------------------------------------------
def _sub_operations(items: list[StoredInstance], event: Any,
                    assoc: Any) -> Iterator[tuple[int, Dataset | None]]:
    for item in items:
        if event.is_cancelled:
            yield DimseStatus.CANCEL, None
            return
        try:
            dataset = dataset_for_context(item, assoc)
        except Exception as exc:  # unreadable file, no decoder (MPEG…), no pixel data
            logger.error("retrieve: cannot prepare %s: %s", item.sop_instance_uid, exc)
            dataset = Dataset()
            dataset.SOPClassUID = item.sop_class_uid
            dataset.SOPInstanceUID = item.sop_instance_uid  # cannot be sent: a failure
        yield DimseStatus.PENDING, dataset


def _too_many(assoc: Any, message_id: int, count: int) -> bool:
    if count <= MAX_SUB_OPERATIONS:
        return False
    set_failure_comment(assoc, message_id, f"{count} instances match; at most "
                                           f"{MAX_SUB_OPERATIONS} per request")
    return True


def on_c_move(event: Any, settings: RetrieveSettings) -> Iterator[Any]:
    request = event.request
    assoc = event.assoc
    title = str(request.MoveDestination or "").strip()
    destination = move_destination(title)
    if destination is None:
        logger.info("listener %s: C-MOVE to unknown destination %r", settings.listener_id, title)
        set_failure_comment(assoc, request.MessageID,
                            f"Unknown move destination {title}: not an AE of the console")
        yield None, None
        return
    patient_root = request.AffectedSOPClassUID == PatientRootQueryRetrieveInformationModelMove
    try:
        items = instances_to_retrieve(event.identifier, patient_root)
    except RetrieveError as exc:  # pynetdicom answers 0xC513 (unable to process) with it
        set_failure_comment(assoc, request.MessageID, str(exc))
        yield destination.host, destination.port
        raise
    if not items or _too_many(assoc, request.MessageID, len(items)):
        yield destination.host, destination.port  # no association is opened for these
        yield len(items)
        return
    tls_context = None
    if destination.tls_enabled:
        try:
            tls_context = client_context(destination)
        except (ValidationError, ssl.SSLError, OSError) as exc:
            logger.error("C-MOVE destination %s: unusable TLS settings: %s", destination, exc)
            set_failure_comment(assoc, request.MessageID,
                                f"TLS settings of destination {title} are unusable")
            # the destination is known (not 0xA801): pynetdicom answers 0xC513 with it
            yield destination.host, destination.port
            raise DestinationUnusable(str(exc)) from exc
    recorder = AssociationRecorder(
        job=None, role=AssociationRole.REQUESTOR,
        peer=Peer(settings.ae_title, destination.ae_title, destination.host, destination.port),
        local_max_pdu=destination.max_pdu, tls=tls_context, listener_id=settings.listener_id,
    )
    sub_recorders(assoc).append(recorder)
    options: dict[str, Any] = {
        "contexts": [build_context(abstract, syntaxes)
                     for abstract, syntaxes in plan_contexts(items)],
        "max_pdu": destination.max_pdu,
        "evt_handlers": [*recorder.handlers,
                         (evt.EVT_RELEASED, finish_on_release, [recorder])],
    }
    if tls_context is not None:
        options["tls_args"] = (tls_context, destination.host)
    set_failure_comment(assoc, request.MessageID,
                        f"Destination {title} at {destination.host}:{destination.port} "
                        "refused or did not answer")
    yield destination.host, destination.port, options
    yield len(items)
    clear_failure_comment(assoc, request.MessageID)  # resumed: the destination answered
    store_assoc = recorder.assoc
    assert store_assoc is not None
    recorder.negotiated(store_assoc)
    send_stored_bytes(store_assoc)
    yield from _sub_operations(items, event, store_assoc)


def on_c_get(event: Any, settings: RetrieveSettings) -> Iterator[Any]:
    request = event.request
    patient_root = request.AffectedSOPClassUID == PatientRootQueryRetrieveInformationModelGet
    try:
        items = instances_to_retrieve(event.identifier, patient_root)
    except RetrieveError as exc:  # pynetdicom answers 0xC413 (unable to process) with it
        set_failure_comment(event.assoc, request.MessageID, str(exc))
        raise
    _too_many(event.assoc, request.MessageID, len(items))
    yield len(items)
    send_stored_bytes(event.assoc)
    yield from _sub_operations(items, event, event.assoc)


def sub_recorders(assoc: Any) -> list[AssociationRecorder]:
    """Records of the associations a listener's association opened (C-MOVE destinations);
    whatever is still open is finished when that association ends."""
    recorders: list[AssociationRecorder] = getattr(assoc, "_console_sub_recorders", [])
    assoc._console_sub_recorders = recorders
    return recorders


def finish_on_release(event: Any, recorder: AssociationRecorder) -> None:
    """pynetdicom releases the C-MOVE sub-association from this (the listener's) thread."""
    recorder._on_released(event)
    if not recorder.has_negotiation:
        recorder.negotiated(event.assoc)
    recorder.finish()
