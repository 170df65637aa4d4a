"""LRU cache in the serving process, fed by a queue from other processes."""

from __future__ import annotations

import logging
import os
import queue
import threading
from typing import Any, Callable, Dict, Optional, Protocol, Tuple, Union

from ._process import has_mp_parent, in_dash_background_job
from .abstract import CacheAbstract, CachedData, CachedFileInfo, read_all
from .plain import CachePlain

__all__ = ["CacheQueue", "QueueLike"]

_log = logging.getLogger(__name__)


class QueueLike(Protocol):
    """What :class:`CacheQueue` needs from a queue."""

    def put(self, item: Any) -> None: ...  # pragma: no cover

    def get_nowait(self) -> Any: ...  # pragma: no cover


class CacheQueue(CacheAbstract[CachedFileInfo, CachedData]):
    """LRU cache in the serving process that child processes feed through a queue.

    Made for Dash background callbacks with ``dash.DiskcacheManager``: the
    callback runs in a child process started by ``multiprocess``, where a
    :class:`~dash_file_cache.CachePlain` would store the item in the child's
    memory, lost when the child exits. Here, ``dump`` in a child process puts
    the item on ``qobj``; the serving process moves queued items into its LRU
    when a key is missing.

    No race: ``put`` on a ``multiprocess.Manager().Queue()`` returns only once
    the manager holds the item, and a lookup that misses drains the queue
    before answering. So an address returned in a child is servable as soon as
    the child returns it, and one returned in the serving process at once.
    (A ``multiprocess.Queue()`` does *not* give that guarantee: its ``put``
    returns before the item is sent. Use a Manager queue.)

    The serving process is the one that created the cache, or any process not
    started by ``multiprocess``/``multiprocessing`` (e.g. a gunicorn worker),
    unless a Dash background callback runs there.
    Only one process should serve: with several gunicorn workers each drains
    its own share of the queue; use :class:`~dash_file_cache.CacheFile` there.

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
        self._owner_pid = os.getpid()
        self._queue: Optional[QueueLike] = None
        self._factory: Optional[Callable[[], QueueLike]] = None
        self._drain_lock = threading.Lock()
        self.qobj = qobj

    # -- queue management -------------------------------------------------
    def _is_server(self) -> bool:
        if in_dash_background_job():
            return False
        return os.getpid() == self._owner_pid or not has_mp_parent()

    @property
    def cache_size(self) -> int:
        """The maximal number of items kept by the serving process."""
        return self._local.cache_size

    @property
    def mirror(self) -> CacheQueue:
        """Deprecated (0.2.0): the cache to use in child processes; now the cache itself,
        as ``dump`` works from any process."""
        from .._compat import warn_deprecated

        warn_deprecated("CacheQueue.mirror", "the CacheQueue itself (dump works in children)")
        return self

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
        """Resolve a queue factory now, so child processes inherit the queue."""
        _ = self.qobj

    def _drain(self) -> None:
        """Move every queued item into the local LRU.

        Serialised by a lock: a lookup that missed waits for a drain under way
        in another thread, which may be holding the very item it looks for.
        """
        with self._drain_lock:
            q = self.qobj
            if q is None:
                return
            while True:
                try:
                    key, info, stored = q.get_nowait()
                except queue.Empty:
                    return
                except (EOFError, OSError) as exc:  # the manager process is gone
                    _log.warning("CacheQueue: queue unreadable (%s); serving local items.", exc)
                    return
                self._local._put_stored(key, (info, stored))

    # -- CacheAbstract ----------------------------------------------------
    def is_in(self, key: str) -> bool:
        if self._local.is_in(key):
            return True
        self._drain()
        return self._local.is_in(key)

    def dump(self, key: str, info: CachedFileInfo, data: CachedData) -> None:
        """Store locally in the serving process; elsewhere put the item on the queue.

        Raises:
            RuntimeError: called in a child process and no queue was given.
        """
        if self._is_server():
            self._local.dump(key, info, data)
            return
        q = self.qobj
        if q is None:
            raise RuntimeError(
                "CacheQueue has no queue in this child process, so the item would be "
                "lost. Give it one in the main process: CacheQueue(cache_size, "
                "multiprocess.Manager().Queue()), or set cache.qobj before background "
                "callbacks run."
            )
        q.put((key, info, data if isinstance(data, str) else read_all(data)))

    def load(self, key: str) -> Tuple[CachedFileInfo, Callable[[], CachedData]]:
        """Return the item's info and loader, draining the queue on a miss.

        Raises:
            FileNotFoundError: ``key`` is neither cached nor queued.
        """
        try:
            return self._local.load(key)
        except FileNotFoundError:
            self._drain()
        return self._local.load(key)

    def remove(self, key: str) -> bool:
        if self._local.remove(key):
            return True
        self._drain()
        return self._local.remove(key)

    def __len__(self) -> int:
        return len(self._local)

    def __getstate__(self) -> Dict[str, Any]:
        # A child never serves: ship the queue, not the local items.
        self.prepare()
        state = self.__dict__.copy()
        del state["_drain_lock"]
        state["_local"] = CachePlain(self._local.cache_size)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._drain_lock = threading.Lock()
