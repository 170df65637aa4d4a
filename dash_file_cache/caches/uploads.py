"""Unfinished uploads: where their bytes and their state live, in each cache.

A resumable upload (tus) arrives over several requests, possibly in several
server processes or hosts. Until its last byte, it is not an item: it is an
*upload*, kept by the cache's :class:`UploadStore` (``cache.uploads()``) as

- a *record*: a small JSON-able ``dict`` (``UploadState.to_record()``), opaque
  here except for two keys: ``offset`` (the bytes kept, the truth) and
  ``expires_at`` (POSIX time, or ``None``), with ``length`` (``None`` while
  deferred) telling a finished upload, which never expires;
- its *bytes*: ``[0, offset)`` of the content; bytes past the saved offset
  are leftovers of an interrupted or refused request, overwritten by the
  next write.

Why a store object rather than more methods on the cache: an upload has its
own life (create, lock, write, finish or remove) and its own storage next to
the items; keeping it in one object keeps :class:`CacheAbstract` about items,
and makes "hold the lock" structural: bytes can only be written, the record
updated and the upload finished through the :class:`LockedUpload` that
:meth:`UploadStore.lock` yields.

The rules every store follows (the tus endpoint relies on them):

- **Exclusive, non-blocking lock** per upload, exactly where items are
  shared: :meth:`UploadStore.lock` either yields at once or raises
  :class:`UploadBusyError` (the endpoint answers 409/423). Two writers never
  interleave bytes.
- **Offset is the truth**: :meth:`LockedUpload.write` first cuts the bytes at
  the offset it is given, then appends; it returns how many bytes it stored,
  also when the source raised mid-way (a client gone: what arrived is kept).
  The record is changed only by :meth:`LockedUpload.update`.
- **Bounded memory**: bytes go through in blocks of at most ``chunk_bytes``.
- **Nothing half-written is servable**: :meth:`LockedUpload.finish` makes the
  item in one atomic step, with the first ``offset`` bytes, and only then
  forgets the upload; before that, ``cache.load(key)`` raises
  ``FileNotFoundError``.
- **Full**: the cache's own bound or the storage full raises
  :class:`UploadFullError` (an ``OSError``; the endpoint answers 507).

Where each cache keeps them (ids always come from ``cache.new_key(uid)``):

==============  ==============================  ==========================  =====================
cache           bytes and record                lock shared by              finish
==============  ==============================  ==========================  =====================
CachePlain,     files in the serving process's  the threads of the serving  rename of the part
CacheQueue      spool directory (gone with it)  process (``flock``)         into an item file
CacheFile       ``<cache_dir>/uploads``         every process of the host   hard link + one SQLite
                (survives a restart)            (``flock``)                 transaction
CacheRedis      chunk keys + a hash, TTL        every process and host      one Lua script:
                ``ttl`` after the last update   (``SET NX PX``, fenced)     ``RENAME`` + publish
CacheS3         segment objects (5 MiB or       every process and host      ``UploadPartCopy``
                more) + a JSON record object    (a lease in the record,     in the store, then
                under ``{prefix}upload/{id}/``  taken by ``If-Match`` CAS)  the sidecar
==============  ==============================  ==========================  =====================

Per-process caches (:class:`~dash_file_cache.CachePlain`,
:class:`~dash_file_cache.CacheQueue`) raise
:class:`~dash_file_cache.caches.ItemElsewhereError` for an id of another
process, as for items. Unfinished uploads do not count towards a cache's
``size_limit`` (each one is bounded by it) until they become items.
"""

from __future__ import annotations

import abc
import errno
import fcntl
import json
import os
import secrets
import shutil
from contextlib import contextmanager, suppress
from typing import (
    IO,
    Any,
    Callable,
    ContextManager,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
    Union,
)

from .abstract import CachedFileInfo

__all__ = [
    "Block",
    "LockedUpload",
    "UploadBusyError",
    "UploadFullError",
    "UploadSource",
    "UploadStore",
    "Written",
    "is_expired",
]

#: What :meth:`LockedUpload.write` takes: a readable binary file object (its
#: ``read(n)``; short reads are fine) or an iterable of bytes-like blocks of any size.
UploadSource = Union[IO[bytes], Iterable[bytes]]
#: A block of a body as stored: ``bytes`` or a view valid for the call only (see ``_Blocks``).
Block = Union[bytes, memoryview]

#: Errors of the storage that mean "no room" (mapped to :class:`UploadFullError`).
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
#: A part file without a record is a creation or removal cut short after this long.
ORPHAN_AGE = 3600.0


class UploadBusyError(BlockingIOError):
    """Another request holds the upload's lock (in this or another process or host)."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(errno.EAGAIN, f"The upload {upload_id!r} is busy with another request.")


class UploadFullError(OSError):
    """No room for the upload: the cache's bound (``EFBIG``) or the storage (``ENOSPC``).

    ``stored``: bytes that the failing :meth:`LockedUpload.write` had stored
    before (kept; the record is unchanged until :meth:`LockedUpload.update`).
    """

    def __init__(self, code: int, message: str, stored: int = 0) -> None:
        super().__init__(code, message)
        self.stored = stored


class Written(NamedTuple):
    """What :meth:`LockedUpload.write` did (the arguments of tus ``finish_patch``).

    - ``stored``: bytes stored at the offset, in order, all of them kept;
    - ``complete``: the source ended (``False``: it raised, see ``error``);
    - ``overflow``: the source had more than ``limit`` bytes (none past it stored);
    - ``error``: the exception the source raised (a client that went away).
    """

    stored: int
    complete: bool
    overflow: bool
    error: Optional[Exception]


def is_expired(record: Mapping[str, Any], now: float) -> bool:
    """Whether an unfinished upload's record has expired at ``now`` (``UploadState.is_expired``)."""
    expires_at = record.get("expires_at")
    length = record.get("length")
    finished = length is not None and record.get("offset") == length
    return not finished and expires_at is not None and now >= float(expires_at)


def record_offset(record: Mapping[str, Any]) -> int:
    """The ``offset`` of a record.

    Raises:
        ValueError: the record has no non-negative int ``offset``.
    """
    offset = record.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"An upload record needs a non-negative int 'offset': {offset!r}.")
    return offset


def check_finishable(record: Mapping[str, Any]) -> int:
    """The size of the item a record finishes into.

    Raises:
        ValueError: the upload is not complete (``offset != length``).
    """
    offset = record_offset(record)
    if record.get("length") != offset:
        raise ValueError(
            f"The upload is not complete ({offset} of {record.get('length')} bytes): "
            "only a complete upload becomes an item."
        )
    return offset


class _Blocks:
    """``read(n)`` over an :data:`UploadSource`: at most ``n`` bytes, ``b""`` at its end.

    A file's block is passed on as it comes (no copy): it may be a view that the
    file reuses at its next read (an ASGI body), so it is stored before that.
    """

    def __init__(self, source: UploadSource) -> None:
        read = getattr(source, "read", None)
        self._read: Optional[Callable[[int], Any]] = read if callable(read) else None
        self._items: Optional[Iterator[Any]] = None if self._read else iter(source)
        self._pending = memoryview(b"")

    def read(self, size: int) -> Block:
        if self._read is not None:
            data = self._read(size)
            return data if isinstance(data, (bytes, memoryview)) else bytes(data or b"")
        assert self._items is not None
        while not self._pending:
            item = next(self._items, None)
            if item is None:
                return b""
            self._pending = memoryview(item).cast("B")
        block, self._pending = self._pending[:size], self._pending[size:]
        return bytes(block)


class LockedUpload(abc.ABC):
    """One upload while its lock is held (yielded by :meth:`UploadStore.lock`).

    Valid only inside the ``with`` block. Not shared between threads.
    """

    #: Largest read of the body between two calls of :meth:`_keep`, or ``None``: one read
    #: per block. A store whose lock is a lease (Redis) reads less at a time, so that a
    #: slow client's block does not outlast the lease.
    read_block: Optional[int] = None

    def __init__(self, upload_id: str, chunk_bytes: int) -> None:
        self.upload_id = upload_id
        self.chunk_bytes = chunk_bytes

    @abc.abstractmethod
    def record(self) -> Dict[str, Any]:
        """The stored record.

        Raises:
            FileNotFoundError: the upload is gone.
        """

    @abc.abstractmethod
    def update(self, record: Mapping[str, Any]) -> None:
        """Replace the record atomically (readers see the old or the new one).

        Raises:
            FileNotFoundError: the upload is gone.
            OSError: the storage failed.
        """

    def write(
        self,
        offset: int,
        source: UploadSource,
        *,
        limit: Optional[int] = None,
        observe: Optional[Callable[[Block], None]] = None,
    ) -> Written:
        """Store ``source``'s bytes at ``offset``, cutting what was stored past it first.

        Reads blocks of at most ``chunk_bytes`` and stores each before reading
        the next, so memory stays bounded whatever the size. At most ``limit``
        bytes are taken (``None``: no bound); one more byte available means
        ``overflow``. ``observe`` is given every stored block, in order (e.g.
        a checksum's ``update``). The record is not changed.

        An exception raised by the source (a client gone) ends the write; the
        bytes stored before it count (:attr:`Written.error` holds it).

        Several writes at consecutive offsets under one lock are fine (the cut
        is then a no-op): an ASGI endpoint may run one per received block in
        a worker thread, or one over an iterator that pulls from the loop.

        Raises:
            ValueError: ``offset`` is past the bytes present.
            UploadFullError: the cache's bound or the storage is full
                (its ``stored``: bytes stored before).
            UploadBusyError: the lock was lost (``CacheRedis``: the lease
                expired and another request took it); nothing more is stored.
            OSError: the storage failed otherwise (the saved offset stays the truth).
        """
        self._cut(offset)
        blocks = _Blocks(source)
        stored = 0
        while True:
            want = self.chunk_bytes if limit is None else min(self.chunk_bytes, limit - stored)
            block, error = self._gather(blocks, max(want, 1))
            if error is not None and not block:
                return Written(stored, False, False, error)
            if want <= 0 or not block:
                return Written(stored, True, bool(block), None)
            try:
                self._append(offset + stored, block)
            except UploadFullError as exc:
                exc.stored = stored
                raise
            except OSError as exc:
                if exc.errno in _FULL_ERRNOS and not isinstance(exc, UploadBusyError):
                    raise UploadFullError(exc.errno, str(exc), stored) from exc
                raise
            stored += len(block)
            if observe is not None:
                observe(block)
            if error is not None:  # the bytes read before the failure are kept
                return Written(stored, False, False, error)

    def _gather(self, blocks: _Blocks, size: int) -> Tuple[Block, Optional[Exception]]:
        """Up to ``size`` bytes of ``blocks``, and the error that ended the reading early.

        With :attr:`read_block`, reads that much at a time and calls :meth:`_keep`
        between reads; bytes read before an error are returned with it.
        """
        step = self.read_block
        if step is None:
            try:
                return blocks.read(size), None
            except Exception as exc:
                return b"", exc
        parts: List[bytes] = []
        got = 0
        while got < size:
            try:
                piece = blocks.read(min(step, size - got))
            except Exception as exc:
                return b"".join(parts), exc
            if not piece:
                break
            parts.append(bytes(piece))  # kept across reads: a copy (see _Blocks)
            got += len(piece)
            if got < size:
                self._keep()
        return b"".join(parts), None

    def _keep(self) -> None:  # noqa: B027 (a hook: only a lease needs renewing)
        """Renew the lock between two reads of a block, if it is a lease (no-op here)."""

    @abc.abstractmethod
    def _cut(self, offset: int) -> None:
        """Drop the bytes past ``offset``.

        Raises:
            ValueError: fewer than ``offset`` bytes are present.
        """

    @abc.abstractmethod
    def _append(self, position: int, block: Block) -> None:
        """Store ``block`` at ``position`` (the end of the bytes present)."""

    @abc.abstractmethod
    def open(self) -> IO[bytes]:
        """A readable binary file of the upload's first ``offset`` bytes (the caller closes it).

        For a checksum, a ``validate`` callback, or joining partial uploads.
        Bytes past the offset are dropped first.

        Raises:
            FileNotFoundError: the upload is gone.
        """

    @abc.abstractmethod
    def finish(self, key: str, info: CachedFileInfo) -> None:
        """Turn the complete upload into the item ``key``, then forget the upload.

        Atomic: ``cache.load(key)`` fails before and serves all ``offset``
        bytes after; on an error the upload is still there, unchanged.

        Raises:
            ValueError: the record is not complete (``offset != length``).
            UploadFullError: no room for the item.
            OSError: the storage failed.
        """

    @abc.abstractmethod
    def remove(self) -> None:
        """Forget the upload: its record and all its bytes (termination, expiry)."""


class UploadStore(abc.ABC):
    """Unfinished uploads of one cache: ``cache.uploads()``.

    Thread-safe. Ids are keys from ``cache.new_key(uid)``.
    """

    @abc.abstractmethod
    def create(self, upload_id: str, record: Mapping[str, Any]) -> None:
        """Store a new upload with no bytes yet.

        Raises:
            FileExistsError: ``upload_id`` is already an upload.
            ItemElsewhereError: a per-process cache, and not this process's id.
            OSError: the storage failed.
        """

    @abc.abstractmethod
    def record(self, upload_id: str) -> Dict[str, Any]:
        """The upload's record (without the lock: always a whole record, possibly stale).

        Raises:
            FileNotFoundError: unknown, removed or finished
                (:class:`ItemElsewhereError` when held by another process).
        """

    @abc.abstractmethod
    def lock(self, upload_id: str) -> ContextManager[LockedUpload]:
        """Hold the upload's lock for the ``with`` block; never waits.

        Released when the block exits, also on an exception, and when the
        holder dies (the kernel drops a file lock; a Redis lease expires).

        Raises:
            UploadBusyError: another holder has it.
            FileNotFoundError: the upload is gone (or ``ItemElsewhereError``).
            ValueError: its record is damaged (not a JSON object with an ``offset``).
        """

    @abc.abstractmethod
    def ids(self) -> List[str]:
        """The ids of the uploads stored now (in no order)."""

    def remove(self, upload_id: str) -> bool:
        """Remove an upload (lock, then :meth:`LockedUpload.remove`); ``False`` if it was gone.

        Raises:
            UploadBusyError: a request holds it now.
        """
        try:
            with self.lock(upload_id) as upload:
                upload.remove()
        except FileNotFoundError:
            return False
        return True

    def sweep(self, now: float) -> List[str]:
        """Remove the uploads expired at ``now``; return their ids.

        Busy ones are skipped (the next sweep gets them), and so is one
        that a request renewed meanwhile.
        """
        removed = []
        for upload_id in self.ids():
            try:
                with self.lock(upload_id) as upload:
                    if is_expired(upload.record(), now):
                        upload.remove()
                        removed.append(upload_id)
            except (UploadBusyError, FileNotFoundError, ValueError):
                continue
        return removed


# -- files: CachePlain, CacheQueue, CacheFile -------------------------------------------


#: Turns a complete part file into an item: ``(part_path, key, info, size)``.
FinishInto = Callable[[str, str, CachedFileInfo, int], None]


class PartFileStore(UploadStore):
    """Uploads as files in ``directory``: ``<id>.part`` (bytes), ``<id>.json`` (record).

    - **Lock**: ``flock`` on the part file, taken with ``LOCK_NB``: exclusive
      between threads (each lock opens the file anew) and the processes of
      the host that see the directory; the kernel releases it when its holder
      dies. Not for NFS-shared directories.
    - **Record**: written to a temporary file then renamed over (atomic);
      created with ``link`` (exclusive). Only the lock holder changes or
      deletes it, so a removed upload never comes back.
    - **Creation**: part file (``O_EXCL``) first, then record. A creation
      cut short leaves a part without record: never lockable, deleted by
      :meth:`sweep` after :data:`ORPHAN_AGE` seconds.
    - **Finish**: by ``finish_into`` (a rename or a hard link: no copy); the
      record goes after the item exists, then the part.

    Arguments:
        directory: where the files are (created when first needed).
        chunk_bytes: the write block.
        size_limit: bound on one upload's bytes (``None``: none).
        finish_into: makes the item from the part file.
        check_owner: raises ``ItemElsewhereError`` for an id of another process.
    """

    def __init__(
        self,
        directory: str,
        chunk_bytes: int,
        size_limit: Optional[int],
        finish_into: FinishInto,
        check_owner: Callable[[str], None] = lambda upload_id: None,
    ) -> None:
        self.directory, self.chunk_bytes, self.size_limit = directory, chunk_bytes, size_limit
        self._finish_into, self._check_owner = finish_into, check_owner

    def part_path(self, upload_id: str) -> str:
        return os.path.join(self.directory, f"{upload_id}.part")

    def record_path(self, upload_id: str) -> str:
        return os.path.join(self.directory, f"{upload_id}.json")

    def create(self, upload_id: str, record: Mapping[str, Any]) -> None:
        self._check_owner(upload_id)
        record_offset(record)
        os.makedirs(self.directory, exist_ok=True)
        part = self.part_path(upload_id)
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            temp = self._write_temp(record)
            try:
                os.link(temp, self.record_path(upload_id))
            finally:
                os.unlink(temp)
        except BaseException:
            with suppress(OSError):
                os.unlink(part)
            raise

    def _write_temp(self, record: Mapping[str, Any]) -> str:
        """A new temporary file in the directory holding the record as JSON."""
        temp = os.path.join(self.directory, f".{secrets.token_hex(8)}.tmp")
        with open(temp, "x", encoding="utf-8") as out:
            json.dump(dict(record), out, separators=(",", ":"))
        return temp

    def record(self, upload_id: str) -> Dict[str, Any]:
        self._check_owner(upload_id)
        with open(self.record_path(upload_id), encoding="utf-8") as source:
            record: Dict[str, Any] = json.load(source)
        return record

    @contextmanager
    def lock(self, upload_id: str) -> Iterator[LockedUpload]:
        self._check_owner(upload_id)
        part = self.part_path(upload_id)
        fd = os.open(part, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusyError(upload_id) from None
            # Removed (or finished) between our open and our lock: the file is not the upload's.
            mine = os.fstat(fd)
            now = os.stat(part)
            if (mine.st_dev, mine.st_ino) != (now.st_dev, now.st_ino):
                raise FileNotFoundError(errno.ENOENT, "The upload is gone.", part)
            upload = _LockedPart(self, upload_id, fd)
            record_offset(upload.record())  # FileNotFoundError: gone
            yield upload
        finally:
            os.close(fd)  # drops the flock

    def ids(self) -> List[str]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return [name[:-5] for name in names if name.endswith(".json") and name[0] != "."]

    def sweep(self, now: float) -> List[str]:
        """Remove expired uploads, then files that cut-short writes left behind.

        Those are part files without a record and temporary record files,
        once older than :data:`ORPHAN_AGE` seconds at ``now``.
        """
        removed = super().sweep(now)
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return removed
        for name in names:
            path = os.path.join(self.directory, name)
            orphan = name.endswith(".tmp") or (
                name.endswith(".part") and not os.path.exists(path[:-5] + ".json")
            )
            if orphan:
                with suppress(OSError):
                    if os.stat(path).st_mtime < now - ORPHAN_AGE:
                        os.unlink(path)
        return removed


class _LockedPart(LockedUpload):
    """A part file whose ``flock`` is held, written at explicit positions (``pwrite``)."""

    def __init__(self, store: PartFileStore, upload_id: str, fd: int) -> None:
        super().__init__(upload_id, store.chunk_bytes)
        self._store = store
        self._fd = fd

    def record(self) -> Dict[str, Any]:
        return self._store.record(self.upload_id)

    def update(self, record: Mapping[str, Any]) -> None:
        record_offset(record)
        path = self._store.record_path(self.upload_id)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "The upload is gone.", path)
        temp = self._store._write_temp(record)
        try:
            os.replace(temp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise

    def _cut(self, offset: int) -> None:
        present = os.fstat(self._fd).st_size
        if not 0 <= offset <= present:
            raise ValueError(f"Offset {offset} is past the {present} bytes of the upload.")
        if present != offset:
            os.ftruncate(self._fd, offset)

    def _append(self, position: int, block: Block) -> None:
        limit = self._store.size_limit
        end = position + len(block)
        if limit is not None and end > limit:
            raise UploadFullError(
                errno.EFBIG, f"The upload is larger than the cache's size_limit ({limit} bytes)."
            )
        view = memoryview(block)
        while view:
            done = os.pwrite(self._fd, view, position)
            view, position = view[done:], position + done

    def open(self) -> IO[bytes]:
        self._cut(record_offset(self.record()))
        return open(self._store.part_path(self.upload_id), "rb")

    def finish(self, key: str, info: CachedFileInfo) -> None:
        size = check_finishable(self.record())
        self._cut(size)
        part = self._store.part_path(self.upload_id)
        try:
            self._store._finish_into(part, key, info, size)
        except OSError as exc:
            if exc.errno in _FULL_ERRNOS and not isinstance(exc, UploadFullError):
                raise UploadFullError(exc.errno, str(exc)) from exc
            raise
        self.remove()

    def remove(self) -> None:
        # The record first: a part without record is never lockable (and swept later).
        store = self._store
        for path in (store.record_path(self.upload_id), store.part_path(self.upload_id)):
            with suppress(FileNotFoundError):
                os.unlink(path)


def link_or_copy(source: str, target: str, chunk_bytes: int) -> None:
    """Make ``target`` (new) hold ``source``'s bytes: a hard link, else a copy.

    Raises:
        FileExistsError: ``target`` exists.
        OSError: neither worked (a partial copy is removed).
    """
    try:
        os.link(source, target)
        return
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links
        pass
    try:
        with open(source, "rb") as src, open(target, "xb") as out:
            shutil.copyfileobj(src, out, chunk_bytes)
    except BaseException:
        with suppress(OSError):
            os.unlink(target)
        raise
