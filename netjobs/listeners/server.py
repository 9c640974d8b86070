"""Starting and stopping one listener: a pynetdicom server in threads of this process."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from pydicom.uid import AllTransferSyntaxes
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from archive.models import DuplicatePolicy
from netjobs.dicom.explain import Peer
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.sockets import set_tcp_nodelay
from netjobs.listeners.handlers import StoreSettings, on_c_echo, on_c_find, on_c_store
from netjobs.models import AEKind, ApplicationEntity, AssociationRole, CallingPolicy, Listener


class NoDelayServer(ThreadedAssociationServer):
    """Sets TCP_NODELAY on every accepted connection (PS3.8 traffic is request/response)."""

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        sock, address = super().get_request()
        with contextlib.suppress(OSError):
            set_tcp_nodelay(sock)
        return sock, address


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


# --- inbound association records: one recorder per association, kept on it -----------------
def _recorder(event: Any) -> AssociationRecorder | None:
    return getattr(event.assoc, "_console_recorder", None)


def _on_open(event: Any, listener_id: int, ae_title: str) -> None:
    host, port = event.address[0], int(event.address[1])
    event.assoc._console_recorder = AssociationRecorder(
        job=None, role=AssociationRole.ACCEPTOR, peer=Peer("", ae_title, host, port),
        local_max_pdu=None, tls=None, listener_id=listener_id,
    )
    event.assoc._console_recorder._on_conn_open(event)


def _on_requested(event: Any) -> None:
    recorder = _recorder(event)
    if recorder is not None:
        requestor = event.assoc.requestor
        recorder.record.calling_ae_title = requestor.ae_title
        recorder.record.called_ae_title = event.assoc.acceptor.ae_title or requestor.address
        recorder.record.peer_max_pdu = requestor.maximum_length
        recorder.record.peer_implementation_class_uid = str(
            requestor.implementation_class_uid or "")
        recorder.record.peer_implementation_version_name = (
            requestor.implementation_version_name or "")


def _on_negotiated(event: Any) -> None:
    recorder = _recorder(event)
    if recorder is not None:
        recorder.negotiated(event.assoc)


def _on_rejected(event: Any) -> None:
    """pynetdicom kills a rejected association without EVT_CONN_CLOSE: finish it here."""
    _on_negotiated(event)
    _on_close(event)


def _forward(name: str) -> Any:
    def handler(event: Any) -> None:
        recorder = _recorder(event)
        if recorder is not None:
            getattr(recorder, name)(event)
    return handler


def _on_close(event: Any) -> None:
    recorder = _recorder(event)
    try:
        if recorder is not None:
            recorder.finish()
    finally:
        connection.close()


def start(listener: Listener) -> RunningListener:
    """Bind and serve; raises OSError when the address cannot be bound."""
    ae = build_ae(listener)
    settings = StoreSettings(listener.pk, DuplicatePolicy(listener.duplicate_policy))
    handlers: list[Any] = [
        (evt.EVT_CONN_OPEN, _on_open, [listener.pk, listener.ae_title]),
        (evt.EVT_REQUESTED, _on_requested),
        (evt.EVT_ACCEPTED, _on_negotiated),
        (evt.EVT_REJECTED, _on_rejected),
        (evt.EVT_DATA_SENT, _forward("_on_data_sent")),
        (evt.EVT_DATA_RECV, _forward("_on_data_recv")),
        (evt.EVT_DIMSE_SENT, _forward("_on_dimse_sent")),
        (evt.EVT_DIMSE_RECV, _forward("_on_dimse_recv")),
        (evt.EVT_ACSE_RECV, _forward("_on_acse_recv")),
        (evt.EVT_RELEASED, _forward("_on_released")),
        (evt.EVT_ABORTED, _forward("_on_aborted")),
        (evt.EVT_CONN_CLOSE, _on_close),
        (evt.EVT_C_ECHO, on_c_echo),
        (evt.EVT_C_STORE, on_c_store, [settings]),
        (evt.EVT_C_FIND, on_c_find),
    ]
    server = ae.make_server((listener.bind_address, listener.port), evt_handlers=handlers,
                            server_class=NoDelayServer)
    ae._servers.append(server)  # as AE.start_server does; shutdown() removes it
    thread = threading.Thread(target=server.serve_forever, name=f"listener-{listener.pk}",
                              daemon=True)
    thread.start()
    return RunningListener(listener.pk, server, thread, timezone.now(), ae)
