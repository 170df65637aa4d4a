"""A minimal HTTP/1.1 client over a raw socket, used to time downloads.

``requests`` spends more CPU per byte than the server does with ``sendfile``,
so on a small machine it would measure the client. Here the body is read with
``recv_into`` into one reused buffer and discarded (or kept, for small checks),
which costs the client as little as Python allows and the same for every
server path being compared.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Dict, List, Optional
from urllib.parse import urlsplit

__all__ = ["Fetched", "fetch"]

_BUF = 1 << 20


@dataclass
class Fetched:
    """One answered request."""

    status: int
    #: Response headers, names in lower case.
    headers: Dict[str, str]
    #: Body bytes received.
    nbytes: int
    #: From connecting to the last body byte.
    seconds: float
    #: From connecting to the end of the response headers.
    first_byte_s: float
    #: The body when ``keep_body`` was asked for.
    body: Optional[bytes] = None


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read up to the blank line; return (head, body bytes already received)."""
    head = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response headers ended")
        head += chunk
        end = head.find(b"\r\n\r\n")
        if end >= 0:
            return bytes(head[:end]), bytes(head[end + 4 :])
        if len(head) > 1 << 20:
            raise ConnectionError("response headers too long")


def _parse_head(head: bytes) -> tuple[int, Dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: Dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def fetch(
    base_url: str,
    path: str,
    *,
    method: str = "GET",
    headers: Optional[Dict[str, str]] = None,
    body: Optional[bytes] = None,
    keep_body: bool = False,
    timeout: float = 120.0,
) -> Fetched:
    """Send one request on a new connection (``Connection: close``) and read the answer.

    Arguments:
        base_url: ``http://host:port``.
        path: request target, e.g. ``/cached-data?uid=...``.
        method: HTTP method.
        headers: extra request headers.
        body: request body (``Content-Length`` is set).
        keep_body: return the body bytes (for small responses only).
        timeout: bound on the whole exchange, in seconds.

    Raises:
        ConnectionError: the body ended short of ``Content-Length``, or the
            connection failed.
        TimeoutError: the exchange took longer than ``timeout``.
    """
    split = urlsplit(base_url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    lines: List[str] = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    t0 = time.perf_counter()
    deadline = t0 + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        head, rest = _read_head(sock)
        t_head = time.perf_counter()
        status, resp_headers = _parse_head(head)
        length = int(resp_headers.get("content-length", "-1"))
        if method == "HEAD" or status in (204, 304):
            length = 0
        parts: List[bytes] = [rest] if keep_body else []
        got = len(rest)
        buf = bytearray(_BUF)
        view = memoryview(buf)
        while length < 0 or got < length:
            want = _BUF if length < 0 else min(_BUF, length - got)
            n = sock.recv_into(view, want)
            if n == 0:
                break
            got += n
            if keep_body:
                parts.append(bytes(view[:n]))
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{method} {path}: over {timeout} s")
        t1 = time.perf_counter()
    if length >= 0 and got != length:
        raise ConnectionError(f"{method} {path}: got {got} of {length} body bytes")
    return Fetched(
        status=status,
        headers=resp_headers,
        nbytes=got,
        seconds=t1 - t0,
        first_byte_s=t_head - t0,
        body=b"".join(parts) if keep_body else None,
    )
