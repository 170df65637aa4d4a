"""A real HTTP server on 127.0.0.1 standing for the remote of ``register_request``.

Paths (``?name=`` adds a ``Content-Disposition`` with that file name):

- ``/files/data.bin``: :data:`BODY`, honouring ``Range`` and ``HEAD``.
- ``/norange/data.bin``: :data:`BODY`, always whole (ignores ``Range``).
- ``/nolength``: :data:`BODY` without ``Content-Length`` (ends by closing).
- ``/echo``: the request headers as JSON.
- ``/status/<code>``: that status with a small body.
- ``/slow``: answers nothing for :attr:`Upstream.slow_seconds`.
- ``/stall``: sends headers and half the body, then stalls.
- ``/endless``: an endless body in 64 KiB pieces; the server records how many
  bytes it sent and when the client closed the connection.
- ``/nohead/data.bin``: like ``/files`` but ``HEAD`` gets 405.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Optional, Tuple
from urllib.parse import parse_qs, quote, urlsplit

BODY = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes

__all__ = ["BODY", "Upstream"]


class Upstream:
    """The server, on a thread; ``url`` is its base address."""

    def __init__(self) -> None:
        self.slow_seconds = 5.0
        self.endless_sent = 0
        self.endless_closed = threading.Event()
        self.endless_started = threading.Event()
        self.connections_open = 0
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                self._answer(head=True)

            def do_GET(self) -> None:
                self._answer(head=False)

            def _send(self, status: int, headers: Dict[str, str], body: bytes, head: bool) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _answer(self, head: bool) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                extra: Dict[str, str] = {"Content-Type": "application/x-test"}
                if "name" in query:
                    extra["Content-Disposition"] = (
                        "attachment; filename=\"fallback.bin\"; filename*=UTF-8''"
                        + quote(query["name"][0])
                    )
                path = parts.path
                if path in ("/echo", "/echo/"):
                    body = json.dumps(dict(self.headers.items())).encode()
                    extra["Content-Length"] = str(len(body))
                    self._send(200, extra, body, head)
                elif path.startswith("/status/"):
                    body = b"remote says no"
                    self._send(
                        int(path.rsplit("/", 1)[1]), {"Content-Length": str(len(body))}, body, head
                    )
                elif path == "/slow":
                    time.sleep(upstream.slow_seconds)
                    self._send(200, {"Content-Length": "2"}, b"ok", head)
                elif path == "/stall":
                    self._send(200, {**extra, "Content-Length": str(len(BODY))}, BODY[:1000], head)
                    self.wfile.flush()
                    time.sleep(upstream.slow_seconds)
                    self.close_connection = True
                elif path == "/nolength":
                    self.close_connection = True
                    self._send(200, {**extra, "Connection": "close"}, BODY, head)
                elif path == "/endless":
                    self._endless(extra)
                elif path == "/nohead/data.bin" and head:
                    self._send(405, {"Content-Length": "0"}, b"", head)
                elif path in ("/files/data.bin", "/nohead/data.bin"):
                    self._ranged(extra, head)
                elif path.startswith("/norange/"):
                    self._send(200, {**extra, "Content-Length": str(len(BODY))}, BODY, head)
                else:
                    self._send(404, {"Content-Length": "9"}, b"not found", head)

            def _ranged(self, extra: Dict[str, str], head: bool) -> None:
                span = _parse_range(self.headers.get("Range"), len(BODY))
                extra["Accept-Ranges"] = "bytes"
                extra["ETag"] = '"v1"'
                if span is None:
                    self._send(200, {**extra, "Content-Length": str(len(BODY))}, BODY, head)
                elif span == (-1, -1):
                    self._send(
                        416,
                        {"Content-Range": f"bytes */{len(BODY)}", "Content-Length": "0"},
                        b"",
                        head,
                    )
                else:
                    start, stop = span
                    extra["Content-Range"] = f"bytes {start}-{stop - 1}/{len(BODY)}"
                    extra["Content-Length"] = str(stop - start)
                    self._send(206, extra, BODY[start:stop], head)

            def _endless(self, extra: Dict[str, str]) -> None:
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                piece = b"x" * 65536
                upstream.endless_started.set()
                try:
                    for _ in range(1 << 16):  # 4 GiB at most
                        self.wfile.write(piece)
                        upstream.endless_sent += len(piece)
                except OSError:
                    upstream.endless_closed.set()

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that the tests abort or time out on purpose


def _parse_range(value: Optional[str], size: int) -> Optional[Tuple[int, int]]:
    """``(start, stop)`` of a single ``bytes=a-b`` range; ``(-1, -1)`` if unsatisfiable."""
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    first, _, last = value[6:].partition("-")
    if first == "":
        count = int(last)
        return (max(size - count, 0), size)
    start = int(first)
    if start >= size:
        return (-1, -1)
    stop = min(int(last) + 1, size) if last else size
    return (start, stop)
