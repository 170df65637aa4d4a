"""A TCP proxy on 127.0.0.1 that cuts a connection in the middle of a ``PATCH`` body.

Forwards every connection to a real server, byte for byte, reading the
client's side as HTTP/1.1 requests (``Content-Length`` bodies; what tus
clients send). When armed with ``n``, the next ``PATCH`` it sees is forwarded
with its head and the first ``n`` bytes of its body only, then both sides
are closed: the server sees its client vanish mid-body, the client a
connection that broke (see :meth:`CuttingProxy.arm` for its ``pause``). It
is what a proxy or a network in between does to an upload; the arming is
one-shot, so the next attempt goes through.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Iterator, List, Optional, Tuple

__all__ = ["CuttingProxy", "cutting_proxy"]

_BLOCK = 65536


class CuttingProxy:
    """The proxy's controls: :meth:`arm`, and :attr:`cuts` (bodies cut so far)."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self.cuts = 0
        self._cut_after: Optional[int] = None
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._threads: List[threading.Thread] = []
        self._sockets: List[socket.socket] = []
        self.pause = 0.0
        self._closing = False

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``: where clients connect."""
        return f"http://127.0.0.1:{self.port}"

    def arm(self, body_bytes: int, pause: float = 0.0) -> None:
        """Cut the next ``PATCH`` after ``body_bytes`` bytes of its body.

        ``pause``: seconds the connection stalls after those bytes, before the
        cut (a network that stalls, then drops). Without it the end of the
        stream may overtake bytes the server has buffered but not yet handed
        to the application (uvicorn then reports a disconnect instead of them).
        """
        with self._lock:
            self._cut_after = body_bytes
            self.pause = pause

    def _take_cut(self) -> Optional[int]:
        with self._lock:
            cut, self._cut_after = self._cut_after, None
            return cut

    # -- threads ------------------------------------------------------------------
    def start(self) -> None:
        self._spawn(self._accept)

    def close(self) -> None:
        """Stop accepting, end every connection, and wait for the threads."""
        self._closing = True
        _end(self._listener, *self._sockets)
        for thread in self._threads:
            thread.join(5)
        for sock in [self._listener, *self._sockets]:
            sock.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=30)
            self._sockets += [client, upstream]
            self._spawn(self._requests, client, upstream)
            self._spawn(self._answers, upstream, client)

    def _answers(self, upstream: socket.socket, client: socket.socket) -> None:
        """Server to client, unchanged, until the server ends (read to the end even
        once the client is gone: closing with unread data would reset the server's side)."""
        to_client = True
        with contextlib.suppress(OSError):
            while True:
                data = upstream.recv(_BLOCK)
                if not data:
                    break
                if to_client:
                    try:
                        client.sendall(data)
                    except OSError:
                        to_client = False
        _end(client, upstream)

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Client to server, request by request; a ``PATCH`` may be cut."""
        buffer = b""
        with contextlib.suppress(OSError):
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = client.recv(_BLOCK)
                    if not data:
                        return _end(client, upstream)
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                head += b"\r\n\r\n"
                length = _content_length(head)
                cut = self._take_cut() if head.startswith(b"PATCH ") else None
                upstream.sendall(head)
                if cut is not None and cut < length:
                    self._cut(client, upstream, buffer, cut)
                    return None
                buffer = self._forward_body(client, upstream, buffer, length)
        _end(client, upstream)
        return None

    def _forward_body(
        self, client: socket.socket, upstream: socket.socket, buffer: bytes, length: int
    ) -> bytes:
        """Forward ``length`` body bytes; what the client sent after them."""
        while len(buffer) < length:
            data = client.recv(_BLOCK)
            if not data:
                raise ConnectionError("the client went away mid-body")
            buffer += data
        upstream.sendall(buffer[:length])
        return buffer[length:]

    def _cut(self, client: socket.socket, upstream: socket.socket, buffer: bytes, n: int) -> None:
        while len(buffer) < n:
            data = client.recv(_BLOCK)
            if not data:
                break
            buffer += data
        upstream.sendall(buffer[:n])
        self.cuts += 1
        time.sleep(self.pause)
        # The client's side first: the server answers as soon as it sees the end of
        # the stream, and that answer must never reach the client. Then the server
        # reads the n bytes and the end; the answer thread reads its side to the end.
        _end(client)
        upstream.shutdown(socket.SHUT_WR)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _end(*sockets: socket.socket) -> None:
    """Shut ``sockets`` down, which wakes a thread blocked on them (closing would not);
    :meth:`CuttingProxy.close` closes them."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def cutting_proxy(base: str) -> Iterator[CuttingProxy]:
    """A :class:`CuttingProxy` in front of the server at ``base`` (``http://127.0.0.1:port``)."""
    host, _, port = base.rpartition("//")[2].partition(":")
    proxy = CuttingProxy((host, int(port)))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
