"""``caches/abstract.py``'s stream helpers: whole blocks despite short reads."""

from __future__ import annotations

import io

from dash_file_cache.caches.abstract import read_all, read_block


class _Trickle(io.RawIOBase):
    """A raw stream that returns at most 3 bytes a read."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(3, len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_read_block_and_read_all_on_short_reads() -> None:
    stream = _Trickle(b"0123456789")
    assert read_block(stream, 4) == b"0123"  # type: ignore[arg-type]
    assert read_block(stream, 100) == b"456789"  # type: ignore[arg-type]
    assert read_block(stream, 4) == b""  # type: ignore[arg-type]
    assert read_all(_Trickle(b"x" * 1000)) == b"x" * 1000  # type: ignore[arg-type]
