"""Raw streams shared by the caches that keep content in a remote store (Redis, S3).

:class:`RemoteReader` is the seekable, read-only side (position, ``seek``,
``readinto``); :class:`BlockSink` the write-only side that cuts what it
receives into fixed-size blocks and stores each full one. Subclasses say how
bytes are fetched (``read``) or stored (``_store_block``).
"""

from __future__ import annotations

import io
from typing import Any, Optional


class RemoteReader(io.RawIOBase):
    """Read-only, seekable stream of ``size`` bytes; subclasses implement ``read``.

    ``seek`` only moves the position (calling :meth:`_moved` when it changes),
    so seeking costs nothing until the next read.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        """The content's length in bytes."""
        return self._size

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"whence must be 0, 1 or 2, got {whence!r}.")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}.")
        if pos != self._pos:
            self._moved()
        self._pos = pos
        return pos

    def read(self, size: Optional[int] = -1) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _wanted(self, size: Optional[int]) -> int:
        """How many bytes a ``read(size)`` returns from the current position."""
        self._check_open()
        remaining = self._size - self._pos
        return remaining if size is None or size < 0 else min(remaining, size)

    def _moved(self) -> None:
        """Called when ``seek`` changes the position. Default: nothing."""

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed {type(self).__name__}.")


class BlockSink(io.RawIOBase):
    """Write-only stream storing what it receives in blocks of ``block_bytes``.

    Holds at most one block in memory: each full block is handed to
    :meth:`_store_block` (which must empty ``_buffer``); the caller stores
    the last, partial one when the content is complete.
    """

    def __init__(self, block_bytes: int) -> None:
        super().__init__()
        self._block_bytes = block_bytes
        self._buffer = bytearray()
        #: Bytes written so far.
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        count = len(view)
        self._check_growth(count)
        self.size += count
        while len(view):
            room = self._block_bytes - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) == self._block_bytes:
                self._store_block()
        return count

    def flush(self) -> None:
        """Nothing: only full blocks are stored while writing (``close`` calls this)."""

    def _check_growth(self, count: int) -> None:
        """Raise before ``count`` more bytes are taken, if they must not be. Default: nothing."""

    def _store_block(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
