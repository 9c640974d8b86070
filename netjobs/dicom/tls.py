"""TLS client contexts for associations with remote AEs (PS3.15 Annex B)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from netjobs.models import ApplicationEntity


def resolve_tls_file(path: str) -> Path:
    """``path`` resolved, and refused unless it lies under one of TLS_FILE_ROOTS."""
    resolved = Path(path).expanduser().resolve()
    roots: list[Path] = list(settings.TLS_FILE_ROOTS)
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise ValidationError(
            f"{path} is outside the folders allowed for TLS files ({allowed}).", code="tls_root"
        )
    if not resolved.is_file():
        raise ValidationError(f"{path} does not exist or is not a file.", code="tls_missing")
    return resolved


def client_context(ae: ApplicationEntity) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ae.tls_ca_file:
        context.load_verify_locations(cafile=str(resolve_tls_file(ae.tls_ca_file)))
    if ae.tls_cert_file:
        key = resolve_tls_file(ae.tls_key_file) if ae.tls_key_file else None
        context.load_cert_chain(
            str(resolve_tls_file(ae.tls_cert_file)), None if key is None else str(key)
        )
    if not ae.tls_verify_peer:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
