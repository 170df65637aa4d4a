"""Opened items and the answers that carry them (blocking I/O, no framework).

Every function here may block (it opens, stats, seeks or reads a file): the
ASGI adapters run them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from typing import IO, Iterator, Optional

from ..caches.abstract import CachedData
from .http import Decision

__all__ = ["Answer", "Content", "FileChunks", "open_content"]


@dataclass
class Content:
    """An opened item: its stream and what HTTP needs to know about it."""

    stream: IO[bytes]
    size: int
    mtime: float
    #: Whether ``stream`` is a regular file (the server may ``sendfile`` it).
    is_file: bool = False
    #: The path the item was opened from (a path item), else None.
    path: Optional[str] = None


def open_content(data: CachedData, created: float) -> Content:
    """Open what a cache loader returned; close ``data`` if this raises.

    A ``str`` is a path to a regular file. A binary stream is used as it is:
    one backed by a regular file (e.g. ``CacheFile`` content) is file-backed
    like a path (its size and mtime from ``fstat``; the server may
    ``sendfile`` it), anything else is in-memory content whose modification
    time is ``created``.

    Raises:
        FileNotFoundError: the path is gone or is not a readable regular file.
        OSError: the server cannot open it now (e.g. out of descriptors): a 503.
    """
    path = data if isinstance(data, str) else None
    stream = _open_path(data) if isinstance(data, str) else data
    try:
        st = _regular_file_stat(stream)
        if st is not None:
            return Content(stream, st.st_size, st.st_mtime, True, path)
        if path is not None:
            raise FileNotFoundError("Cached path is not a regular file.")
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
    except BaseException:
        stream.close()
        raise
    return Content(stream, size, created)


def _open_path(path: str) -> IO[bytes]:
    """Open a path item; a path that cannot be read is a gone item (404)."""
    try:
        return open(path, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        raise FileNotFoundError(f"Cached file is gone: {exc.strerror}.") from exc


def _regular_file_stat(stream: IO[bytes]) -> Optional[os.stat_result]:
    """``fstat`` of the regular file under ``stream``, or ``None`` if there is none."""
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


@dataclass
class Answer:
    """A decision ready to send: its content is open when it has bytes to send.

    The adapter that sends it closes ``content`` (``close``) when done,
    also when the client went away.
    """

    decision: Decision
    content: Optional[Content] = None

    @property
    def status(self) -> int:
        return self.decision.status

    def close(self) -> None:
        if self.content is not None:
            self.content.stream.close()

    def whole_file(self) -> bool:
        """Whether the body is a real file from its current start to its end."""
        content, decision = self.content, self.decision
        return (
            content is not None
            and content.is_file
            and decision.send_content
            and decision.start + decision.length == content.size
        )


class FileChunks:
    """Iterable sending ``length`` bytes from ``start`` in ``chunk`` pieces.

    Seeks before the first read, so the offset costs nothing. ``close`` (called
    by a WSGI server, also when the client went away) closes the stream.
    """

    def __init__(self, stream: IO[bytes], start: int, length: int, chunk: int) -> None:
        self._stream = stream
        self._start = start
        self._length = length
        self._chunk = chunk

    def __iter__(self) -> Iterator[bytes]:
        self._stream.seek(self._start)
        remaining = self._length
        while remaining > 0:
            data = self._stream.read(min(self._chunk, remaining))
            if not data:  # the file shrank under us: end short rather than hang
                return
            remaining -= len(data)
            yield data

    def close(self) -> None:
        self._stream.close()
