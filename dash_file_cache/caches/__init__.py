"""Cache backends: where registered items live until they are served.

- :class:`CachePlain`: LRU in the memory of the serving process.
- :class:`CacheQueue`: LRU in the serving process, fed by child processes through a queue.
- :class:`CacheFile`: on disk (``diskcache``), shared by the processes of one host.

All implement :class:`CacheAbstract`.
"""

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
]
