"""Cache backends: where registered items live until they are served.

- :class:`CachePlain`: LRU in the memory of the serving process.
- :class:`CacheQueue`: LRU in the serving process, fed by child processes through a queue.
- :class:`CacheFile`: on disk (``diskcache``), shared by the processes of one host.
- :class:`CacheRedis`: on a Redis server, shared by processes and hosts (needs the
  ``redis`` package; imported lazily, on first use of the name).

:func:`start_manager` / :func:`manager_queue` give ``CacheQueue`` a ``multiprocess``
Manager that stops with the process that started it (SIGTERM and SIGKILL included).

All implement :class:`CacheAbstract`.
"""

from typing import TYPE_CHECKING, Any

from ._manager import manager_queue, start_manager
from .abstract import (
    CacheAbstract,
    CachedData,
    CachedFileInfo,
    CachedLoader,
    CacheUnavailableError,
)
from .file import CacheFile
from .plain import CachePlain
from .queue import CacheQueue, QueueLike

if TYPE_CHECKING:  # pragma: no cover
    from .redis import CacheRedis as CacheRedis

__all__ = [
    "CacheAbstract",
    "CacheFile",
    "CachePlain",
    "CacheQueue",
    "CacheUnavailableError",
    "CachedData",
    "CachedFileInfo",
    "CachedLoader",
    "QueueLike",
    "manager_queue",
    "start_manager",
]


def __getattr__(name: str) -> Any:
    """Import :class:`CacheRedis` on first use, so ``redis`` stays optional.

    Raises:
        ImportError: ``CacheRedis`` was asked for and ``redis`` is not installed.
        AttributeError: any other unknown name.
    """
    if name == "CacheRedis":
        from .redis import CacheRedis

        return CacheRedis
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
