"""Sockets of the console's DICOM connections: TCP_NODELAY on every one.

Without TCP_NODELAY every DIMSE exchange on loopback stalls about 40 ms on Nagle's algorithm
and delayed ACKs (500 C-STOREs: 18 s instead of 5 s). pynetdicom has no public hook for
socket options, so the AE hands out a socket subclass that sets it when created.
"""

from __future__ import annotations

import socket
from ssl import SSLContext

from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.transport import AddressInformation, AssociationSocket


def set_tcp_nodelay(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def has_tcp_nodelay(sock: socket.socket | None) -> bool | None:
    if sock is None:
        return None
    try:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    except OSError:
        return None


class NoDelayAssociationSocket(AssociationSocket):
    def _create_socket(self, address: AddressInformation) -> socket.socket:
        sock = super()._create_socket(address)
        set_tcp_nodelay(sock)
        return sock


class ConsoleAE(AE):
    """A pynetdicom AE whose requested associations use TCP_NODELAY sockets."""

    def _create_socket(
        self,
        assoc: Association,
        address: AddressInformation,
        tls_args: tuple[SSLContext, str] | None,
    ) -> AssociationSocket:
        sock = NoDelayAssociationSocket(assoc, address=address)
        sock.tls_args = tls_args
        return sock
