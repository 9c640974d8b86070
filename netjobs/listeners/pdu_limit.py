"""A bound on the PDU length a listener reads (PS3.8 9.3: the length is the peer's claim).

pynetdicom reads whatever length a PDU header declares, so a header claiming 2 GiB keeps
the association's thread reading (and its memory growing) as long as the peer sends or
waits. Here an association refuses a PDU longer than the bound: it sends an A-ABORT
(service provider, invalid PDU parameter value), notes why, and pynetdicom closes the
association as it does when a connection drops in the middle of a PDU."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from pynetdicom.pdu import A_ABORT_RQ

from netjobs.dicom.recorder import AssociationRecorder

logger = logging.getLogger(__name__)

# An A-ASSOCIATE-RQ is not bounded by the maximum PDU length (many presentation contexts,
# user identity): a little room beyond it for every association.
ASSOCIATION_PDU_ROOM = 1 << 20
UNLIMITED_BOUND = 1 << 30  # when the listener sets no maximum PDU length (0)
PROVIDER_SOURCE, INVALID_PDU_PARAMETER_VALUE = 0x02, 0x06


def pdu_bound(max_pdu: int) -> int:
    """The longest PDU body the listener reads, for its maximum PDU length."""
    return max(max_pdu, ASSOCIATION_PDU_ROOM) if max_pdu else UNLIMITED_BOUND


class PduTooLong(OSError):
    """Raised into pynetdicom's PDU reading, which treats it as the connection failing."""


def limit_pdu_length(assoc: Any, recorder: AssociationRecorder, bound: int) -> None:
    """Make the association refuse PDUs longer than ``bound`` bytes (after the header)."""
    transport = assoc.dul.socket
    read = transport.recv

    def bounded_recv(count: int) -> bytearray:
        if count <= bound:
            return bytearray(read(count))
        reason = (f"The peer announced a PDU of {count} bytes, more than the {bound} this "
                  "listener reads, so the console aborted the association.")
        logger.warning("listener association from %s:%s: %s", recorder.peer.host,
                       recorder.peer.port, reason)
        recorder.note_local_abort(reason)
        abort = A_ABORT_RQ()
        abort.source, abort.reason_diagnostic = PROVIDER_SOURCE, INVALID_PDU_PARAMETER_VALUE
        with contextlib.suppress(OSError):
            transport.socket.sendall(abort.encode())
        if not assoc.is_established:  # the acceptor waits for an A-ASSOCIATE-RQ: nothing
            assoc.dul.to_user_queue.put(None)  # is coming; it ends as at its ACSE timeout
        raise PduTooLong(reason)

    transport.recv = bounded_recv
