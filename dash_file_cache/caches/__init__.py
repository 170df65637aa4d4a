"""Cache backends: where registered items live until they are served.

- :class:`CachePlain`: LRU in the memory of the serving process.
- :class:`CacheQueue`: LRU in the serving process, fed by child processes through a queue.
- :class:`CacheFile`: on disk (``diskcache``), shared by the processes of one host.
- :class:`CacheRedis`: on a Redis server, shared by processes and hosts (needs the
  ``redis`` package; imported lazily, on first use of the name).
- :class:`CacheS3`: in an S3 bucket, shared by processes and hosts (needs ``boto3``;
  imported lazily, on first use of the name).

:func:`start_manager` / :func:`manager_queue` give ``CacheQueue`` a ``multiprocess``
Manager that stops with the process that started it (SIGTERM and SIGKILL included).

All implement :class:`CacheAbstract`.
"""

from typing import TYPE_CHECKING, Any, Callable

from . import abstract, lrudict, memory, tempfile, typehints  # the last four: 0.2.0's
from ._manager import manager_queue, start_manager
from .abstract import (
    CacheAbstract,
    CachedData,
    CachedFileInfo,
    CachedLoader,
    CacheUnavailableError,
    ItemElsewhereError,
)
from .file import CacheFile
from .plain import CachePlain
from .queue import CacheQueue, QueueLike

if TYPE_CHECKING:  # pragma: no cover
    from .redis import CacheRedis as CacheRedis
    from .s3 import CacheS3 as CacheS3

__all__ = [
    "CacheAbstract",
    "CacheFile",
    "CachePlain",
    "CacheQueue",
    "CacheUnavailableError",
    "CachedData",
    "CachedFileInfo",
    "CachedLoader",
    "ItemElsewhereError",
    "QueueLike",
    "abstract",
    "lrudict",
    "manager_queue",
    "memory",
    "start_manager",
    "tempfile",
    "typehints",
]


def _lazy_getattr(module: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports :class:`CacheRedis` or :class:`CacheS3`
    on first use, so ``redis`` and ``boto3`` stay optional (used here and by the package).

    The returned function raises:
        ImportError: ``CacheRedis`` (``CacheS3``) was asked for and ``redis``
            (``boto3``) is not installed.
        AttributeError: any other unknown name (naming ``module``).
    """

    def __getattr__(name: str) -> Any:
        if name == "CacheRedis":
            from .redis import CacheRedis

            return CacheRedis
        if name == "CacheS3":
            from .s3 import CacheS3

            return CacheS3
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


__getattr__ = _lazy_getattr(__name__)
