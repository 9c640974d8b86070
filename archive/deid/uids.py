"""Replacement UIDs (PS3.15 E.1-1 action U) that are the same for the same input UID within a
job and across jobs of one project: derived from the project's secret key, never stored.

A replacement is ``2.25.`` followed by the decimal form of a 128-bit UUID (PS3.5 B.2) whose
bits are an HMAC-SHA-256 of the original UID under the project key: anyone without the key
cannot tell the original from it, and a second delivery of the same patient gets the same
Study, Series and SOP Instance UIDs as the first.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

UUID_ROOT = "2.25"


def keyed_digest(project_key: bytes, purpose: str, value: str) -> bytes:
    """HMAC-SHA-256 of ``value`` for one ``purpose`` (UIDs, date offsets, pseudonyms), so the
    derived values of one input never coincide across purposes."""
    return hmac.new(project_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()


def replacement_uid(project_key: bytes, original: str) -> str:
    """The replacement of ``original`` (trailing padding ignored) under ``project_key``."""
    digest = keyed_digest(project_key, "uid", original.strip("\x00 "))
    # a name-based UUID: the variant and version bits set as RFC 9562 asks for version 5
    return f"{UUID_ROOT}.{uuid.UUID(bytes=digest[:16], version=5).int}"
