# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
"""Deprecated (removed in 0.5.0): 0.2.0's ``dash_file_cache.caches.memory``; import from
``dash_file_cache``."""

from .._compat import deprecated_names

__all__ = ["CachePlain", "CacheQueue"]

__getattr__ = deprecated_names(
    __name__,
    {
        "CachePlain": ("dash_file_cache.caches.plain:CachePlain", "dash_file_cache.CachePlain"),
        "CacheQueue": ("dash_file_cache.caches.queue:CacheQueue", "dash_file_cache.CacheQueue"),
    },
)
