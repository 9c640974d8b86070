"""HTTP to a DICOMweb endpoint: one requests session per job, with the endpoint's
authentication, TLS policy and timeouts, and failures said in words an operator can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import HTTPBasicAuth

from netjobs.jobs.base import JobFailed
from netjobs.models import DicomwebEndpoint, EndpointAuth

logger = logging.getLogger(__name__)

USER_AGENT = "dicom-console"
DICOM_JSON = "application/dicom+json"
MAX_ERROR_TEXT = 300

_REDIRECT = ("the server redirects elsewhere (to a login page?): is the base URL the "
             "DICOMweb service root?")
_HINTS = {
    301: _REDIRECT, 302: _REDIRECT, 303: _REDIRECT, 307: _REDIRECT, 308: _REDIRECT,
    401: "the endpoint's credentials were not accepted (check its authentication)",
    403: "the endpoint's account may not do this",
    404: "no such resource (is the base URL right, and is the object there?)",
    406: "the server cannot answer in the media type or transfer syntax asked",
    413: "the request is larger than the server takes (lower the batch size)",
    415: "the server does not take this content type",
    429: "the server asks to slow down",
    501: "the server does not implement this DICOMweb service",
    503: "the server is unavailable for now",
}


class EndpointError(JobFailed):
    """The endpoint could not be reached (``status`` None) or answered ``status``; the
    message says why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def http_reason(response: requests.Response) -> str:
    """'404 Not Found: <the server's text>, which means …'."""
    text = ""
    content_type = response.headers.get("Content-Type", "")
    if "text" in content_type or "json" in content_type or "xml" in content_type:
        text = " ".join(response.text.split())[:MAX_ERROR_TEXT]
    reason = f"{response.status_code} {response.reason}"
    if response.headers.get("Location"):
        reason += f" to {response.headers['Location'][:MAX_ERROR_TEXT]}"
    if text:
        reason += f": {text}"
    if response.headers.get("Warning"):
        reason += f" (Warning: {response.headers['Warning'][:MAX_ERROR_TEXT]})"
    hint = _HINTS.get(response.status_code)
    return f"{reason} — {hint}" if hint else reason


def connection_reason(exc: requests.RequestException, url: str) -> str:
    where = urlsplit(url).netloc
    if isinstance(exc, requests.exceptions.SSLError):
        return (f"TLS with {where} failed: {exc.args[0] if exc.args else exc} (is the "
                "certificate trusted? see the endpoint's TLS settings)")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection to {where} within the connection timeout"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"{where} sent nothing within the read timeout"
    if isinstance(exc, requests.exceptions.ConnectionError):
        inner = str(exc)
        if "Connection refused" in inner:
            return f"{where} refused the connection (nothing listens on that port?)"
        if "Name or service not known" in inner or "Failed to resolve" in inner:
            return f"the host of {where} cannot be resolved"
        return f"the connection to {where} failed: {inner[:MAX_ERROR_TEXT]}"
    return f"the request to {where} failed: {exc}"


@dataclass
class Connection:
    """An endpoint with an open session; ``url()`` joins paths to its base URL."""

    endpoint: DicomwebEndpoint
    session: requests.Session

    @property
    def timeout(self) -> tuple[int, int]:
        return (self.endpoint.connect_timeout, self.endpoint.read_timeout)

    def url(self, path: str) -> str:
        return f"{self.endpoint.root}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, accept: str, ok: tuple[int, ...] = (200,),
                **kwargs: Any) -> requests.Response:
        """The response when its status is in ``ok``; EndpointError otherwise."""
        url = path if path.startswith(("http://", "https://")) else self.url(path)
        headers = {"Accept": accept, **kwargs.pop("headers", {})}
        try:
            response = self.session.request(method, url, headers=headers,
                                            timeout=self.timeout, allow_redirects=False,
                                            **kwargs)
        except requests.RequestException as exc:
            raise EndpointError(connection_reason(exc, url)) from exc
        if response.status_code not in ok:
            reason = http_reason(response)
            response.close()
            raise EndpointError(f"{method} {url}: {reason}", response.status_code)
        return response

    def close(self) -> None:
        self.session.close()


def connect(endpoint: DicomwebEndpoint) -> Connection:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False  # no proxies or netrc from the worker's environment
    if endpoint.auth == EndpointAuth.BASIC:
        session.auth = HTTPBasicAuth(endpoint.username, endpoint.password)
    elif endpoint.auth == EndpointAuth.BEARER:
        session.headers["Authorization"] = f"Bearer {endpoint.token}"
    if endpoint.base_url.startswith("https://"):
        if not endpoint.verify_tls:
            session.verify = False
        elif endpoint.tls_ca_file:
            from netjobs.dicom.tls import resolve_tls_file

            session.verify = str(resolve_tls_file(endpoint.tls_ca_file))
    return Connection(endpoint, session)


def endpoint_or_fail(endpoint_id: int) -> DicomwebEndpoint:
    found = DicomwebEndpoint.objects.filter(pk=endpoint_id).first()
    if found is None:
        raise JobFailed(f"The DICOMweb endpoint #{endpoint_id} no longer exists.")
    return found


def endpoint_exists(value: int) -> int:
    """A pydantic validator: the ID of an existing endpoint."""
    if not DicomwebEndpoint.objects.filter(pk=value).exists():
        raise ValueError(f"no DICOMweb endpoint with ID {value}")
    return value


def search_pages(conn: Connection, path: str, params: dict[str, list[str]], *,
                 limit: int, page: int = 100) -> Iterator[dict[str, Any]]:
    """QIDO-RS matches, up to ``limit``, asked for ``page`` at a time with limit/offset; a
    server that ignores them (all matches in one answer) is read once."""
    offset = 0
    while offset < limit:
        asked = min(page, limit - offset)
        query = {**params, "limit": [str(asked)], "offset": [str(offset)]}
        response = conn.request("GET", path, accept=DICOM_JSON, ok=(200, 204), params=query)
        matches = response.json() if response.status_code == 200 and response.content else []
        if not isinstance(matches, list):
            raise EndpointError(f"GET {response.url}: the answer is not a DICOM JSON array")
        yield from matches[:limit - offset]
        if len(matches) < asked or len(matches) > asked:  # the last page, or paging ignored
            return
        offset += len(matches)
