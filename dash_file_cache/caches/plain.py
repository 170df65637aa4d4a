"""In-process LRU cache."""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from typing import IO, Any, Callable, ContextManager, Dict, Tuple, Union

from .._validate import check_positive_int
from ._process import has_mp_parent, has_request_context, in_dash_background_job
from .abstract import CacheAbstract, CachedData, CachedFileInfo, open_in_memory, read_all

__all__ = ["CachePlain"]

# What is stored: a path (str) or the content (bytes).
_Stored = Tuple[CachedFileInfo, Union[str, bytes]]


class CachePlain(CacheAbstract[CachedFileInfo, CachedData]):
    """Least-recently-used cache in the memory of the current process.

    The fastest backend, and the right one when registering and serving happen
    in one process (the Dash development server, one gunicorn worker with
    threads). It is not shared between processes: an item registered in a
    background-callback process or in another gunicorn worker is invisible
    here; use :class:`~dash_file_cache.CacheQueue` or
    :class:`~dash_file_cache.CacheFile` for that.

    Thread-safe. In-memory items are held as ``bytes``; path items hold only
    the path.

    Arguments:
        cache_size: how many items to keep; registering one more evicts the
            least recently used item.

    Registering from a Dash background callback, or from a child process
    outside any request, raises ``RuntimeError`` instead of returning an
    address that would 404.

    Raises:
        TypeError: ``cache_size`` is not an ``int``.
        ValueError: ``cache_size`` is smaller than 1.
    """

    def __init__(self, cache_size: int) -> None:
        self._cache_size = check_positive_int("cache_size", cache_size)
        self._owner_pid = os.getpid()
        self._items: OrderedDict[str, _Stored] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def cache_size(self) -> int:
        """The maximal number of items."""
        return self._cache_size

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def keys(self) -> Tuple[str, ...]:
        """The cached keys, least recently used first."""
        with self._lock:
            return tuple(self._items)

    def is_in(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def dump(self, key: str, info: CachedFileInfo, data: CachedData) -> None:
        """Store an item, evicting the least recently used ones beyond ``cache_size``.

        A file-object ``data`` is read to its end first (outside the lock).

        Raises:
            RuntimeError: called where the item would be lost with the process
                (a Dash background callback, or a child process outside a request).
        """
        if in_dash_background_job() or (
            os.getpid() != self._owner_pid and has_mp_parent() and not has_request_context()
        ):
            raise RuntimeError(
                "CachePlain keeps items in the memory of one process, and this is a "
                "background callback or child process: the item would vanish with it and "
                "the address would 404. Use ServiceData(CacheQueue(cache_size, "
                "multiprocess.Manager().Queue())) or ServiceData(CacheFile(cache_dir)) instead."
            )
        stored: Union[str, bytes] = data if isinstance(data, str) else read_all(data)
        self._put_stored(key, (info, stored))

    def _put_stored(self, key: str, item: _Stored) -> None:
        """Insert an already materialised item (used by :class:`CacheQueue`)."""
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._cache_size:
                self._items.popitem(last=False)

    def load(self, key: str) -> Tuple[CachedFileInfo, Callable[[], CachedData]]:
        """Return the item's info and loader, and mark it as recently used.

        Raises:
            FileNotFoundError: ``key`` is not cached.
        """
        with self._lock:
            try:
                info, stored = self._items[key]
            except KeyError:
                raise FileNotFoundError(f"No cached item for key {key!r}.") from None
            self._items.move_to_end(key)
        if isinstance(stored, str):
            return info, lambda: stored
        # BytesIO over a bytes object shares its buffer: no copy per request.
        return info, lambda: io.BytesIO(stored)

    def remove(self, key: str) -> bool:
        with self._lock:
            return self._items.pop(key, None) is not None

    def __getstate__(self) -> Dict[str, Any]:
        # Background-callback processes pickle the service; locks do not pickle.
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def open_item(self, key: str, info: CachedFileInfo) -> ContextManager[IO[bytes]]:
        """Write an item's content into memory (a ``BytesIO``), stored on clean exit.

        See :meth:`CacheAbstract.open_item`. The buffer is taken by
        :meth:`dump` without a copy.
        """
        return open_in_memory(self, key, info)
