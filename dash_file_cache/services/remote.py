"""Remote items: an address that streams an http(s) resource through the server.

:meth:`ServiceData.register_request` stores a *description* of the request
(URL, request headers, fallback name), never its content, so a remote item
works with every cache. When its address is asked, :func:`answer_remote`
makes the request with urllib3 (blocking: the adapters call it off the event
loop), with bounded connect and read timeouts, and streams the answer in
chunks; nothing holds the whole resource in memory.

``Range`` and ``HEAD`` pass through. A remote that ignores ``Range`` (200
with a known length) is served correctly anyway: the bytes before the range
are skipped and the rest is cut, with a 206. Remote failures become the
service's JSON errors: 404/410 -> 404, other answers that are not 2xx -> 502,
unreachable -> 502, timed out -> 504.
"""

from __future__ import annotations

import io
import json
import logging
import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import ParseResult, unquote, urlsplit

from werkzeug.datastructures import ContentRange, Headers
from werkzeug.http import parse_content_range_header, parse_options_header

from .._grammar import MB, HeaderList, breaks_field
from . import http
from .source import sanitize_file_name

if TYPE_CHECKING:  # pragma: no cover
    import urllib3

# urllib3 is imported on first use: importing the package stays cheap and quiet.

__all__ = [
    "RemoteSpec",
    "RemoteStream",
    "Upstream",
    "answer_remote",
    "check_remote_url",
    "file_name_of",
]

_log = logging.getLogger(__name__)

#: Default ``(connect, read)`` timeouts in seconds for remote requests.
DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 60.0)
#: Response headers passed from the remote to the client.
_PASSED = ("Content-Encoding", "ETag", "Last-Modified")
_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip
_POOL: Optional[urllib3.PoolManager] = None
_UNKNOWN = 1 << 62  # span length of a body whose size the remote did not say


@dataclass(frozen=True)
class RemoteSpec:
    """What is stored for a remote item: how to ask for it."""

    url: str
    headers: Dict[str, str] = field(default_factory=dict)
    file_name_fallback: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"url": self.url, "headers": self.headers, "fallback": self.file_name_fallback}
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> RemoteSpec:
        obj = json.loads(raw.decode())
        return cls(str(obj["url"]), dict(obj["headers"]), str(obj["fallback"]))


def check_remote_url(url: Union[str, ParseResult]) -> str:
    """The URL of a remote item, as a string.

    Raises:
        TypeError: ``url`` is neither a ``str`` nor a ``urllib.parse.ParseResult``.
        ValueError: ``url`` is not an absolute ``http``/``https`` URL.
    """
    if isinstance(url, ParseResult):
        url = url.geturl()
    if not isinstance(url, str):
        raise TypeError(f"url must be a str or a ParseResult, got {type(url).__name__}.")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be an absolute http or https URL, got {url!r}.")
    if breaks_field(url):
        raise ValueError("url must not contain control characters.")
    return url


def check_remote_headers(headers: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """The request headers of a remote item, as a plain dict.

    Raises:
        TypeError: ``headers`` is not a mapping of ``str`` to ``str``.
        ValueError: a name or value holds a line break (header injection).
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping of str to str, got {type(headers).__name__}.")
    checked: Dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("headers must be a mapping of str to str.")
        if breaks_field(name) or breaks_field(value) or not name.strip():
            raise ValueError(f"headers has a malformed field: {name!r}.")
        checked[name.strip()] = value
    return checked


def file_name_of(content_disposition: Optional[str], url: str, fallback: str) -> str:
    """The saved name: the remote's ``Content-Disposition``, else the URL path, else
    ``fallback`` (else ``"download"``)."""
    if content_disposition:
        _, options = parse_options_header(content_disposition)
        name = sanitize_file_name(options.get("filename", ""))
        if name:
            return name
    base = posixpath.basename(unquote(urlsplit(url).path))
    name = sanitize_file_name(base)
    if name:
        return name
    return sanitize_file_name(fallback) or "download"


def _pool() -> urllib3.PoolManager:
    """One connection pool per process (made lazily, so it is never pickled)."""
    import urllib3

    global _POOL
    if _POOL is None:
        _POOL = urllib3.PoolManager(num_pools=16, maxsize=8)
    return _POOL


class RemoteStream(io.RawIOBase):
    """A remote body as a forward-only binary stream, for :class:`.content.FileChunks`.

    ``seek`` forward skips bytes (when the remote ignored ``Range``); ``close``
    closes the remote connection without reading the rest (an aborted client
    does not keep the upstream download going).
    """

    def __init__(self, response: urllib3.HTTPResponse, position: int = 0) -> None:
        super().__init__()
        self._response = response
        self._position = position

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or offset < self._position:
            raise io.UnsupportedOperation("a remote body only skips forward")
        while self._position < offset:
            if not self.read(min(offset - self._position, MB)):
                break
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: Optional[int] = -1) -> bytes:
        from urllib3.exceptions import HTTPError

        try:
            amount = None if size is None or size < 0 else size
            data = self._response.read(amount, decode_content=False)
        except (HTTPError, OSError) as exc:  # the remote stalled or broke off: end short
            _log.warning("dash-file-cache: remote body broke off: %s", exc)
            return b""
        self._position += len(data)
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._response.close()  # closes the connection too: no draining
            self._response.release_conn()
        super().close()


@dataclass
class Upstream:
    """The remote's answer: its status, headers and (for a GET) its open body."""

    status: int
    headers: Mapping[str, str]
    response: Optional[urllib3.HTTPResponse]

    def close(self) -> None:
        if self.response is not None:
            RemoteStream(self.response).close()


def fetch(
    spec: RemoteSpec, method: str, range_fields: Dict[str, str], timeout: Tuple[float, float]
) -> Union[Upstream, http.Decision]:
    """Ask the remote (blocking); the error :class:`~.http.Decision` when it cannot answer."""
    import urllib3
    from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

    headers = dict(spec.headers)
    if not any(name.lower() == "accept-encoding" for name in headers):
        headers["Accept-Encoding"] = "identity"  # lengths and ranges then count real bytes
    headers.update(range_fields)
    try:
        response = _pool().request(
            method,
            spec.url,
            headers=headers,
            preload_content=False,
            redirect=True,
            retries=urllib3.Retry(total=5, connect=0, read=0, status=0, other=0, redirect=5),
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
        )
    except (TimeoutError, HTTPError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        # NewConnectionError (refused, no route) subclasses ConnectTimeoutError in urllib3 1.x.
        timed_out = isinstance(reason, TimeoutError) and not isinstance(reason, NewConnectionError)
        if timed_out:
            return http.error(504, "The remote server did not answer in time.")
        _log.warning("dash-file-cache: remote %s unreachable: %s", spec.url, reason)
        return http.error(502, "The remote server cannot be reached.")
    return Upstream(response.status, response.headers, response)


def _remote_error(status: int) -> http.Decision:
    if status in (404, 410):
        return http.error(404, "The remote file does not exist.")
    return http.error(502, f"The remote server answered {status}.")


def _length(headers: Mapping[str, str]) -> Optional[int]:
    value = headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _span(
    request: http.Request, upstream: Upstream
) -> Union[Tuple[int, int, int, Optional[int]], http.Decision]:
    """``(status, start, length, size)`` of the body to send to the client.

    A 206 of the remote passes through; a 200 to a ``Range`` request is cut
    to the range here when its length is known (else sent whole: a server
    may ignore ``Range``).
    """
    length = _length(upstream.headers)
    if upstream.status == 206:
        parsed = parse_content_range_header(upstream.headers.get("Content-Range"))
        if parsed is None or parsed.start is None or parsed.stop is None:
            return http.error(502, "The remote server sent a malformed Content-Range.")
        return (206, parsed.start, parsed.stop - parsed.start, parsed.length)
    if length is None:
        return (200, 0, _UNKNOWN, None)
    range_fields = {
        name: value for name, value in http.conditional_fields(request).items()
        if name in ("Range", "If-Range")
    }  # fmt: skip
    if not range_fields or request.method != "GET":
        return (200, 0, length, length)
    etag = str(upstream.headers.get("ETag", "")).strip('"')
    status, start, span = http.plan(
        http.Request("GET", Headers(list(range_fields.items()))), length, etag, 0
    )
    if status == 416:
        return http.range_not_satisfiable(length)
    return (status, start, span, length)


def answer_remote(
    request: Optional[http.Request],
    spec: RemoteSpec,
    *,
    one_time: bool,
    download: bool,
    file_name: str,
    timeout: Tuple[float, float],
) -> Tuple[http.Decision, Optional[RemoteStream]]:
    """The decision for a remote item and, when bytes are to be sent, their stream.

    The caller claims a one-time item when ``decision.claim`` and closes the
    stream when done (also when the client went away).
    """
    method = "HEAD" if request is not None and request.is_head else "GET"
    wanted: Dict[str, str] = {}
    if request is not None and method == "GET":
        fields = http.conditional_fields(request)
        wanted = {k: v for k, v in fields.items() if k in ("Range", "If-Range")}
    upstream = fetch(spec, method, wanted, timeout)
    if isinstance(upstream, http.Decision):
        return upstream, None
    if method == "HEAD" and upstream.status in (405, 501):  # no HEAD there: headers of a GET
        upstream.close()
        upstream = fetch(spec, "GET", {}, timeout)
        if isinstance(upstream, http.Decision):
            return upstream, None
        method = "HEAD"
    if upstream.status == 416:
        upstream.close()
        return http.range_not_satisfiable(upstream.headers.get("Content-Range", "bytes */*")), None
    if not 200 <= upstream.status < 300 or upstream.status == 204:
        upstream.close()
        return _remote_error(upstream.status), None
    span = _span(request or http.Request("GET"), upstream)
    if isinstance(span, http.Decision):
        upstream.close()
        return span, None
    status, start, length, size = span
    name = file_name or file_name_of(
        upstream.headers.get("Content-Disposition"), spec.url, spec.file_name_fallback
    )
    headers: HeaderList = [
        *http.common_headers(one_time),
        ("Content-Type", upstream.headers.get("Content-Type") or "application/octet-stream"),
        ("Content-Disposition", http.content_disposition(name, download)),
    ]
    headers += [(k, upstream.headers[k]) for k in _PASSED if upstream.headers.get(k)]
    if size is not None:
        headers.append(("Accept-Ranges", "bytes"))
    if length != _UNKNOWN:
        headers.append(("Content-Length", str(length)))
    if status == 206:
        content_range = ContentRange("bytes", start, start + length, size).to_header()
        headers.append(("Content-Range", content_range))
    is_head = method == "HEAD"
    decision = http.Decision(
        status, headers, start=start, length=length, send_content=not is_head,
        claim=one_time and not is_head,
    )  # fmt: skip
    if is_head or upstream.response is None:
        upstream.close()
        return decision, None
    position = start if upstream.status == 206 else 0
    return decision, RemoteStream(upstream.response, position)
