"""A multipart/related request body (RFC 2387, RFC 2046) read as a stream: each part goes,
as it arrives, to a durable temporary file in the storage root's incoming area (never the
whole body in memory), with the byte limits checked while reading. A body that is
malformed, truncated or too large is refused with the reason and leaves no file behind."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

from archive.storage import WrittenFile, incoming_path

CHUNK = 256 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_BOUNDARY_LINE = 1024


class Refused(Exception):
    """The whole request is refused with ``status``; the message says why."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Limits:
    total: int  # bytes in the whole body
    part: int  # bytes in any one part


def media_type(value: str) -> tuple[str, dict[str, str]]:
    """A Content-Type value as its lower-case type and its (unquoted) parameters."""
    message = Message()
    message["Content-Type"] = value
    params = message.get_params(header="content-type") or [("", "")]
    found = {str(name).lower(): str(v) for name, v in params[1:]}
    return str(params[0][0]).strip().lower(), found


@dataclass(frozen=True)
class Part:
    number: int  # 1-based, in the order of the body
    headers: dict[str, str]  # names lower case
    path: Path
    written: WrittenFile

    @property
    def media_type(self) -> str:
        return media_type(self.headers.get("content-type", ""))[0]

    def parameter(self, name: str) -> str:
        return media_type(self.headers.get("content-type", ""))[1].get(name, "")


class _Scanner:
    """The body's bytes with a small look-ahead buffer, counted against the limits."""

    def __init__(self, read: Callable[[int], bytes], boundary: str, limits: Limits) -> None:
        self._read, self.limits, self.boundary = read, limits, boundary
        self.delimiter = b"\r\n--" + boundary.encode("ascii")
        self.buffer = bytearray(b"\r\n")  # a first delimiter at byte 0 is then like the rest
        self.received = 0
        self.eof = False

    def fill(self) -> bool:
        """Read the next chunk into the buffer; False at the end of the body."""
        if self.eof:
            return False
        try:
            chunk = self._read(CHUNK)
        except OSError as exc:  # the client went away, the server's stream broke
            raise Refused(HTTPStatus.BAD_REQUEST,
                          f"the request body could not be read to its end ({exc})") from exc
        self.received += len(chunk)
        if self.received > self.limits.total:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"the request body is larger than DICOMWEB_STOW_MAX_BYTES "
                          f"({self.limits.total} bytes)")
        self.eof = not chunk
        self.buffer += chunk
        return bool(chunk)

    def skip_preamble(self) -> None:
        while (at := self.buffer.find(self.delimiter)) < 0:
            del self.buffer[:max(0, len(self.buffer) - len(self.delimiter) + 1)]
            if not self.fill():
                if self.received == 0:
                    raise Refused(HTTPStatus.BAD_REQUEST, "the request body is empty")
                raise Refused(HTTPStatus.BAD_REQUEST,
                              f"no part starts with the boundary {self.boundary!r} given in "
                              f"the Content-Type")
        del self.buffer[:at + len(self.delimiter)]

    def next_part(self) -> bool:
        """After a delimiter: True when a part follows, False at the closing one."""
        while len(self.buffer) < 2 or (self.buffer[:2] != b"--" and b"\r\n" not in self.buffer):
            if len(self.buffer) > MAX_BOUNDARY_LINE or not self.fill():
                raise Refused(HTTPStatus.BAD_REQUEST, "truncated or malformed: a boundary is "
                              "followed by neither a line end nor the closing '--'")
        if self.buffer[:2] == b"--":
            return False
        end = self.buffer.find(b"\r\n")
        if bytes(self.buffer[:end]).strip(b" \t"):  # only transport padding may follow
            raise Refused(HTTPStatus.BAD_REQUEST,
                          "malformed: text follows a boundary on its line")
        del self.buffer[:end + 2]
        return True

    def headers(self, number: int) -> dict[str, str]:
        while self.buffer[:2] != b"\r\n" and (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if len(self.buffer) > MAX_HEADER_BYTES or not self.fill():
                raise Refused(HTTPStatus.BAD_REQUEST,
                              f"truncated or malformed: the headers of part {number} do not "
                              f"end")
        if self.buffer[:2] == b"\r\n":
            del self.buffer[:2]
            return {}
        block = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[:end + 4]
        found = {}
        for line in block.split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                raise Refused(HTTPStatus.BAD_REQUEST,
                              f"malformed header line in part {number}: {line[:80]!r}")
            found[name.strip().lower()] = value.strip()
        return found

    def body(self, out: BinaryIO, number: int) -> WrittenFile:
        """The part's bytes up to the next delimiter, written to ``out``."""
        digest, size = hashlib.sha256(), 0
        while True:
            at = self.buffer.find(self.delimiter)
            take = at if at >= 0 else len(self.buffer) - len(self.delimiter) + 1
            if take > 0:
                data = bytes(self.buffer[:take])
                out.write(data)
                digest.update(data)
                size += take
                del self.buffer[:take]
            if size > self.limits.part:
                raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"part {number} is larger than DICOMWEB_STOW_MAX_PART_BYTES "
                              f"({self.limits.part} bytes)")
            if at >= 0:
                del self.buffer[:len(self.delimiter)]
                return WrittenFile(size=size, sha256=digest.hexdigest())
            if not self.fill():
                raise Refused(HTTPStatus.BAD_REQUEST,
                              f"truncated: the body ends inside part {number}, before the "
                              f"closing boundary")


def discard(parts: list[Part]) -> None:
    for part in parts:
        part.path.unlink(missing_ok=True)


def iter_parts(read: Callable[[int], bytes], boundary: str, limits: Limits) -> Iterator[Part]:
    """Each part of the body as soon as it is in its durable (fsynced) temporary file, which
    is the caller's from then on (a WADO-RS response stored part by part). Raises Refused for
    a body malformed, truncated or over the limits; a part not yet handed over is removed."""
    scanner = _Scanner(read, boundary, limits)
    scanner.skip_preamble()
    number = 0
    while scanner.next_part():
        number += 1
        headers = scanner.headers(number)
        path = incoming_path()
        try:
            with open(path, "wb") as out:
                written = scanner.body(out, number)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        yield Part(number, headers, path, written)
    if not number:
        raise Refused(HTTPStatus.BAD_REQUEST, "the multipart body has no parts")


def read_parts(read: Callable[[int], bytes], boundary: str, limits: Limits) -> list[Part]:
    """Every part of the body, each in a durable temporary file. Raises Refused, leaving no
    temporary file, for a body malformed, truncated or over the limits."""
    parts: list[Part] = []
    try:
        for part in iter_parts(read, boundary, limits):
            parts.append(part)
    except BaseException:
        discard(parts)
        raise
    return parts
