"""Validators for DICOM network configuration values."""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError

AE_TITLE_MAX_LENGTH = 16
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def normalize_ae_title(value: str) -> str:
    """Leading and trailing spaces are not significant in an AE title (PS3.5 6.2)."""
    return value.strip(" ")


def validate_ae_title(value: str) -> None:
    """PS3.5 Table 6.2-1, VR AE: 1-16 characters of the default repertoire, no backslash,
    no control characters, not all spaces."""
    title = normalize_ae_title(value)
    if not title:
        raise ValidationError("An AE title cannot be empty or all spaces.", code="ae_empty")
    if len(title) > AE_TITLE_MAX_LENGTH:
        raise ValidationError(
            "An AE title has at most 16 characters (this one has %(n)d).",
            code="ae_length",
            params={"n": len(title)},
        )
    if "\\" in title:
        raise ValidationError("An AE title cannot contain a backslash.", code="ae_backslash")
    for char in title:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise ValidationError(
                "An AE title cannot contain control characters.", code="ae_control"
            )
        if ord(char) > 0x7E:
            raise ValidationError(
                "An AE title uses only the DICOM default character repertoire (ASCII); "
                "%(char)r is not in it.",
                code="ae_charset",
                params={"char": char},
            )


def validate_host(value: str) -> None:
    """An IPv4/IPv6 address or an RFC 1123 host name."""
    host = value.strip()
    if "\x00" in host:
        raise ValidationError("A host name cannot contain NUL characters.", code="host_invalid")
    if not host:
        raise ValidationError("Enter a host name or an IP address.", code="host_empty")
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValidationError(
            "%(host)s is neither an IP address nor a valid host name.",
            code="host_invalid",
            params={"host": host},
        )
