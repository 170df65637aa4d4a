"""On-disk cache shared by the processes of one host, built on ``diskcache``."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import weakref
from contextlib import contextmanager, suppress
from typing import IO, Any, Callable, Dict, Iterator, NamedTuple, Optional, Tuple, Union, cast

import diskcache
from diskcache.core import MODE_BINARY, UNKNOWN

from .._grammar import MB
from .._legacy.caches import CacheFile020
from .._validate import check_positive_int
from ._lifecycle import SigtermCleanup, on_sigterm, owner_tag, reap_dead_dirs
from .abstract import CacheAbstract, CachedData, CachedFileInfo, CacheUnavailableError
from .uploads import PartFileStore, UploadStore, link_or_copy

__all__ = ["CacheFile"]

# diskcache's "no limit" in practice: it needs a number.
_UNLIMITED = 1 << 62
# Temporary directories are named <prefix><owner tag><random>: see _make_temp_dir.
_TEMP_PREFIX = "dash-file-cache-"


class _StreamingDisk(diskcache.Disk):
    """``diskcache.Disk`` that copies file objects in ``chunk_bytes`` pieces.

    diskcache copies them in fixed 4 MiB reads and leaves a partial file behind
    when the copy fails (e.g. disk full); this copy removes it.
    """

    def __init__(self, directory: str, chunk_bytes: int = MB, **kwargs: Any) -> None:
        super().__init__(directory, **kwargs)
        self.chunk_bytes = chunk_bytes
        self._written = threading.local()

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> Tuple[int, int, Any, Any]:
        if isinstance(value, _Written):  # content already in its file (CacheFile.open_item)
            self._written.path = value.full_path
            return value.size, MODE_BINARY, value.filename, None
        if not read:
            return super().store(value, read, key=key)
        filename, full_path = self.filename(key, value)
        out = self._create(full_path)
        try:
            with out:
                shutil.copyfileobj(value, out, self.chunk_bytes)
                size = out.tell()
        except BaseException:
            with suppress(OSError):
                os.remove(full_path)
            raise
        self._written.path = full_path
        return size, MODE_BINARY, filename, None

    @staticmethod
    def _create(full_path: str) -> IO[bytes]:
        """Create the content file, and its directory if needed.

        Eviction in another thread or process removes directories it empties
        (``Disk.remove`` calls ``os.removedirs``), possibly between our
        ``makedirs`` and ``open``: retry, as diskcache's own writer does.
        """
        directory = os.path.dirname(full_path)
        for _ in range(9):
            with suppress(FileNotFoundError):
                os.makedirs(directory, exist_ok=True)
            with suppress(FileNotFoundError):
                return open(full_path, "xb")
        os.makedirs(directory, exist_ok=True)
        return open(full_path, "xb")

    def forget_written(self) -> Optional[str]:
        """Return and forget the content file this thread wrote last, if any."""
        path: Optional[str] = getattr(self._written, "path", None)
        self._written.path = None
        return path


class _Written(NamedTuple):
    """A content file that :meth:`CacheFile.open_item` wrote, to be indexed as is."""

    filename: str
    full_path: str
    size: int


@contextmanager
def _index_errors(action: str) -> Iterator[None]:
    """Turn SQLite errors of the index (e.g. disk full) into ``CacheUnavailableError``.

    It is an ``OSError``: ``register`` raises it and the served address answers
    503 instead of a 500.
    """
    try:
        yield
    except sqlite3.Error as exc:
        code = errno.ENOSPC if "full" in str(exc) else errno.EIO
        raise CacheUnavailableError(code, f"The cache index failed while {action}: {exc}.") from exc


class _HandOver:
    """Loader of stored content: gives the handle opened by ``load`` once,
    then opens the content file again on later calls.

    Raises (when called again):
        FileNotFoundError: the content was evicted or removed since.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle: Optional[IO[bytes]] = handle
        self._path = str(handle.name)

    def __call__(self) -> CachedData:
        handle, self._handle = self._handle, None
        if handle is not None and not handle.closed:
            return handle
        return open(self._path, "rb")


class _ClosesOnThreadEnd:
    """Closes a thread's SQLite connection when that thread ends.

    Kept in the thread's slot of diskcache's ``threading.local`` next to the
    connection; the slot is cleared when the thread ends, which frees this
    object at once (nothing else refers to it). The connection itself sits in
    a reference cycle (``sqlite3`` caches its statements with an
    ``lru_cache`` that wraps it), so without this it closes only when the
    garbage collector runs.
    """

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __del__(self) -> None:
        try:
            self.con.close()
        except Exception:  # freed by another thread, or at exit: the collector closes it
            pass


class _Index(diskcache.Cache):
    """``diskcache.Cache`` whose per-thread connections close with their thread.

    A server that starts a thread per request (werkzeug's) opens one SQLite
    connection per request. Left to the collector, the dead threads'
    connections pile up between collections, and SQLite keeps the descriptor
    of each one it closes while another connection of the process holds a
    lock on ``cache.db`` (closing it would drop that lock), so the process
    ends up holding as many ``cache.db`` descriptors as there were dead
    connections at the worst moment (more on Python 3.13, which collects
    less often). Closed when their thread ends, they never outnumber the
    threads alive.
    """

    @property
    def _con(self) -> sqlite3.Connection:
        con: sqlite3.Connection = super()._con
        local = self._local
        closer = getattr(local, "closer", None)
        if closer is None or closer.con is not con:
            local.closer = _ClosesOnThreadEnd(con)
        return con


def _path_value(path: str) -> Union[str, bytes]:
    """A path as SQLite can store it: text is UTF-8, so a path that is not
    (``os.fsdecode`` of non-UTF-8 bytes) is stored as its bytes."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _remove_dir(path: str, owner_pid: int) -> None:
    # Forked children inherit this finalizer; only the creator removes the directory.
    if os.getpid() == owner_pid:
        shutil.rmtree(path, ignore_errors=True)


def _forget_dir(path: str, owner_pid: int, on_term: SigtermCleanup) -> None:
    on_term.cancel()
    _remove_dir(path, owner_pid)


def _make_temp_dir() -> Tuple[str, SigtermCleanup]:
    """Make a temporary cache directory owned by this process.

    The name carries the owner's pid and start time, so that the next
    ``CacheFile()`` on the host removes it if its owner died without cleaning
    up (SIGKILL), and never while the owner lives, even if its pid was reused.
    Removed at exit, and on SIGTERM when the default handler was in place
    (see ``_lifecycle.on_sigterm``); the caller's finalizer cancels the
    returned SIGTERM cleanup when it removes the directory itself.
    """
    parent = tempfile.gettempdir()
    reap_dead_dirs(parent, _TEMP_PREFIX)
    path = tempfile.mkdtemp(prefix=_TEMP_PREFIX + owner_tag(), dir=parent)
    pid = os.getpid()
    on_term = on_sigterm(lambda: _remove_dir(path, pid))
    return path, on_term


class CacheFile(CacheAbstract[CachedFileInfo, CachedData], CacheFile020):
    """Cache on disk, shared by every process on one host.

    Use it when items are registered and served by different processes: Dash
    background callbacks, several gunicorn workers, or a server restarted on
    the same directory. Built on ``diskcache`` (SQLite index + one file per
    in-memory item), so it is process- and thread-safe.

    - **Atomic writes**: content is written to its own file first and the
      index row is committed afterwards in one SQLite transaction; a process
      killed mid-register leaves at worst an unindexed file, never an item that
      serves partial bytes. A failed write (e.g. disk full) raises ``OSError``
      and removes its partial file.
    - **Streaming**: content is copied in ``chunk_size`` pieces on the way in,
      and served from its file (the WSGI server can ``sendfile`` it) on the way
      out, so large items never sit whole in memory.
    - **Path items** are stored as a reference, not copied: the file must stay
      where it is while its address is used.
    - **Eviction**: with ``size_limit``, the least recently used items are
      removed once the stored bytes exceed it (path items count as 0 bytes).

    Arguments:
        cache_dir: where to keep the cache. ``None`` makes a temporary
            directory, removed when the creating process exits, also on
            SIGTERM; one left by a killed process (SIGKILL) is removed by the
            next ``CacheFile()`` on the host. A given directory is created if
            needed and keeps items across restarts.
        chunk_size: copy chunk in MB (at least 1).
        size_limit: bound on bytes used (content plus its SQLite index, which
            takes a few tens of KiB), or ``None`` for no bound.

    Raises:
        TypeError, ValueError: bad ``chunk_size`` or ``size_limit``.
        OSError: ``cache_dir`` cannot be created or opened.
    """

    def __init__(
        self,
        cache_dir: Union[str, os.PathLike[str], None] = None,
        chunk_size: int = 1,
        size_limit: Optional[int] = None,
    ) -> None:
        self._chunk_size = check_positive_int("chunk_size", chunk_size)
        if size_limit is not None:
            check_positive_int("size_limit", size_limit)
        self._size_limit = size_limit
        if cache_dir is None:
            path, on_term = _make_temp_dir()
            self._cleanup: Optional[weakref.finalize] = weakref.finalize(
                self, _forget_dir, path, os.getpid(), on_term
            )
        else:
            path = os.path.abspath(os.fspath(cache_dir))
            self._cleanup = None
        self._cache_dir = path
        self._cache = self._open()
        self._uploads: Optional[PartFileStore] = None

    def _open(self) -> diskcache.Cache:
        # With "least-recently-used" every diskcache `get` is a write transaction
        # (it updates the access time): parallel requests queue on SQLite's write
        # lock (p99 200 ms at 16 clients in bench/). Only eviction needs recency,
        # so only a bounded cache pays for it.
        return _Index(
            self._cache_dir,
            disk=_StreamingDisk,
            disk_chunk_bytes=self._chunk_size * MB,
            size_limit=self._size_limit or _UNLIMITED,
            eviction_policy="none" if self._size_limit is None else "least-recently-used",
            cull_limit=0,  # eviction is ours: see _evict
        )

    @property
    def cache_dir(self) -> str:
        """The absolute path of the cache directory."""
        return self._cache_dir

    @property
    def chunk_size(self) -> int:
        """Copy chunk in MB."""
        return self._chunk_size

    @chunk_size.setter
    def chunk_size(self, value: int) -> None:
        # The index first: if it cannot be updated, the attribute still says what it uses.
        chunk_size = check_positive_int("chunk_size", value)
        self._cache.reset("disk_chunk_bytes", chunk_size * MB)
        self._chunk_size = chunk_size

    @property
    def size_limit(self) -> Optional[int]:
        """Bound on stored bytes, or ``None``."""
        return self._size_limit

    def __len__(self) -> int:
        return len(self._cache)

    def volume(self) -> int:
        """Bytes used on disk by the cache (index and content)."""
        return int(self._cache.volume())

    def close(self) -> None:
        """Close the index (it reopens on next use). Removes nothing."""
        self._cache.close()

    def is_in(self, key: str) -> bool:
        with _index_errors("looking an item up"):
            return key in self._cache

    def dump(self, key: str, info: CachedFileInfo, data: CachedData) -> None:
        """Write the item, then index it atomically.

        Raises:
            OSError: the content could not be written (nothing is left behind);
                :class:`CacheUnavailableError` when the index could not (e.g. disk full).
        """
        tag = json.dumps(info)
        disk: _StreamingDisk = self._cache.disk
        disk.forget_written()
        try:
            with _index_errors("registering an item"):
                if isinstance(data, str):
                    self._cache.set(key, _path_value(data), tag=tag, retry=True)
                else:
                    self._cache.set(key, data, read=True, tag=tag, retry=True)
        except CacheUnavailableError:
            # diskcache keeps the content file when the index write fails.
            orphan = disk.forget_written()
            if orphan is not None:
                with suppress(OSError):
                    os.remove(orphan)
            raise
        disk.forget_written()
        with _index_errors("evicting items"):
            self._evict(keep=key)

    def _evict(self, keep: str) -> None:
        """Remove least recently used items until the cache fits ``size_limit``.

        diskcache's own culling deletes ten items at a time once the bound is
        passed, the item just written included; this removes one at a time and
        never ``keep``. Several processes may evict at once: a lost race only
        makes ``delete`` return False.
        """
        if self._size_limit is None:
            return
        while self._cache.volume() > self._size_limit:
            # diskcache has no public "least recently used key" query.
            row = self._cache._sql(
                "SELECT key FROM Cache WHERE key != ? ORDER BY access_time LIMIT 1", (keep,)
            ).fetchone()
            if row is None:
                return
            self._cache.delete(row[0], retry=True)

    def load(self, key: str) -> Tuple[CachedFileInfo, Callable[[], CachedData]]:
        """Return the item's info and a loader for its content.

        For a path item the loader gives the path. For stored content it gives
        the binary file object that diskcache opened while looking the item
        up: one ``open``, and the item can be evicted or removed afterwards
        without the caller seeing it vanish (POSIX keeps an open file
        readable). The caller closes it; a loader called again opens the
        content anew.

        Raises:
            FileNotFoundError: ``key`` is not cached.
            CacheUnavailableError: the index cannot be read or updated (e.g. disk full).
        """
        with _index_errors("loading an item"):
            value, tag = self._cache.get(key, read=True, tag=True, retry=True)
        if tag is None:
            raise FileNotFoundError(f"No cached item for key {key!r}.")
        if isinstance(value, str):  # a path item
            return json.loads(tag), lambda: value
        if isinstance(value, bytes):  # a path item stored as bytes
            path_item = os.fsdecode(value)
            return json.loads(tag), lambda: path_item
        handle: IO[bytes] = value
        try:
            info: CachedFileInfo = json.loads(tag)
        except BaseException:
            handle.close()
            raise
        return info, _HandOver(handle)

    def remove(self, key: str) -> bool:
        with _index_errors("removing an item"):
            return bool(self._cache.delete(key, retry=True))

    def clear(self) -> int:
        """Remove every item; return how many were removed."""
        return int(self._cache.clear(retry=True))

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = None
        state["_cleanup"] = None  # only the creating process removes the directory
        state["_uploads"] = None
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = self._open()

    @contextmanager
    def open_item(self, key: str, info: CachedFileInfo) -> Iterator[IO[bytes]]:
        """Write an item's content straight into its content file, then index it.

        See :meth:`CacheAbstract.open_item`. The yielded file is the item's own
        content file in the cache directory (no intermediate copy); it is
        indexed atomically as :meth:`dump` indexes one, so the item is
        servable only after a clean exit. On an exception the file is removed.

        Raises:
            OSError: the content could not be written (nothing is left behind);
                :class:`CacheUnavailableError` when the index could not.
        """
        disk: _StreamingDisk = self._cache.disk
        filename, full_path = disk.filename(key)
        try:
            with disk._create(full_path) as out:
                yield out
                size = out.tell()
        except BaseException:
            disk.remove(filename)  # the file, and the directories it leaves empty
            raise
        # dump indexes it without copying (see _StreamingDisk.store), and removes
        # the file if the index write fails.
        self.dump(key, info, cast(Any, _Written(filename, full_path, size)))

    def uploads(self) -> UploadStore:
        """Unfinished uploads, shared by every process of the host (as items are).

        In ``<cache_dir>/uploads``: ``<id>.part`` holds the bytes and
        ``<id>.json`` the record (see
        :class:`~dash_file_cache.caches.uploads.PartFileStore`). The lock is an
        ``flock`` on the part file: exclusive between all threads and
        processes of the host, released by the kernel if its holder dies, so
        an upload survives a restart and resumes. One upload may not exceed
        ``size_limit`` (``UploadFullError``, ``EFBIG``); a full disk gives
        ``UploadFullError`` (``ENOSPC``). Parts do not count towards
        ``size_limit`` until finished.

        Finishing hard-links the part file as the item's content file (no
        copy; a copy in ``chunk_size`` pieces where hard links are not
        supported) and indexes it in one SQLite transaction, as
        :meth:`open_item` does: the item is loadable only then.
        """
        if self._uploads is None:
            self._uploads = PartFileStore(
                os.path.join(self._cache_dir, "uploads"),
                chunk_bytes=self._chunk_size * MB,
                size_limit=self._size_limit,
                finish_into=self._finish_upload,
            )
        return self._uploads

    def _finish_upload(self, part: str, key: str, info: CachedFileInfo, size: int) -> None:
        """Index a finished part file as the item ``key`` (see :meth:`uploads`)."""
        disk: _StreamingDisk = self._cache.disk
        filename, full_path = disk.filename(key)
        for _ in range(9):  # eviction elsewhere may remove the directory meanwhile
            with suppress(FileNotFoundError):
                os.makedirs(os.path.dirname(full_path), exist_ok=True)
            with suppress(FileNotFoundError):
                link_or_copy(part, full_path, self._chunk_size * MB)
                break
        else:
            os.makedirs(os.path.dirname(full_path), exist_ok=True)
            link_or_copy(part, full_path, self._chunk_size * MB)
        # dump indexes it as it is, and removes it if the index write fails.
        self.dump(key, info, cast(Any, _Written(filename, full_path, size)))
