"""Writers: content registered as it is written, without building it in memory first.

``ServiceData.register(writer, ...)`` calls ``writer(f)`` and
``ServiceData.open(...)`` yields ``f``: a :class:`CachedFileWriter`, a
write-only file object that passes every write to the cache
(:meth:`CacheAbstract.open_item`), so a 1 GiB export never sits whole in memory
(except in the in-memory caches, whose content lives there anyway).
"""

from __future__ import annotations

import io
import mimetypes
import os
from contextlib import ExitStack
from types import TracebackType
from typing import IO, Any, Callable, Iterable, Optional, Type, Union

from typing_extensions import TypeGuard

from ..caches.abstract import CacheAbstract, CachedFileInfo

__all__ = [
    "DEFAULT_MIME_TYPE",
    "CachedFileWriter",
    "Writer",
    "guess_mime_type",
    "is_writer",
]

#: What ``ServiceData.register`` accepts as a writer: a callable that writes the
#: content into the file object it is given, a :class:`CachedFileWriter`
#: (``df.to_csv``, ``df.to_parquet``...). Its return value is ignored. The
#: argument is typed ``Any`` because libraries type their file parameter with
#: their own protocols (pandas' ``WriteBuffer`` wants a ``mode``, for one).
Writer = Callable[[Any], object]

#: Type of a writer whose ``mime_type`` was not given and no name suggests one.
FALLBACK_MIME_TYPE = "application/octet-stream"

# Types that Python's ``mimetypes`` does not know.
_EXTRA_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".arrow": "application/vnd.apache.arrow.file",
    ".feather": "application/vnd.apache.arrow.file",
    ".jsonl": "application/jsonl",
    ".ndjson": "application/x-ndjson",
}


class _DefaultMimeType(str):
    """The ``mime_type`` default of ``register``: equal to ``"image/jpeg"`` but
    recognisable by identity, so that a writer's type can be inferred when the
    caller gave none, without changing the documented default."""

    __slots__ = ()


#: ``ServiceData.register``'s ``mime_type`` default (``"image/jpeg"``).
DEFAULT_MIME_TYPE: str = _DefaultMimeType("image/jpeg")


def is_writer(fobj: object) -> TypeGuard[Writer]:
    """Whether ``register`` should call ``fobj`` as a writer.

    A writer is any callable that is not a path, bytes or a readable file object.
    """
    return (
        callable(fobj)
        and not isinstance(fobj, (str, bytes, bytearray, memoryview, os.PathLike, io.IOBase))
        and not callable(getattr(fobj, "read", None))
    )


def guess_mime_type(file_name: str) -> str:
    """The MIME type suggested by ``file_name``'s extension, else ``application/octet-stream``.

    Uses :func:`mimetypes.guess_type` (so the host's ``mime.types`` may add
    types), plus a few data formats it does not know (``.parquet``, ``.arrow``,
    ``.feather``, ``.jsonl``, ``.ndjson``).
    """
    mime, _ = mimetypes.guess_type(file_name, strict=False)
    if mime:
        return mime
    return _EXTRA_TYPES.get(os.path.splitext(file_name)[1].lower(), FALLBACK_MIME_TYPE)


class CachedFileWriter:
    """Write-only file object whose content becomes a cached item; a context manager.

    Made by :meth:`ServiceData.open` (and given to writers by
    :meth:`ServiceData.register`); do not build it yourself. Inside the
    ``with`` block, every :meth:`write` goes to the cache as it comes
    (``CacheFile``: its content file; ``CacheRedis``: chunks; ``CachePlain``,
    ``CacheQueue``: memory).

    - :meth:`write` takes ``str`` (encoded as UTF-8) and bytes-like objects,
      mixed at will. If any ``str`` was written, a ``text/*`` type without a
      charset gets ``; charset=utf-8``. Libraries that look for a binary file
      (``isinstance(f, io.BufferedIOBase)`` or ``"b" in f.mode``) do not find
      one, so pandas' ``to_csv`` writes text, while ``to_parquet`` and image
      writers write bytes.
    - The item is stored when the block exits without an exception; only
      then is :attr:`address` servable. If the block raises, nothing is
      stored or left behind, the exception propagates, and :attr:`address`
      raises ``RuntimeError``.
    - :meth:`close` only ends writing (a writer may call it); storing
      happens when the block exits.
    """

    def __init__(
        self,
        cache: CacheAbstract[Any, Any],
        uid: str,
        address: str,
        make_info: Callable[[bool], CachedFileInfo],
    ) -> None:
        self._cache = cache
        self._uid = uid
        self._address = address
        self._make_info = make_info
        self._stack: Optional[ExitStack] = None
        self._raw: Optional[IO[bytes]] = None
        self._info: Optional[CachedFileInfo] = None
        self._state = "new"  # new -> writing -> closed -> stored | failed
        self._wrote_text = False
        self._size = 0

    # -- context manager ----------------------------------------------------
    def __enter__(self) -> CachedFileWriter:
        if self._state != "new":
            raise RuntimeError("A CachedFileWriter can be entered only once.")
        info = self._make_info(False)
        stack = ExitStack()
        self._raw = stack.enter_context(self._cache.open_item(self._uid, info))
        self._stack, self._info, self._state = stack, info, "writing"
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        stack, self._stack, self._raw = self._stack, None, None
        self._state = "failed"
        if stack is None or self._info is None:
            return
        if exc_type is None:
            # The cache stores info as it is on exit: now the content type is known.
            self._info.update(self._make_info(self._wrote_text))
            stack.close()  # stores the item; raises (nothing stored) if it cannot
            self._state = "stored"
        else:
            stack.__exit__(exc_type, exc, tb)  # discards what was written

    # -- file object --------------------------------------------------------
    def write(self, data: Union[str, bytes, bytearray, memoryview]) -> int:
        """Write ``str`` (as UTF-8) or bytes; return how many characters or bytes.

        Raises:
            ValueError: the file is closed, or not entered with ``with``.
            TypeError: ``data`` is neither ``str`` nor bytes-like.
        """
        raw = self._writable()
        if isinstance(data, str):
            self._wrote_text = True
            payload: Any = data.encode("utf-8")
        else:
            try:
                payload = memoryview(data)
            except TypeError:
                raise TypeError(
                    f"write() takes str or a bytes-like object, not {type(data).__name__}."
                ) from None
        raw.write(payload)
        if isinstance(payload, memoryview):
            self._size += payload.nbytes
            return payload.nbytes
        self._size += len(payload)
        return len(data)

    def writelines(self, lines: Iterable[Union[str, bytes, bytearray, memoryview]]) -> None:
        """Write every item of ``lines`` (no separators are added)."""
        for line in lines:
            self.write(line)

    def tell(self) -> int:
        """Bytes written so far."""
        return self._size

    def flush(self) -> None:
        """Nothing to do for the caller: writes reach the cache as they come."""
        self._writable()

    def close(self) -> None:
        """End writing; the item is stored when the ``with`` block exits."""
        if self._state == "writing":
            self._state = "closed"

    @property
    def closed(self) -> bool:
        """Whether writing has ended."""
        return self._state != "writing"

    def writable(self) -> bool:
        return not self.closed

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    # -- result -------------------------------------------------------------
    @property
    def address(self) -> str:
        """The item's address; known from the start, servable once the block exited cleanly.

        Raises:
            RuntimeError: the block raised or the item could not be stored:
                nothing was registered.
        """
        if self._state == "failed":
            raise RuntimeError("Nothing was registered: the write failed or was aborted.")
        return self._address

    def _writable(self) -> IO[bytes]:
        if self._raw is None or self._state != "writing":
            if self._state == "new":
                raise ValueError("Use ServiceData.open(...) in a with statement to write.")
            raise ValueError("I/O operation on closed CachedFileWriter.")
        return self._raw
