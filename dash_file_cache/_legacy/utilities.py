"""0.2.0's ``dash_file_cache.utilities`` helpers, reimplemented on the standard library."""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import tempfile
import types
import weakref
from typing import IO, Any, Callable, Generic, Optional, Type, TypeVar, Union

__all__ = ["StreamFinalizer", "TempDir", "is_in_main_process", "remove_temp_dir"]

_IO = TypeVar("_IO", bound=IO[Any])


def is_in_main_process() -> bool:
    """Whether this is the main process (not a ``multiprocessing`` child)."""
    return multiprocessing.parent_process() is None


def remove_temp_dir(path: Union[str, os.PathLike]) -> None:
    """Remove a directory tree; a missing directory is not an error."""
    shutil.rmtree(path, ignore_errors=True)


class TempDir:
    """A directory removed when this object is collected or :meth:`remove` is called.

    ``path`` None makes a new temporary directory; otherwise it is created if
    needed. Usable as a path (``os.fspath``), e.g. ``CacheFile(TempDir())``.
    """

    def __init__(self, path: Union[str, os.PathLike, None] = None) -> None:
        if path is None:
            self._path = tempfile.mkdtemp(prefix="dfc-")
        else:
            os.makedirs(path, exist_ok=True)
            self._path = os.fspath(path)
        self._finalizer = weakref.finalize(self, remove_temp_dir, self._path)

    def remove(self) -> None:
        """Remove the directory now (only from the main process, as in 0.2.0)."""
        if is_in_main_process():
            self._finalizer()

    @property
    def path(self) -> str:
        return self._path

    @property
    def is_removed(self) -> bool:
        return not self._finalizer.alive

    def __fspath__(self) -> str:
        return self._path


class StreamFinalizer(Generic[_IO]):
    """Context manager over a file object: rewinds it on entry; on exit calls
    ``callback_on_exit(fobj)`` (rewound), then truncates and/or closes it."""

    def __init__(
        self,
        fobj: _IO,
        truncate: bool = False,
        close: bool = False,
        callback_on_exit: Optional[Callable[[_IO], None]] = None,
    ) -> None:
        self._fobj = fobj
        self._truncate = bool(truncate)
        self._close = bool(close)
        self._callback = callback_on_exit if callable(callback_on_exit) else None

    def __enter__(self) -> _IO:
        self._fobj.seek(0, io.SEEK_SET)
        return self._fobj

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[types.TracebackType],
    ) -> None:
        if self._callback is not None:
            self._fobj.seek(0, io.SEEK_SET)
            self._callback(self._fobj)
        if self._truncate:
            self._fobj.seek(0, io.SEEK_SET)
            self._fobj.truncate(0)
        if self._close:
            self._fobj.close()
