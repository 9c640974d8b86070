"""Multipart/related bodies of in-memory parts (frames, bulk data), streamed part by part."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    content_type: str
    location: str
    data: bytes


def body(parts: Iterator[Part], boundary: str, what: str) -> Iterator[bytes]:
    """Each part as it is made. A failure while making one (a decoder error, a file gone)
    is logged and ends the body without its closing boundary, so a client sees a broken
    response, never a short one that looks whole."""
    while True:
        try:
            part = next(parts, None)
        except Exception:
            logger.exception("WADO-RS: %s could not be sent; the response is cut", what)
            return
        if part is None:
            break
        yield (f"--{boundary}\r\nContent-Type: {part.content_type}\r\n"
               f"Content-Location: {part.location}\r\n\r\n").encode()
        yield part.data
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()
