"""In-process LRU cache."""

from __future__ import annotations

import io
import os
import secrets
import threading
from collections import OrderedDict
from typing import IO, Any, Callable, ContextManager, Dict, Optional, Tuple, Union

from .._legacy.caches import CachePlain020
from .._validate import check_positive_int
from ._process import (
    in_dash_background_job,
    is_serving_process,
    item_elsewhere,
    key_tag,
    process_token,
    tag_key,
)
from ._spool import OwnedPath, create_spool
from .abstract import CacheAbstract, CachedData, CachedFileInfo, open_in_memory, read_all
from .uploads import PartFileStore, UploadStore

__all__ = ["CachePlain"]

# What is stored: a path (str) or the content (bytes).
_Stored = Tuple[CachedFileInfo, Union[str, bytes]]


class CachePlain(CacheAbstract[CachedFileInfo, CachedData], CachePlain020):
    """Least-recently-used cache in the memory of the current process.

    The fastest backend, and the right one when registering and serving happen
    in one process (the Dash development server, one gunicorn worker with
    threads). It is not shared between processes: an item registered in a
    background-callback process or in another gunicorn worker is invisible
    here; use :class:`~dash_file_cache.CacheQueue` or
    :class:`~dash_file_cache.CacheFile` for that.

    Keys carry the token of the process that holds the item
    (:meth:`new_key`): in any other process (another gunicorn worker, or a
    worker forked with ``--preload`` after the item was registered), ``load``
    raises :class:`~dash_file_cache.caches.ItemElsewhereError`, so the address
    answers 404 with a message naming the cause and the fix, and the item is
    never served by a process that does not own it (a one-time item once).

    Thread-safe. In-memory items are held as ``bytes``; path items hold only
    the path.

    Arguments:
        cache_size: how many items to keep; registering one more evicts the
            least recently used item.

    Registering where the item would be lost, i.e. outside the serving
    process (a Dash background job of ``DiskcacheManager`` or
    ``CeleryManager``, or another ``multiprocess`` child), raises
    ``RuntimeError`` instead of returning an address that would 404. The rule
    is :func:`dash_file_cache.caches._process.is_serving_process`.

    Raises:
        TypeError: ``cache_size`` is not an ``int``.
        ValueError: ``cache_size`` is smaller than 1.
    """

    def __init__(self, cache_size: int) -> None:
        self._cache_size = check_positive_int("cache_size", cache_size)
        self._owner = process_token()
        self._name = "CachePlain"  # in messages; CacheQueue's LRU says CacheQueue
        self._items: OrderedDict[str, _Stored] = OrderedDict()
        self._lock = threading.Lock()
        self._uploads: Optional[Tuple[int, PartFileStore]] = None

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

    def new_key(self, uid: str) -> str:
        """``uid`` tagged with this process's token: the item lives here."""
        return tag_key(uid, process_token())

    def prepare(self) -> None:
        """Record this process as the serving one (called by ``ServiceData.serve``).

        Does nothing in a Dash background job, which never serves.
        """
        if not in_dash_background_job():
            self._owner = process_token()

    def is_in(self, key: str) -> bool:
        if not self._held_here(key):
            return False
        with self._lock:
            return key in self._items

    @staticmethod
    def _held_here(key: str) -> bool:
        """Whether ``key`` names an item of this process (untagged keys: any process)."""
        tag = key_tag(key)
        return tag is None or tag == process_token()

    def dump(self, key: str, info: CachedFileInfo, data: CachedData) -> None:
        """Store an item, evicting the least recently used ones beyond ``cache_size``.

        A file-object ``data`` is read to its end first (outside the lock).

        Raises:
            RuntimeError: called outside the serving process (a Dash background
                job, or another child process), where the item would be lost.
        """
        if not is_serving_process(self._owner):
            raise RuntimeError(
                "CachePlain keeps items in the memory of the serving process, and this is "
                "a background callback or another child process: the item would vanish "
                "with it and the address would 404. Use ServiceData(CacheQueue(cache_size, "
                "multiprocess.Manager().Queue())) or ServiceData(CacheFile(cache_dir)) instead."
            )
        stored: Union[str, bytes] = data if isinstance(data, str) else read_all(data)
        self._put_stored(key, (info, stored))

    def _put_stored(self, key: str, item: _Stored) -> None:
        """Insert an already materialised item (used by :class:`CacheQueue`).

        A :class:`~._spool.OwnedPath` content is deleted when its item is
        replaced, evicted or removed.
        """
        gone = []
        with self._lock:
            old = self._items.get(key)
            if old is not None and old[1] is not item[1]:
                gone.append(old[1])
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._cache_size:
                gone.append(self._items.popitem(last=False)[1][1])
        _discard(gone)

    def load(self, key: str) -> Tuple[CachedFileInfo, Callable[[], CachedData]]:
        """Return the item's info and loader, and mark it as recently used.

        Raises:
            ItemElsewhereError: ``key`` was registered by another process.
            FileNotFoundError: ``key`` is not cached.
        """
        if not self._held_here(key):
            raise item_elsewhere(self._name, key)
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
        if not self._held_here(key):
            return False
        with self._lock:
            item = self._items.pop(key, None)
        if item is None:
            return False
        _discard([item[1]])
        return True

    def __getstate__(self) -> Dict[str, Any]:
        # Background-callback processes pickle the service; locks do not pickle.
        state = self.__dict__.copy()
        del state["_lock"]
        state["_uploads"] = None
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

    def uploads(self) -> UploadStore:
        """Unfinished uploads, kept by this process in files of its spool directory.

        Part files in a private directory of this process (removed when it
        exits; by the next ``CachePlain`` on the host after a ``SIGKILL``),
        locked with ``flock`` (between the threads of this process). Ids
        come from :meth:`new_key`; another process's id raises
        ``ItemElsewhereError``. A finished upload becomes an item served
        from its file, renamed (not copied) and deleted with the item.

        Raises:
            OSError: the spool directory cannot be created.
        """
        pid = os.getpid()
        with self._lock:  # one store (one directory) per process, also under racing requests
            if self._uploads is None or self._uploads[0] != pid:
                store = PartFileStore(
                    os.path.join(create_spool(), "uploads"),
                    chunk_bytes=1 << 20,
                    size_limit=None,
                    finish_into=self._finish_upload,
                    check_owner=self._check_upload_owner,
                )
                self._uploads = (pid, store)
            return self._uploads[1]

    def _check_upload_owner(self, upload_id: str) -> None:
        if not self._held_here(upload_id):
            raise item_elsewhere(self._name, upload_id)

    def _finish_upload(self, part: str, key: str, info: CachedFileInfo, size: int) -> None:
        """Rename a finished part file into an owned item file (atomic: one rename)."""
        path = os.path.join(
            os.path.dirname(os.path.dirname(part)),
            f"{process_token()}-{os.getpid()}-{secrets.token_hex(8)}.item",
        )
        os.rename(part, path)
        self._put_stored(key, (info, OwnedPath(path)))


def _discard(contents: list[Union[str, bytes]]) -> None:
    """Delete the spool files among contents that left the cache."""
    for content in contents:
        if isinstance(content, OwnedPath):
            content.discard()
