"""Plain-language explanations of association failures: the likely cause and the fix.

Pure functions over the values the protocol gives, so each wording can be tested directly.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from netjobs.models.associations import ContextResult, uid_name

# A-ASSOCIATE-RJ (PS3.8 Table 9-21): result source and diagnostic values.
SOURCE_SERVICE_USER = 1
SOURCE_ACSE_PROVIDER = 2
SOURCE_PRESENTATION_PROVIDER = 3
RESULT_REJECTED_TRANSIENT = 2


@dataclass(frozen=True)
class Peer:
    calling_ae_title: str
    called_ae_title: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


_RESULTS = {1: "Rejected (permanent)", 2: "Rejected (transient)"}
_SOURCES = {
    1: "service user",
    2: "service provider (ACSE)",
    3: "service provider (presentation)",
}
_REASONS = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognised",
    (1, 7): "called AE title not recognised",
    (2, 1): "no reason given",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded",
}


def describe_rejection(result: int, source: int, reason: int) -> str:
    """A-ASSOCIATE-RJ fields in words, PS3.8 Table 9-21."""
    return "; ".join(
        (
            _RESULTS.get(result, f"result {result}"),
            f"source: {_SOURCES.get(source, source)}",
            f"reason: {_REASONS.get((source, reason), reason)}",
        )
    )


def explain_rejection(
    peer: Peer, result: int | None, source: int | None, reason: int | None
) -> str:
    transient = (
        " The rejection is transient: the same request may succeed later."
        if result == RESULT_REJECTED_TRANSIENT
        else ""
    )
    if source == SOURCE_SERVICE_USER:
        if reason == 7:
            text = (
                f"The peer at {peer.address} does not accept the called AE title "
                f"{peer.called_ae_title!r}. Set this AE's title to exactly the AE title the "
                "peer is configured with (AE titles are case-sensitive)."
            )
        elif reason == 3:
            text = (
                f"The peer does not recognise the calling AE title {peer.calling_ae_title!r}. "
                f"Add {peer.calling_ae_title!r} with this console's host and port to the "
                "peer's list of known AEs, or call it with an AE title it already knows."
            )
        elif reason == 2:
            text = (
                "The peer does not support the DICOM application context name; it may not "
                "be a DICOM application at all."
            )
        else:
            text = (
                f"The peer at {peer.address} refused the association without giving a reason. "
                f"Archives often do this when the calling AE title {peer.calling_ae_title!r} "
                "is not configured on their side, or the called AE title "
                f"{peer.called_ae_title!r} is wrong: check both in the peer's configuration."
            )
    elif source == SOURCE_ACSE_PROVIDER:
        text = (
            "The peer's DICOM stack does not support the protocol version this console uses."
            if reason == 2
            else "The peer's DICOM stack (ACSE) refused the association without a reason."
        )
    elif source == SOURCE_PRESENTATION_PROVIDER:
        if reason == 1:
            text = (
                "The peer is congested (too many associations at once). Retry later, or "
                "raise the number of associations it allows."
            )
        elif reason == 2:
            text = (
                "The peer hit a local limit (for example its maximum number of associations). "
                "Retry later, or raise that limit on the peer."
            )
        else:
            text = "The peer's network layer refused the association."
    else:
        text = "The peer refused the association."
    return text + transient


def explain_inbound_rejection(calling: str, called: str, reason: int | None) -> str:
    """Why one of the console's listeners rejected a peer."""
    if reason == 7:
        return (f"The peer called AE title {called!r}, which is not this listener's. The "
                "sender must use the listener's AE title (or the listener must not require "
                "a match).")
    if reason == 3:
        return (f"The calling AE title {calling!r} is not a configured remote AE, and this "
                "listener accepts only those: add it on the Application Entities page.")
    if reason == 2:
        return "The listener is at its maximum number of associations; the peer may retry."
    return "The listener refused the association."


def explain_connection_failure(
    host: str, port: int, timeout: float, tls: ssl.SSLContext | None = None
) -> str:
    """Why no association could start, found by one bounded probe connection (with the
    same TLS handshake when the AE uses TLS)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if tls is not None:
                return _explain_tls_failure(sock, host, port, tls)
            return (
                f"The connection to {host}:{port} failed during set-up but the port answers "
                "now: the peer may have been restarting. Try again."
            )
    except socket.gaierror:
        return f"The host name {host!r} cannot be resolved. Check the host of this AE."
    except ConnectionRefusedError:
        return (
            f"Nothing is listening on {host}:{port} (connection refused). Check that the "
            "peer is running and that the port is right."
        )
    except TimeoutError:
        return (
            f"{host}:{port} did not answer within {timeout:g} s. The host may be down, or a "
            "firewall drops the connection."
        )
    except OSError as exc:
        if exc.errno in {errno.EHOSTUNREACH, errno.ENETUNREACH}:
            return f"{host} cannot be reached from this server (no route). Check the network."
        return f"Cannot connect to {host}:{port}: {exc.strerror or exc}."


def _explain_tls_failure(
    sock: socket.socket, host: str, port: int, context: ssl.SSLContext
) -> str:
    try:
        with context.wrap_socket(sock, server_hostname=host):
            return (
                f"The TLS handshake with {host}:{port} succeeds now; the peer may have been "
                "restarting. Try again."
            )
    except ssl.SSLCertVerificationError as exc:
        return (
            f"The TLS certificate of {host}:{port} is not trusted ({exc.verify_message}). "
            "Give this AE the CA certificate that signed the peer's certificate, or check "
            "that the host name matches the certificate."
        )
    except (ssl.SSLError, OSError) as exc:
        return (
            f"The TLS handshake with {host}:{port} failed ({exc}). The peer may not use TLS "
            "on this port, may require a client certificate, or may not accept this "
            "console's TLS versions."
        )


_A_P_ABORT_REASONS = {
    0: "reason not specified",
    1: "unrecognised PDU",
    2: "unexpected PDU",
    4: "unrecognised PDU parameter",
    5: "unexpected PDU parameter",
    6: "invalid PDU parameter value",
}


def explain_peer_abort(abort_source: int | None, provider_reason: int | None) -> str:
    if abort_source == 0:
        return (
            "The peer application aborted the association. Peers do this when they refuse a "
            "request outright or hit an internal error: the peer's log says which."
        )
    reason = _A_P_ABORT_REASONS.get(provider_reason or 0, f"reason {provider_reason}")
    return (
        f"The peer's DICOM stack aborted the association ({reason}). This usually means "
        "a protocol disagreement, such as a PDU larger than the peer accepts."
    )


def explain_connection_lost() -> str:
    return (
        "The connection closed without an association release. The peer may have crashed "
        "or timed out the association, or a firewall cut the connection."
    )


def explain_closed_before_request() -> str:
    return (
        "The peer opened a TCP connection and closed it without sending an association "
        "request (A-ASSOCIATE-RQ). Port probes and load-balancer health checks do this; a "
        "DICOM application that does it may be speaking TLS to a plain port (or plain DICOM "
        "to a TLS port), or gave up before its own request was ready."
    )


def explain_dimse_timeout(seconds: float) -> str:
    return (
        f"The peer sent no response within the DIMSE timeout ({seconds:g} s), so the console "
        "aborted the association. Raise the DIMSE timeout of this AE if the peer is slow."
    )


def explain_context_rejection(
    abstract_syntax: str, proposed: Sequence[str], result: int | None
) -> str:
    name = uid_name(abstract_syntax)
    if result == ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED:
        return f"The peer does not support {name}: enable this SOP class on the peer."
    if result == ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED:
        offered = ", ".join(uid_name(uid) for uid in proposed)
        return (
            f"No transfer syntax in common for {name}: the console proposed {offered}, and "
            "the peer accepts none of them."
        )
    if result == ContextResult.USER_REJECTION:
        return f"The peer refused {name} (user rejection): it may be disabled in its settings."
    if result == ContextResult.NO_REASON:
        return f"The peer refused {name} without giving a reason."
    return f"The peer gave no answer for {name}."
