"""LRU cache in the serving process, fed by a queue from other processes."""

from __future__ import annotations

import logging
import queue
import threading
from typing import IO, Any, Callable, ContextManager, Dict, Optional, Protocol, Tuple, Union

from .._legacy.caches import CacheQueue020
from ._process import (
    in_dash_background_job,
    is_serving_process,
    item_elsewhere,
    key_tag,
    parent_token,
    process_token,
    tag_key,
)
from ._spool import (
    SPOOL_MIN_BYTES,
    OwnedPath,
    create_spool,
    orphans,
    spool_write,
)
from .abstract import (
    CacheAbstract,
    CachedData,
    CachedFileInfo,
    open_in_memory,
    read_all,
    read_block,
)
from .plain import CachePlain
from .uploads import UploadStore

__all__ = ["CacheQueue", "QueueLike"]

_log = logging.getLogger(__name__)


class QueueLike(Protocol):
    """What :class:`CacheQueue` needs from a queue."""

    def put(self, item: Any) -> None: ...  # pragma: no cover

    def get_nowait(self) -> Any: ...  # pragma: no cover


class CacheQueue(CacheAbstract[CachedFileInfo, CachedData], CacheQueue020):
    """LRU cache in the serving process that child processes feed through a queue.

    Made for Dash background callbacks with ``dash.DiskcacheManager``: the
    callback runs in a child process started by ``multiprocess``, where a
    :class:`~dash_file_cache.CachePlain` would store the item in the child's
    memory, lost when the child exits. Here, ``dump`` in a child process puts
    the item on ``qobj``; the serving process moves queued items into its LRU
    when a key is missing.

    Large content (1 MiB and more) does not travel through the queue: the
    child writes it to a file in the serving process's spool directory and
    queues the file's name; the serving process then owns the file, serves the
    item from it, and deletes it when the item is evicted, removed or claimed.
    Files of children that die before handing them over are deleted by the
    serving process, and the spool directory goes when the serving process
    exits (or, after a ``SIGKILL``, when the next serving process starts).

    No race: ``put`` on a ``multiprocess.Manager().Queue()`` returns only once
    the manager holds the item, and a lookup that misses drains the queue
    before answering. So an address returned in a child is servable as soon as
    the child returns it, and one returned in the serving process at once.
    (A ``multiprocess.Queue()`` does *not* give that guarantee: its ``put``
    returns before the item is sent. Use a Manager queue.)

    The serving process is decided by
    :func:`dash_file_cache.caches._process.is_serving_process` (a Dash
    background job never serves). Only one process serves: keys carry the
    serving process's token, so under several gunicorn workers an address
    asked of another worker answers 404 naming the cause
    (:class:`~dash_file_cache.caches.ItemElsewhereError`); use
    :class:`~dash_file_cache.CacheFile` there.

    Arguments:
        cache_size: how many items the serving process keeps (LRU).
        qobj: the queue; a ``multiprocess.Manager().Queue()`` for child
            processes, or a ``queue.Queue`` when only threads register. It may
            also be a zero-argument factory returning the queue, called in the
            serving process when first needed (at the latest by
            :meth:`ServiceData.serve`), or ``None`` and set later via
            :attr:`qobj` (e.g. under ``if __name__ == "__main__":``).

    Raises:
        TypeError, ValueError: bad ``cache_size`` or ``qobj``.
    """

    def __init__(
        self,
        cache_size: int,
        qobj: Union[QueueLike, Callable[[], QueueLike], None] = None,
    ) -> None:
        self._local = CachePlain(cache_size)
        self._local._name = "CacheQueue"
        self._owner = process_token()
        # Token of the serving process, carried to spawned children by pickling.
        self._server_token: Optional[str] = None
        self._spool: Optional[str] = None
        self._queue: Optional[QueueLike] = None
        self._factory: Optional[Callable[[], QueueLike]] = None
        self._drain_lock = threading.Lock()
        self.qobj = qobj

    # -- where are we -----------------------------------------------------
    def _is_server(self) -> bool:
        return is_serving_process(self._owner)

    def _target_token(self) -> Optional[str]:
        """Token of the serving process that will hold an item registered here."""
        if self._is_server():
            return process_token()
        return self._server_token or parent_token()

    @property
    def cache_size(self) -> int:
        """The maximal number of items kept by the serving process."""
        return self._local.cache_size

    @property
    def qobj(self) -> Optional[QueueLike]:
        """The queue (a factory is resolved on first access in the serving process)."""
        if self._queue is None and self._factory is not None and self._is_server():
            self._queue = self._factory()
            self._factory = None
        return self._queue

    @qobj.setter
    def qobj(self, value: Union[QueueLike, Callable[[], QueueLike], None]) -> None:
        if value is None:
            self._queue, self._factory = None, None
        elif hasattr(value, "put") and hasattr(value, "get_nowait"):
            self._queue, self._factory = value, None  # type: ignore[assignment]
        elif callable(value):
            self._queue, self._factory = None, value
        else:
            raise TypeError(
                "qobj must be a queue (with put and get_nowait), a factory returning one, "
                f"or None; got {type(value).__name__}."
            )

    def prepare(self) -> None:
        """Record this process as the serving one (called by ``ServiceData.serve``);
        resolve a queue factory and create the spool directory now, so that
        child processes inherit both. Does nothing in a Dash background job.

        Raises:
            OSError: the spool directory cannot be created.
        """
        if in_dash_background_job():
            return
        self._owner = process_token()
        self._local.prepare()
        self._setup()

    def _setup(self) -> None:
        _ = self.qobj
        if self._spool is None:
            self._spool = create_spool()

    def _drain(self) -> None:
        """Move every queued item into the local LRU.

        Serialised by a lock: a lookup that missed waits for a drain under way
        in another thread, which may be holding the very item it looks for.
        """
        with self._drain_lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        q = self.qobj
        if q is None:
            return
        while True:
            try:
                message = q.get_nowait()
            except queue.Empty:
                return
            except (EOFError, OSError) as exc:  # the manager process is gone
                _log.warning("CacheQueue: queue unreadable (%s); serving local items.", exc)
                return
            self._accept(*message)

    def _accept(self, key: str, info: CachedFileInfo, stored: Any, spooled: bool = False) -> None:
        """Take a queued item; drop (and delete) one meant for another process."""
        content: Union[str, bytes] = OwnedPath(stored) if spooled else stored
        tag = key_tag(key)
        if tag is not None and tag != process_token():
            _log.warning(
                "CacheQueue: dropped an item queued for another server process; "
                "several processes read one queue (use CacheFile or CacheRedis)."
            )
            if isinstance(content, OwnedPath):
                content.discard()
            return
        self._local._put_stored(key, (info, content))

    def _sweep(self) -> None:
        """Delete spool files whose writer died before queueing them.

        The candidates are listed first, then the queue is drained again: a
        writer that is dead had finished any ``put``, so what it queued is
        owned by now, and only true orphans are deleted.
        """
        if self._spool is None:
            return
        token = process_token()
        with self._drain_lock:
            found = orphans(self._spool, token, self._owns)
            if not found:
                return
            self._drain_locked()
            for path in found:
                if not self._owns(path):
                    OwnedPath(path).discard()

    def _owns(self, path: str) -> bool:
        with self._local._lock:
            return any(content == path for _, content in self._local._items.values())

    # -- CacheAbstract ----------------------------------------------------
    def new_key(self, uid: str) -> str:
        """``uid`` tagged with the token of the serving process that will hold it."""
        token = self._target_token()
        return uid if token is None else tag_key(uid, token)

    def is_in(self, key: str) -> bool:
        if not self._local._held_here(key):
            return False
        if self._local.is_in(key):
            return True
        self._drain()
        return self._local.is_in(key)

    def dump(self, key: str, info: CachedFileInfo, data: CachedData) -> None:
        """Store locally in the serving process; elsewhere put the item on the queue.

        In a child, content of 1 MiB or more is written to a spool file whose
        name is queued; smaller content is queued itself.

        Raises:
            RuntimeError: called in a child process and no queue was given.
            OSError: the spool file could not be written (nothing is left).
        """
        if self._is_server():
            self._local._put_stored(key, (info, _materialise(data)))
            return
        q = self.qobj
        if q is None:
            raise RuntimeError(
                "CacheQueue has no queue in this child process, so the item would be "
                "lost. Give it one in the main process: CacheQueue(cache_size, "
                "multiprocess.Manager().Queue()), or set cache.qobj before background "
                "callbacks run."
            )
        if isinstance(data, str):
            q.put((key, info, data, False))
            return
        head = read_block(data, SPOOL_MIN_BYTES)
        token = key_tag(key)
        if len(head) < SPOOL_MIN_BYTES or self._spool is None or token is None:
            q.put((key, info, head + read_all(data), False))
            return
        path = spool_write(self._spool, token, data, head)
        try:
            q.put((key, info, path, True))
        except BaseException:
            OwnedPath(path).discard()
            raise

    def load(self, key: str) -> Tuple[CachedFileInfo, Callable[[], CachedData]]:
        """Return the item's info and loader, draining the queue on a miss.

        Raises:
            ItemElsewhereError: ``key`` belongs to another server process.
            FileNotFoundError: ``key`` is neither cached nor queued.
        """
        if not self._local._held_here(key):
            raise item_elsewhere("CacheQueue", key)
        try:
            return self._local.load(key)
        except FileNotFoundError:
            self._drain()
            self._sweep()
        return self._local.load(key)

    def remove(self, key: str) -> bool:
        if self._local.remove(key):
            return True
        if not self._local._held_here(key):
            return False
        self._drain()
        return self._local.remove(key)

    def __len__(self) -> int:
        return len(self._local)

    def __getstate__(self) -> Dict[str, Any]:
        # A child never serves: ship the queue, spool and server token, not the items.
        if self._is_server():
            self._setup()
        state = self.__dict__.copy()
        del state["_drain_lock"]
        state["_local"] = CachePlain(self._local.cache_size)
        state["_local"]._name = "CacheQueue"
        state["_server_token"] = self._target_token()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._drain_lock = threading.Lock()

    def open_item(self, key: str, info: CachedFileInfo) -> ContextManager[IO[bytes]]:
        """Write an item's content; stored on clean exit (see :meth:`CacheAbstract.open_item`).

        In the serving process the content is written into memory and kept
        there. In a child process it is written to an anonymous temporary
        file, then handed to :meth:`dump`, which sends it to the serving
        process as any registered item, so the child never holds it whole.
        """
        if self._is_server():
            return open_in_memory(self, key, info)
        return super().open_item(key, info)

    def uploads(self) -> UploadStore:
        """Unfinished uploads, kept by the serving process (as :meth:`CachePlain.uploads`).

        A finished upload becomes an item of the serving process's LRU, served
        from its file. In any other process its id raises ``ItemElsewhereError``.

        Raises:
            OSError: the spool directory cannot be created.
        """
        return self._local.uploads()


def _materialise(data: CachedData) -> Union[str, bytes]:
    return data if isinstance(data, str) else read_all(data)
