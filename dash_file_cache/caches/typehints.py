"""Deprecated (removed in 0.5.0): 0.2.0's ``dash_file_cache.caches.typehints``.

These described 0.2.0's cache records; the new cache interface is
:class:`~dash_file_cache.caches.CachedFileInfo` and
:data:`~dash_file_cache.caches.CachedData` (see ``CacheAbstract``).
"""

# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
from .._compat import deprecated_names

__all__ = [
    "CachedBytesIO",
    "CachedData",
    "CachedFileInfo",
    "CachedPath",
    "CachedStringIO",
    "Deferred",
]

_OLD = "dash_file_cache._legacy.typehints:"
_NEW = "dash_file_cache.caches.CachedFileInfo / CachedData (the CacheAbstract interface)"
__getattr__ = deprecated_names(
    __name__,
    {
        "Deferred": (_OLD + "Deferred", "typing.Callable[[], T]"),
        "CachedFileInfo": (
            "dash_file_cache.caches.abstract:CachedFileInfo",
            "dash_file_cache.caches.CachedFileInfo",
        ),
        "CachedData": (
            "dash_file_cache.caches.abstract:CachedData",
            "dash_file_cache.caches.CachedData",
        ),
        "CachedPath": (_OLD + "CachedPath", _NEW),
        "CachedStringIO": (_OLD + "CachedStringIO", _NEW),
        "CachedBytesIO": (_OLD + "CachedBytesIO", _NEW),
    },
)
