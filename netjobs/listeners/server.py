"""Starting and stopping one listener: a pynetdicom server in threads of this process."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import connection
from django.utils import timezone
from pydicom.uid import AllTransferSyntaxes
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from archive.models import DuplicatePolicy
from netjobs.dicom.explain import Peer
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.sockets import set_tcp_nodelay
from netjobs.listeners.handlers import StoreSettings, on_c_echo, on_c_find, on_c_store
from netjobs.models import AEKind, ApplicationEntity, AssociationRole, CallingPolicy, Listener

logger = logging.getLogger(__name__)


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
    ae = AE(ae_title=listener.ae_title)
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
    syntaxes = list(AllTransferSyntaxes)
    if listener.verification:
        ae.add_supported_context(Verification, syntaxes)
    if listener.query_retrieve:
        for model in (PatientRootQueryRetrieveInformationModelFind,
                      StudyRootQueryRetrieveInformationModelFind):
            ae.add_supported_context(model, syntaxes)
    if listener.storage:
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, syntaxes)
    return ae


# --- inbound association records ---------------------------------------------------------
# One recorder per association. The request thread that accepted the connection creates it,
# waits for the association thread to end and then writes the outcome, so the record is
# finished exactly once, after every event, whatever order pynetdicom's threads ran in.
def _recorder(event: Any) -> AssociationRecorder | None:
    return getattr(event.assoc, "_console_recorder", None)


def _on_established(event: Any) -> None:
    recorder = _recorder(event)
    if recorder is not None:  # the negotiation shows while the association runs
        recorder.negotiated(event.assoc)


def _forward(name: str) -> Any:
    def handler(event: Any) -> None:
        recorder = _recorder(event)
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


class RecordingRequestHandler(RequestHandler):
    """pynetdicom's handler, plus an association record for every connection."""

    server: ListenerServer

    def handle(self) -> None:
        assoc = self._create_association()
        try:
            host, port = str(self.client_address[0]), int(self.client_address[1])
            recorder = AssociationRecorder(
                job=None, role=AssociationRole.ACCEPTOR,
                peer=Peer("", self.server.ae_title, host, port), local_max_pdu=None, tls=None,
                listener_id=self.server.listener_id,
            )
            assoc._console_recorder = recorder  # type: ignore[attr-defined]
            recorder.connection_opened(getattr(assoc.dul.socket, "socket", None))
            evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
            assoc.run = _closing_database_connection(assoc.run)  # type: ignore[method-assign]
            assoc.start()
            assoc.join()
            assoc.dul.join(timeout=5)  # its last events (bytes, close) are in
            if not recorder.has_negotiation:  # rejected, or no context accepted
                recorder.negotiated(assoc)
            recorder.finish()
        except Exception:
            logger.exception("listener %s: association from %s", self.server.listener_id,
                             self.client_address)
        finally:
            connection.close()


class ListenerServer(ThreadedAssociationServer):
    """Sets TCP_NODELAY on every accepted connection (PS3.8 traffic is request/response) and
    records every association."""

    daemon_threads = True
    listener_id: int

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        sock, address = super().get_request()
        with contextlib.suppress(OSError):
            set_tcp_nodelay(sock)
        return sock, address


def start(listener: Listener) -> RunningListener:
    """Bind and serve; raises OSError when the address cannot be bound."""
    ae = build_ae(listener)
    settings = StoreSettings(listener.pk, DuplicatePolicy(listener.duplicate_policy))
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
        (evt.EVT_C_STORE, on_c_store, [settings]),
        (evt.EVT_C_FIND, on_c_find),
    ]
    server = cast(ListenerServer, ae.make_server(
        (listener.bind_address, listener.port), evt_handlers=handlers,
        server_class=ListenerServer, request_handler=RecordingRequestHandler))
    server.listener_id = listener.pk
    ae._servers.append(server)  # as AE.start_server does; shutdown() removes it
    thread = threading.Thread(target=server.serve_forever, name=f"listener-{listener.pk}",
                              daemon=True)
    thread.start()
    return RunningListener(listener.pk, server, thread, timezone.now(), ae)
