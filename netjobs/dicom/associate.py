"""Opening an association to a remote AE as a recorded, TCP_NODELAY, optionally TLS session.

Every SCU operation of the console goes through ``requested_association``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.pdu_primitives import UserIdentityNegotiation

from netjobs.dicom.explain import Peer
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.sockets import ConsoleAE
from netjobs.dicom.tls import client_context
from netjobs.models import ApplicationEntity, Association, AssociationRole, Job


class AssociationFailed(Exception):
    """No association: connection failed, or the peer rejected or aborted it."""

    def __init__(self, record: Association) -> None:
        self.record = record
        what = record.get_outcome_display()
        super().__init__(f"{what}: {record.explanation}" if record.explanation else what)


class TlsSetupFailed(Exception):
    pass


@contextmanager
def requested_association(
    *,
    remote: ApplicationEntity,
    calling_ae_title: str,
    contexts: Sequence[tuple[str, Sequence[str]]],
    job: Job | None = None,
    ext_neg: list[Any] | None = None,
    evt_handlers: Sequence[tuple[Any, Any]] = (),
) -> Iterator[tuple[PynetdicomAssociation, AssociationRecorder]]:
    """Associate with ``remote`` proposing ``contexts`` (abstract syntax, transfer syntaxes).

    Yields the established association and its recorder; releases it on normal exit and
    aborts it if the body raises. Raises AssociationFailed if it cannot be established.
    """
    tls_args: tuple[ssl.SSLContext, str] | None = None
    if remote.tls_enabled:
        try:
            tls_args = (client_context(remote), remote.host)
        except (ValidationError, ssl.SSLError, OSError) as exc:
            detail = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise TlsSetupFailed(f"TLS settings of {remote} are unusable: {detail}") from exc

    ext_neg = [*(ext_neg or []), *user_identity(remote)]
    ae = ConsoleAE(ae_title=calling_ae_title)
    ae.connection_timeout = remote.connect_timeout
    ae.acse_timeout = remote.acse_timeout
    ae.dimse_timeout = remote.dimse_timeout
    ae.network_timeout = remote.network_timeout
    ae.maximum_pdu_size = remote.max_pdu
    for abstract_syntax, transfer_syntaxes in contexts:
        ae.add_requested_context(abstract_syntax, list(transfer_syntaxes))

    recorder = AssociationRecorder(
        job=job,
        role=AssociationRole.REQUESTOR,
        peer=Peer(calling_ae_title, remote.ae_title, remote.host, remote.port),
        local_max_pdu=remote.max_pdu,
        tls=None if tls_args is None else tls_args[0],
        timeout_for_probe=min(remote.connect_timeout, 5),
        acse_timeout=remote.acse_timeout,
    )
    assoc = ae.associate(
        remote.host,
        remote.port,
        ae_title=remote.ae_title,
        max_pdu=remote.max_pdu,
        ext_neg=ext_neg,
        tls_args=tls_args,
        evt_handlers=[*recorder.handlers, *evt_handlers],
    )
    try:
        recorder.negotiated(assoc)
        if not assoc.is_established:
            _wait_for_end(assoc)
            raise AssociationFailed(recorder.finish())
        try:
            yield assoc, recorder
        except BaseException as exc:
            if assoc.is_established:
                recorder.note_local_abort(f"The console aborted: {type(exc).__name__}: {exc}")
                assoc.abort()
            raise
        else:
            if assoc.is_established:
                assoc.release()
        finally:
            _wait_for_end(assoc)
            recorder.finish()
    finally:
        ae.shutdown()


def user_identity(remote: ApplicationEntity) -> list[Any]:
    """The User Identity Negotiation item for the AE's username (and password), if any."""
    if not remote.identity_username:
        return []
    item = UserIdentityNegotiation()
    item.user_identity_type = 2 if remote.identity_password else 1  # PS3.7 Table D.3-14
    item.primary_field = remote.identity_username.encode()
    if remote.identity_password:
        item.secondary_field = remote.identity_password.encode()
    item.positive_response_requested = False
    return [item]


def _wait_for_end(assoc: PynetdicomAssociation) -> None:
    """Let the association thread deliver its last events before the record is written."""
    if assoc.is_alive():
        assoc.join(timeout=5)
