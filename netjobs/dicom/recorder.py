"""Recording an association: negotiation, traffic, DIMSE messages, and how it ended.

The recorder collects pynetdicom events in memory (they arrive on the association's own
thread) and writes them to the database from the job's thread when the association ends,
so no database work happens inside the network reactor.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pynetdicom import evt
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.pdu_primitives import A_ABORT, A_P_ABORT

from netjobs.dicom import explain
from netjobs.dicom.pdus import decode_rejection_pdu
from netjobs.dicom.record_rows import RecordedMessage, context_rows, error_comment_of
from netjobs.dicom.sockets import has_tcp_nodelay
from netjobs.models import (
    AbortSource,
    Association,
    AssociationOutcome,
    AssociationRole,
    DimseDirection,
    DimseMessage,
    Job,
    PresentationContext,
)


@dataclass
class _State:
    connection_opened: bool = False
    tcp_nodelay: bool | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    messages: list[RecordedMessage] = field(default_factory=list)
    messages_total: int = 0
    failed_responses: int = 0
    peer_abort: tuple[int | None, int | None] | None = None  # (abort source, provider reason)
    connection_lost: bool = False
    released: bool = False
    aborted: bool = False
    rejection_pdu: tuple[int, int, int] | None = None  # (result, source, reason) as received


def _command_name(message: Any) -> str:
    return type(message).__name__.replace("_", "-")


class AssociationRecorder:
    """Create with the association's parameters, pass ``handlers`` to ``associate()``, call
    ``negotiated()`` when ``associate()`` returns and ``finish()`` when it is over."""

    def __init__(
        self,
        *,
        job: Job | None,
        role: AssociationRole,
        peer: explain.Peer,
        local_max_pdu: int | None,
        tls: ssl.SSLContext | None,
        timeout_for_probe: float = 3.0,
        acse_timeout: float | None = None,
        listener_id: int | None = None,
    ) -> None:
        self.peer = peer
        self._lock = threading.Lock()
        self._state = _State()
        self._local_abort_reason = ""
        self._probe_timeout = timeout_for_probe
        self._tls = tls
        self._acse_timeout = acse_timeout
        self._limit = settings.ASSOCIATION_MAX_RECORDED_MESSAGES
        self._negotiation_saved = False
        self._finished = False
        self.assoc: PynetdicomAssociation | None = None  # once connected
        self.record = Association.objects.create(
            job=job,
            listener_id=listener_id,
            role=role,
            calling_ae_title=peer.calling_ae_title,
            called_ae_title=peer.called_ae_title,
            peer_host=peer.host,
            peer_port=peer.port,
            local_max_pdu=local_max_pdu,
            tls=tls is not None,
            started_at=timezone.now(),
        )

    # --- pynetdicom event handlers (association thread) ---------------------------------
    @property
    def handlers(self) -> list[tuple[evt.NotificationEvent, Any]]:
        return [
            (evt.EVT_CONN_OPEN, self._on_conn_open),
            (evt.EVT_DATA_SENT, self._on_data_sent),
            (evt.EVT_DATA_RECV, self._on_data_recv),
            (evt.EVT_DIMSE_SENT, self._on_dimse_sent),
            (evt.EVT_DIMSE_RECV, self._on_dimse_recv),
            (evt.EVT_ACSE_RECV, self._on_acse_recv),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
        ]

    def _on_conn_open(self, event: evt.Event) -> None:
        self.assoc = event.assoc
        self.connection_opened(getattr(getattr(event.assoc.dul, "socket", None), "socket", None))

    def connection_opened(self, sock: Any) -> None:
        with self._lock:
            self._state.connection_opened = True
            self._state.tcp_nodelay = has_tcp_nodelay(sock)

    def _on_data_sent(self, event: evt.Event) -> None:
        with self._lock:
            self._state.bytes_sent += len(event.data)

    def _on_data_recv(self, event: evt.Event) -> None:
        data = event.data
        rejection = decode_rejection_pdu(data)
        with self._lock:
            self._state.bytes_received += len(data)
            if rejection is not None:
                self._state.rejection_pdu = rejection

    def _on_dimse(self, event: evt.Event, direction: DimseDirection) -> None:
        message = event.message
        command = message.command_set
        self._note_message(RecordedMessage(
            at=timezone.now(),
            direction=direction,
            command=_command_name(message),
            message_id=command.get("MessageID", command.get("MessageIDBeingRespondedTo")),
            context_id=message.context_id,
            status=command.get("Status"),
            affected_sop_class_uid=str(command.get("AffectedSOPClassUID", "") or ""),
            affected_sop_instance_uid=str(command.get("AffectedSOPInstanceUID", "") or ""),
            error_comment=error_comment_of(command),
        ))

    def add_sent(self, count: int) -> None:
        """Bytes the console wrote on the association's socket itself (fast C-STORE)."""
        with self._lock:
            self._state.bytes_sent += count

    def add_received(self, count: int) -> None:
        """Bytes the console read off the association's socket itself (fast C-STORE)."""
        with self._lock:
            self._state.bytes_received += count

    def note_dimse_sent(self, command: str, message_id: int, context_id: int,
                        sop_class: str, sop_instance: str) -> None:
        """A DIMSE request the console sent without pynetdicom (fast C-STORE)."""
        self._note_message(RecordedMessage(
            at=timezone.now(), direction=DimseDirection.SENT, command=command,
            message_id=message_id, context_id=context_id, status=None,
            affected_sop_class_uid=sop_class, affected_sop_instance_uid=sop_instance))

    def note_dimse_received(self, command: str, message_id: int | None, context_id: int,
                            status: int | None, sop_class: str, sop_instance: str,
                            error_comment: str = "") -> None:
        """A DIMSE message the console read without pynetdicom (fast C-STORE responses)."""
        self._note_message(RecordedMessage(
            at=timezone.now(), direction=DimseDirection.RECEIVED, command=command,
            message_id=message_id, context_id=context_id, status=status,
            affected_sop_class_uid=sop_class, affected_sop_instance_uid=sop_instance,
            error_comment=error_comment))

    def _note_message(self, entry: RecordedMessage) -> None:
        with self._lock:
            self._state.messages_total += 1
            self._state.failed_responses += entry.is_failed_response
            if len(self._state.messages) < self._limit:
                self._state.messages.append(entry)

    def _on_dimse_sent(self, event: evt.Event) -> None:
        self._on_dimse(event, DimseDirection.SENT)

    def _on_dimse_recv(self, event: evt.Event) -> None:
        self._on_dimse(event, DimseDirection.RECEIVED)

    def _on_acse_recv(self, event: evt.Event) -> None:
        primitive = getattr(event, "primitive", None)
        with self._lock:
            if isinstance(primitive, A_ABORT):
                self._state.peer_abort = (primitive.abort_source, None)
            elif (
                isinstance(primitive, A_P_ABORT)
                and self._state.connection_opened
                and not self._local_abort_reason
            ):
                # The DUL reports a connection closed under it as a provider abort.
                self._state.connection_lost = True
                self._state.peer_abort = (2, primitive.provider_reason)

    def _on_released(self, event: evt.Event) -> None:
        with self._lock:
            self._state.released = True

    def _on_aborted(self, event: evt.Event) -> None:
        with self._lock:
            self._state.aborted = True

    # --- job thread -----------------------------------------------------------------------
    def note_local_abort(self, reason: str) -> None:
        """Say why the console itself is about to abort (or has aborted) the association."""
        self._local_abort_reason = reason

    @property
    def peer_aborted(self) -> bool:
        with self._lock:
            return self._state.peer_abort is not None

    def explanation_so_far(self) -> str:
        """The explanation of an abort seen so far (before ``finish``), if any."""
        with self._lock:
            peer_abort, lost = self._state.peer_abort, self._state.connection_lost
        if peer_abort is None:
            return self._local_abort_reason
        if lost:
            return explain.explain_connection_lost()
        return explain.explain_peer_abort(*peer_abort)

    @property
    def has_negotiation(self) -> bool:
        return self._negotiation_saved

    def negotiated(self, assoc: PynetdicomAssociation) -> None:
        """Store the negotiation as it stands when ``associate()`` returns."""
        self._negotiation_saved = True
        PresentationContext.objects.bulk_create(context_rows(self.record, assoc))
        record = self.record
        acceptor = assoc.acceptor
        inbound = record.role == AssociationRole.ACCEPTOR
        peer = assoc.requestor if inbound else acceptor
        request = assoc.requestor.primitive
        if inbound and request is not None:  # the titles as the peer sent them
            record.calling_ae_title = str(request.calling_ae_title or "").strip()[:16]
            record.called_ae_title = str(request.called_ae_title or "").strip()[:16]
        if assoc.is_established:
            record.outcome = AssociationOutcome.ESTABLISHED
            record.peer_max_pdu = peer.maximum_length
            record.local_max_pdu = (acceptor if inbound else assoc.requestor).maximum_length
            record.peer_implementation_class_uid = str(peer.implementation_class_uid or "")
            record.peer_implementation_version_name = peer.implementation_version_name or ""
        else:
            rejection = self._rejection(assoc)
            if rejection is not None:
                record.outcome = AssociationOutcome.REJECTED
                result, source, reason = rejection
                record.rejection_result = result
                record.rejection_source = source
                record.rejection_reason = reason
                record.rejection_text = explain.describe_rejection(result, source, reason)
                record.explanation = (
                    explain.explain_inbound_rejection(record.calling_ae_title,
                                                      record.called_ae_title, reason)
                    if inbound else explain.explain_rejection(self.peer, result, source, reason)
                )
            elif assoc.is_aborted and acceptor.primitive is None and self._state.connection_opened:
                record.outcome = AssociationOutcome.ABORTED
                if self._state.connection_lost:
                    record.abort_source = AbortSource.NETWORK
                    record.abort_reason = "Connection closed before the peer answered"
                    record.explanation = (
                        "The peer closed the connection without answering the association "
                        "request. It may not speak DICOM on this port, may use TLS here, or "
                        "may refuse connections from this address."
                    )
                else:
                    record.abort_source = AbortSource.LOCAL
                    record.abort_reason = "No answer within the association (ACSE) timeout"
                    timeout = f" ({self._acse_timeout:g} s)" if self._acse_timeout else ""
                    record.explanation = (
                        f"The peer accepted the connection but did not answer the association "
                        f"request within the association timeout{timeout}, so the console "
                        "aborted. The port may not be a DICOM service, or the peer is hung."
                    )
                self._local_abort_reason = record.abort_reason
            elif assoc.is_aborted and assoc.rejected_contexts and not assoc.accepted_contexts:
                # pynetdicom aborts by itself when the peer accepted no presentation context.
                record.outcome = AssociationOutcome.ABORTED
                record.abort_source = AbortSource.LOCAL
                record.abort_reason = "No presentation context accepted"
                record.explanation = " ".join(
                    explain.explain_context_rejection(
                        str(cx.abstract_syntax), [str(ts) for ts in cx.transfer_syntax], cx.result
                    )
                    for cx in assoc.rejected_contexts
                )
                self._local_abort_reason = record.explanation
        with self._lock:
            record.tcp_nodelay = self._state.tcp_nodelay
        record.save()

    def _rejection(self, assoc: PynetdicomAssociation) -> tuple[int, int, int] | None:
        primitive = assoc.acceptor.primitive
        if assoc.is_rejected and primitive is not None and primitive.result is not None:
            return primitive.result, primitive.result_source or 0, primitive.diagnostic or 0
        # When the peer closes the connection right after its A-ASSOCIATE-RJ, pynetdicom
        # 3.0 sometimes reports an abort instead (seen about 1 in 4 times against DCMTK
        # dcmqrscp on loopback); the PDU as received still says what the peer answered.
        with self._lock:
            return self._state.rejection_pdu

    def finish(self) -> Association:
        """Work out how the association ended and store everything collected (once)."""
        with self._lock:
            if self._finished:
                return self.record
            self._finished = True
            state = self._state
            messages = list(state.messages)
        record = self.record
        record.ended_at = timezone.now()
        record.bytes_sent = state.bytes_sent
        record.bytes_received = state.bytes_received
        record.dimse_messages_total = state.messages_total
        record.dimse_failures = state.failed_responses
        record.tcp_nodelay = state.tcp_nodelay
        if record.outcome == AssociationOutcome.REJECTED:
            pass
        elif not state.connection_opened:
            record.outcome = AssociationOutcome.CONNECTION_FAILED
            record.explanation = explain.explain_connection_failure(
                self.peer.host, self.peer.port, self._probe_timeout, self._tls
            )
        elif state.peer_abort is not None and not state.connection_lost:
            record.outcome = AssociationOutcome.ABORTED
            source, reason = state.peer_abort
            record.abort_source = AbortSource.PEER
            record.abort_reason = f"A-ABORT from the peer (source {source})"
            record.explanation = explain.explain_peer_abort(source, reason)
        elif self._local_abort_reason:
            record.outcome = AssociationOutcome.ABORTED
            record.abort_source = record.abort_source or AbortSource.LOCAL
            record.abort_reason = record.abort_reason or self._local_abort_reason[:300]
            record.explanation = record.explanation or self._local_abort_reason
        elif state.connection_lost:
            record.outcome = AssociationOutcome.ABORTED
            record.abort_source = AbortSource.NETWORK
            record.abort_reason = "Connection closed without release"
            record.explanation = explain.explain_connection_lost()
        elif state.released:
            record.outcome = AssociationOutcome.RELEASED
        elif state.aborted:
            record.outcome = AssociationOutcome.ABORTED
            record.abort_source = AbortSource.NETWORK
            record.explanation = explain.explain_connection_lost()
        elif record.outcome == AssociationOutcome.CONNECTING:
            # A TCP connection that closed before any A-ASSOCIATE-RQ (a port probe, a load
            # balancer's health check): it ended, so it must not stay "connecting" forever.
            record.outcome = AssociationOutcome.ABORTED
            record.abort_source = AbortSource.NETWORK
            record.abort_reason = "Connection closed before an association was requested"
            record.explanation = explain.explain_closed_before_request()
        with transaction.atomic():
            record.save()
            DimseMessage.objects.bulk_create(m.row(record) for m in messages)
        return record
