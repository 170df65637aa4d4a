"""Responses: addresses, bodies, error and header checks, and raw requests on a socket."""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any, Iterator, List, Mapping, Tuple
from urllib.parse import urlsplit


def uid_of(address: str) -> str:
    """The ``uid`` of an address (``.../cached-data?uid=...&...``)."""
    return address.split("uid=")[1].split("&")[0]


def body_of(response: Any) -> bytes:
    """The body of a test-client response (``.data``) or a ``requests`` one (``.content``)."""
    data = getattr(response, "data", None)
    return bytes(response.content if data is None else data)


def assert_json_error(response: Any, status: int) -> None:
    """``response`` is ``status`` with a JSON body ``{"error": "..."}``."""
    assert response.status_code == status, (response.status_code, body_of(response)[:200])
    assert response.headers["Content-Type"].split(";")[0].strip() == "application/json"
    assert isinstance(json.loads(body_of(response))["error"], str)


def check_headers(headers: Mapping[str, str]) -> None:
    """Every header name and value is latin-1 encodable and has no CR, LF or NUL."""
    for name, value in headers.items():
        for text in (name, value):
            text.encode("latin-1")
            assert not any(c in text for c in "\r\n\x00"), (name, value)


def parse_content_range(value: str) -> Tuple[int, int, int]:
    """``bytes a-b/n`` -> ``(a, b + 1, n)``."""
    unit, _, rest = value.partition(" ")
    assert unit == "bytes", value
    span, _, total = rest.partition("/")
    first, _, last = span.partition("-")
    return int(first), int(last) + 1, int(total)


def raw_request(
    address: Tuple[str, int], request: bytes, read_limit: int = 1 << 30
) -> Tuple[int, bytes]:
    """Send raw bytes, read the answer to the end; return (status code or 0, all bytes)."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request)
        chunks: List[bytes] = []
        received = 0
        while received < read_limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    data = b"".join(chunks)
    head = data.split(b"\r\n", 1)[0].split()
    status = int(head[1]) if len(head) >= 2 and head[1].isdigit() else 0
    return status, data


@contextlib.contextmanager
def open_patch(url: str, offset: int, length: int, first: bytes = b"") -> Iterator[socket.socket]:
    """A raw tus ``PATCH`` to ``url`` announcing ``length`` body bytes at ``offset``:
    its head and ``first`` are sent; the open socket (the rest is the caller's)."""
    parts = urlsplit(url)
    head = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\nContent-Length: {length}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode("ascii") + first)
        yield sock
