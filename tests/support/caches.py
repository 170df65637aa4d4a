"""Caches: every kind of the package, made by one factory, and reading their items back."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import dash_file_cache as dfc
from dash_file_cache.caches import CachedFileInfo
from tests.support.redis import shared_redis

if TYPE_CHECKING:
    from typing_extensions import TypeGuard

    from dash_file_cache.caches.redis import CacheRedis

#: Every cache of the package; each contract and hostile-input test runs on all of them.
CACHE_KINDS = ["plain", "queue", "file", "redis"]
#: Caches that several processes share (a real server's workers see one another's items).
SHARED_KINDS = ["file", "redis"]

#: The content of the contract tests' item: 10240 bytes, every byte value 40 times.
DATA = bytes(range(256)) * 40
#: A payload of several 1 MiB chunks, for streaming and ranges on real servers.
PAYLOAD = os.urandom(5 * (1 << 20) + 12345)


def make_cache(
    kind: str,
    directory: Optional[Path] = None,
    *,
    items: int = 8,
    size_limit: Optional[int] = None,
    redis_url: str = "",
    queue_obj: Any = None,
    by_reference: bool = False,
    s3_bucket: str = "",
    s3_endpoint: str = "",
) -> dfc.CacheAbstract:
    """A cache of the given kind: the one factory of the suite.

    Args:
        kind: one of :data:`CACHE_KINDS`, or ``s3`` (a ``CacheS3``: run only by the
            modules that start the Ceph cluster, see ``test_contract_s3.py``).
        directory: the directory of a ``CacheFile``.
        items: the item bound of ``CachePlain`` and ``CacheQueue``.
        size_limit: the byte bound of ``CacheFile`` and ``CacheRedis`` (``None``: unbounded).
        redis_url: the server of a ``CacheRedis`` (default: :func:`shared_redis`).
        queue_obj: the queue of a ``CacheQueue`` (default: a ``queue.Queue()``).
        by_reference: a ``CacheRedis`` keeps registered paths by reference
            (``copy_paths=False``) as the other caches always do.
        s3_bucket, s3_endpoint: the bucket and endpoint of a ``CacheS3`` (credentials:
            the ``AWS_*`` environment variables).

    Raises:
        ValueError: an unknown ``kind``, or ``file`` without ``directory``.
    """
    if kind == "plain":
        return dfc.CachePlain(items)
    if kind == "queue":
        return dfc.CacheQueue(items, queue.Queue() if queue_obj is None else queue_obj)
    if kind == "file":
        if directory is None:
            raise ValueError("a 'file' cache needs directory")
        return dfc.CacheFile(directory, size_limit=size_limit)
    if kind == "redis":
        return dfc.CacheRedis(
            redis_url or shared_redis().url, size_limit=size_limit, copy_paths=not by_reference
        )
    if kind == "s3":
        return dfc.CacheS3(s3_bucket, endpoint_url=s3_endpoint, region="us-east-1", part_size=5)
    raise ValueError(f"cache kind must be one of {CACHE_KINDS} or 's3', got {kind!r}")


def close_cache(cache: dfc.CacheAbstract) -> None:
    """Release the descriptors a test's cache holds: its index connection, its Redis pool.

    Left open, they last as long as anything refers to the cache (a framework's
    module-level cache of a route, a traceback), and a long run of the suite
    reached the 1024-descriptor limit.
    """
    if isinstance(cache, dfc.CacheFile):
        cache.close()
    elif isinstance(cache, dfc.CacheRedis):
        cache.client.connection_pool.disconnect()


def item_info(name: str = "f.bin", one_time: bool = False, created: float = 0.0) -> CachedFileInfo:
    """The metadata a cache stores with an item (for tests that call ``dump`` directly)."""
    return {
        "file_name": name,
        "content_type": "application/octet-stream",
        "one_time_service": one_time,
        "created": created or time.time(),
    }


def read_loaded(loader: Callable[[], Any]) -> bytes:
    """All bytes of what a cache's loader gives (a path or an open stream)."""
    data = loader()
    if isinstance(data, str):
        return Path(data).read_bytes()
    with data:
        return bytes(data.read())


def read_item(cache: dfc.CacheAbstract, uid: str) -> bytes:
    """The content of a cached item."""
    return read_loaded(cache.load(uid)[1])


def is_redis(cache: dfc.CacheAbstract) -> TypeGuard[CacheRedis]:
    """Whether ``cache`` is a ``CacheRedis`` (without importing ``redis`` for the others)."""
    return type(cache).__name__ == "CacheRedis"


def item_count(cache: Any) -> int:
    """How many items a cache holds (``CacheRedis`` has no ``len``: its index keys count)."""
    if is_redis(cache):
        return sum(1 for _ in cache.client.scan_iter(match=f"{cache.prefix}item:*"))
    return len(cache)


def copies_paths(cache: dfc.CacheAbstract) -> bool:
    """Whether the cache copies a registered path (so the address outlives the file)."""
    return bool(getattr(cache, "copy_paths", False))
