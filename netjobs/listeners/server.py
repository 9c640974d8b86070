"""Starting and stopping one listener: a pynetdicom server in threads of this process.

Wiring only: which contexts the listener accepts, which handler answers which event, and
the association record of every connection. What each request does lives in the service
modules (handlers, retrieve, mpps, ian, commitment)."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import AE, evt, register_uid
from pynetdicom.presentation import build_context
from pynetdicom.service_class import StorageServiceClass
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    InstanceAvailabilityNotification,
    ModalityPerformedProcedureStep,
    uid_to_service_class,
)
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from archive.models import DuplicatePolicy
from netjobs.dicom.explain import Peer
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.sockets import ConsoleAE, set_tcp_nodelay
from netjobs.dicom.status import DimseStatus
from netjobs.dicom.tls import resolve_tls_file
from netjobs.listeners import commitment, commitment_reports, ian, mpps
from netjobs.listeners.connections import usable_connection
from netjobs.listeners.handlers import (
    StoreSettings,
    on_c_echo,
    on_c_find,
    on_c_store,
    refuse_c_store,
)
from netjobs.listeners.pdu_limit import limit_pdu_length, pdu_bound
from netjobs.listeners.retrieve import (
    RetrieveSettings,
    add_error_comments,
    on_c_get,
    on_c_move,
    sub_recorders,
)
from netjobs.listeners.services import (
    SOP_CLASSES,
    ListenerService,
    accepted_syntaxes,
    offered_services,
)
from netjobs.models import AEKind, ApplicationEntity, AssociationRole, CallingPolicy, Listener

logger = logging.getLogger(__name__)


class ListenerStartError(Exception):
    """The listener cannot start: the message says why, for the operator."""


@dataclass
class RunningListener:
    listener_id: int
    server: ThreadedAssociationServer
    thread: threading.Thread
    started_at: datetime
    ae: AE

    def stop(self) -> None:
        """Stop serving and close the socket (the port is free at once); idempotent."""
        if self.server in self.ae._servers:
            self.server.shutdown()  # also removes it from the AE
        else:
            self.server.server_close()
        self.thread.join(timeout=5)


def build_ae(listener: Listener) -> AE:
    ae = ConsoleAE(ae_title=listener.ae_title)  # TCP_NODELAY on C-MOVE sub-associations
    ae.maximum_associations = listener.max_associations
    ae.maximum_pdu_size = listener.max_pdu
    ae.acse_timeout = listener.acse_timeout
    ae.dimse_timeout = listener.dimse_timeout
    ae.network_timeout = listener.network_timeout
    ae.require_called_aet = listener.require_called_ae_title
    if listener.calling_policy == CallingPolicy.KNOWN:
        ae.require_calling_aet = list(
            ApplicationEntity.objects.filter(kind=AEKind.REMOTE).values_list("ae_title", flat=True)
        ) or ["-no-remote-AE-"]
    for service in offered_services(listener):
        if service == ListenerService.STORAGE:
            continue
        syntaxes = accepted_syntaxes(listener, service)
        # Storage Commitment: accept a requester's SCP/SCU role selection, so one that takes
        # the SCP role can get the N-EVENT-REPORT on its N-ACTION's association (PS3.4 J.3.3).
        roles = ({"scu_role": True, "scp_role": True}
                 if service == ListenerService.STORAGE_COMMITMENT else {})
        for sop_class in SOP_CLASSES[service]:
            ae.add_supported_context(sop_class, syntaxes, **roles)
    if listener.storage or listener.query_retrieve:
        # Storage contexts: the peer stores to us (SCU role) when Storage is offered, and
        # may take the SCP role to receive the instances of a C-GET.
        syntaxes = accepted_syntaxes(listener, ListenerService.STORAGE)
        for sop_class in SOP_CLASSES[ListenerService.STORAGE]:
            ae.add_supported_context(sop_class, syntaxes, scu_role=listener.storage,
                                     scp_role=listener.query_retrieve)
    return ae


def server_tls_context(listener: Listener) -> ssl.SSLContext | None:
    """The TLS context of a listener with TLS, built from files under the allowed roots."""
    if not listener.tls_enabled:
        return None
    try:
        if not (listener.tls_cert_file and listener.tls_key_file):
            raise ListenerStartError("TLS is on but the certificate or its key is missing.")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(resolve_tls_file(listener.tls_cert_file)),
                                str(resolve_tls_file(listener.tls_key_file)))
        if listener.tls_ca_file:
            context.load_verify_locations(cafile=str(resolve_tls_file(listener.tls_ca_file)))
        if listener.tls_require_client_certificate:
            if not listener.tls_ca_file:
                raise ListenerStartError("A client certificate is required but no CA file is "
                                         "given to check it against.")
            context.verify_mode = ssl.CERT_REQUIRED
        else:
            context.verify_mode = ssl.CERT_OPTIONAL if listener.tls_ca_file else ssl.CERT_NONE
        return context
    except ValidationError as exc:
        raise ListenerStartError(" ".join(exc.messages)) from exc
    except (ssl.SSLError, OSError) as exc:
        raise ListenerStartError(f"Cannot load the TLS files: {exc}") from exc


# --- private storage SOP classes ------------------------------------------------------------
_register_lock = threading.Lock()


def accept_private_storage(event: Any, syntaxes: list[str]) -> None:
    """Before negotiation: add a storage context for every private abstract syntax proposed."""
    assoc = event.assoc
    known = {str(cx.abstract_syntax) for cx in assoc.acceptor.supported_contexts}
    try:
        requested = assoc.requestor.requested_contexts
    except ValueError:
        return
    for cx in requested:
        uid = UID(str(cx.abstract_syntax))
        if not uid.is_private or str(uid) in known or not uid.is_valid:
            continue
        with _register_lock:
            if uid_to_service_class(uid) is not StorageServiceClass:
                register_uid(uid, "PrivateStorage_" + str(uid).replace(".", "_"),
                             StorageServiceClass)
        context = build_context(uid, syntaxes)
        assoc.acceptor.supported_contexts = [*assoc.acceptor.supported_contexts, context]
        known.add(str(uid))


# --- N-CREATE is shared by MPPS and IAN -----------------------------------------------------
def on_n_create(event: Any, listener_id: int) -> tuple[int, Dataset | None]:
    sop_class = event.request.AffectedSOPClassUID
    if sop_class == ModalityPerformedProcedureStep:
        return mpps.on_n_create(event, listener_id)
    if sop_class == InstanceAvailabilityNotification:
        return ian.on_n_create(event, listener_id)
    return DimseStatus.NO_SUCH_SOP_CLASS, None


# --- inbound association records ---------------------------------------------------------
# One recorder per association. The request thread that accepted the connection creates it,
# waits for the association thread to end and then writes the outcome, so the record is
# finished exactly once, after every event, whatever order pynetdicom's threads ran in.
def recorder_of(assoc: Any) -> AssociationRecorder | None:
    return getattr(assoc, "_console_recorder", None)


def _on_established(event: Any) -> None:
    recorder = recorder_of(event.assoc)
    if recorder is not None:  # the negotiation shows while the association runs
        recorder.negotiated(event.assoc)


def _forward(name: str) -> Any:
    def handler(event: Any) -> None:
        recorder = recorder_of(event.assoc)
        if recorder is not None:
            getattr(recorder, name)(event)
    return handler


def _closing_database_connection(run: Any) -> Any:
    """Association threads use the database in their handlers; close it when they end."""
    def wrapper() -> None:
        try:
            run()
        finally:
            connection.close()
    return wrapper


def serve_one_at_a_time(assoc: Any) -> None:
    """Let another thread send on the association (a storage commitment report) without
    racing a request being served: ``assoc._console_serving`` is held while serving. Each
    request also starts with a usable database connection for its handler.

    A request already taken off the queue waits for the lock marked as paused, so
    pynetdicom's ``send_*`` (which waits for the reactor to pause) goes ahead, and the
    reactor reads nothing more from the queue until the sender is done."""
    lock = threading.Lock()
    serve = assoc._serve_request

    def serve_request(message: Any, context_id: int) -> None:
        assoc._is_paused = True
        with lock:
            usable_connection()  # every handler's database work runs inside this call
            serve(message, context_id)

    assoc._serve_request = serve_request
    assoc._console_serving = lock


class RecordingRequestHandler(RequestHandler):
    """pynetdicom's handler, plus TLS off the accept thread and an association record for
    every connection."""

    server: ListenerServer

    def handle(self) -> None:
        try:
            host, port = str(self.client_address[0]), int(self.client_address[1])
            recorder = AssociationRecorder(
                job=None, role=AssociationRole.ACCEPTOR,
                peer=Peer("", self.server.ae_title, host, port), local_max_pdu=None,
                tls=self.server.tls_context, listener_id=self.server.listener_id,
            )
            recorder.connection_opened(self.request)
            if self.server.tls_context is not None and not self._tls_handshake(recorder):
                recorder.finish()
                return
            assoc = self._create_association()
            assoc._console_recorder = recorder  # type: ignore[attr-defined]
            limit_pdu_length(assoc, recorder, pdu_bound(self.server.ae.maximum_pdu_size))
            add_error_comments(assoc)
            serve_one_at_a_time(assoc)
            evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
            assoc.run = _closing_database_connection(assoc.run)  # type: ignore[method-assign]
            assoc.start()
            assoc.join()
            assoc.dul.join(timeout=5)  # its last events (bytes, close) are in
            if not recorder.has_negotiation:  # rejected, or no context accepted
                recorder.negotiated(assoc)
            recorder.finish()
            for sub in sub_recorders(assoc):  # C-MOVE destinations not released normally
                if not sub.has_negotiation and sub.assoc is not None:
                    sub.negotiated(sub.assoc)
                sub.finish()
        except Exception:
            logger.exception("listener %s: association from %s", self.server.listener_id,
                             self.client_address)
        finally:
            connection.close()

    def _tls_handshake(self, recorder: AssociationRecorder) -> bool:
        """Wrap the connection in TLS here, in this connection's thread, with a time limit."""
        context = cast(ssl.SSLContext, self.server.tls_context)
        raw = cast(socket.socket, self.request)
        raw.settimeout(self.server.ae.acse_timeout)
        try:
            wrapped = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            recorder.note_local_abort(
                f"TLS handshake failed: {reason}. The peer may not use TLS, may not trust "
                "this listener's certificate, or (when a client certificate is required) "
                "presented none signed by the configured CAs.")
            with contextlib.suppress(OSError):
                raw.close()
            return False
        wrapped.settimeout(None)
        self.request = wrapped
        return True


class ListenerServer(ThreadedAssociationServer):
    """Sets TCP_NODELAY on every accepted connection (PS3.8 traffic is request/response) and
    records every association. TLS is set up by the request handler, not here, so a peer
    that never completes its handshake cannot stall the accept loop."""

    daemon_threads = True
    listener_id: int
    tls_context: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        sock, address = super().get_request()
        with contextlib.suppress(OSError):
            set_tcp_nodelay(sock)
        return sock, address


def start(listener: Listener) -> RunningListener:
    """Bind and serve; raises OSError when the address cannot be bound and
    ListenerStartError when the configuration cannot work."""
    tls_context = server_tls_context(listener)
    ae = build_ae(listener)
    store_settings = StoreSettings(listener.pk, DuplicatePolicy(listener.duplicate_policy))
    retrieve_settings = RetrieveSettings(listener.pk, listener.ae_title)
    handlers: list[Any] = [
        (evt.EVT_ESTABLISHED, _on_established),
        (evt.EVT_DATA_SENT, _forward("_on_data_sent")),
        (evt.EVT_DATA_RECV, _forward("_on_data_recv")),
        (evt.EVT_DIMSE_SENT, _forward("_on_dimse_sent")),
        (evt.EVT_DIMSE_RECV, _forward("_on_dimse_recv")),
        (evt.EVT_ACSE_RECV, _forward("_on_acse_recv")),
        (evt.EVT_RELEASED, _forward("_on_released")),
        (evt.EVT_ABORTED, _forward("_on_aborted")),
        (evt.EVT_C_ECHO, on_c_echo),
        (evt.EVT_C_STORE, on_c_store if listener.storage else refuse_c_store,
         [store_settings]),
        (evt.EVT_C_FIND, on_c_find),
        (evt.EVT_C_MOVE, on_c_move, [retrieve_settings]),
        (evt.EVT_C_GET, on_c_get, [retrieve_settings]),
        (evt.EVT_N_CREATE, on_n_create, [listener.pk]),
        (evt.EVT_N_SET, mpps.on_n_set, [listener.pk]),
        (evt.EVT_N_ACTION, commitment.on_n_action, [listener.pk]),
        (evt.EVT_N_EVENT_REPORT, commitment_reports.on_n_event_report, [listener.pk]),
    ]
    if listener.storage and listener.accept_private_sop_classes:
        handlers.append((evt.EVT_REQUESTED, accept_private_storage,
                         [accepted_syntaxes(listener, ListenerService.STORAGE)]))
    server = cast(ListenerServer, ae.make_server(
        (listener.bind_address, listener.port), evt_handlers=handlers,
        server_class=ListenerServer, request_handler=RecordingRequestHandler))
    server.listener_id = listener.pk
    server.tls_context = tls_context
    ae._servers.append(server)  # as AE.start_server does; shutdown() removes it
    thread = threading.Thread(target=server.serve_forever, name=f"listener-{listener.pk}",
                              daemon=True)
    thread.start()
    return RunningListener(listener.pk, server, thread, timezone.now(), ae)
