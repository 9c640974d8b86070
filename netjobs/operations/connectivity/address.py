"""Where remote AEs reach the console: its AE title, host and port, as an operator copies
them into a remote AE's configuration."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from netjobs.models import AEKind, ApplicationEntity, Listener, ListenerStatus

WILDCARD_ADDRESSES = {"0.0.0.0", "::", ""}


# --- where the console can be reached -----------------------------------------------------
@dataclass(frozen=True)
class ConsoleAddress:
    ae_title: str
    host: str
    port: int | None
    source: str

    def __str__(self) -> str:
        if self.port is None:
            return (f"AE title {self.ae_title}, host {self.host}, and the port of a listener "
                    "(none is running: start one first)")
        return f"AE title {self.ae_title}, host {self.host}, port {self.port}"


def _reachable_host(bind_address: str, ae_title: str) -> str:
    if bind_address not in WILDCARD_ADDRESSES:
        return bind_address
    local = ApplicationEntity.objects.filter(kind=AEKind.LOCAL, ae_title=ae_title).first()
    return local.host if local is not None else socket.getfqdn()


def console_address(calling: str) -> ConsoleAddress:
    """The AE a remote AE should know for the console: the first running listener that
    receives C-STORE (where moved instances arrive), else the local AE record of the calling
    AE title, else that title with no address."""
    listener = Listener.objects.filter(status=ListenerStatus.RUNNING, storage=True) \
        .order_by("pk").first()
    if listener is not None:
        return ConsoleAddress(listener.ae_title,
                              _reachable_host(listener.bind_address, listener.ae_title),
                              listener.port, f"listener '{listener.name}'")
    local = ApplicationEntity.objects.filter(kind=AEKind.LOCAL, ae_title=calling).first() or \
        ApplicationEntity.objects.filter(kind=AEKind.LOCAL).order_by("pk").first()
    if local is not None:
        return ConsoleAddress(local.ae_title, local.host, local.port, "local AE record")
    return ConsoleAddress(calling, socket.getfqdn(), None,
                          "calling AE title (no listener runs, no local AE is recorded)")


def remote_configuration(remote: ApplicationEntity, console: ConsoleAddress) -> str:
    return (f"On {remote.ae_title}, add the console as a DICOM node: {console}. The console "
            f"receives C-MOVE results and storage commitment reports there (from the "
            f"{console.source}).")
