# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
"""Deprecated (removed in 0.5.0): 0.2.0's ``dash_file_cache.caches.tempfile``; import from
``dash_file_cache``."""

from .._compat import deprecated_names

__all__ = ["CacheFile"]

__getattr__ = deprecated_names(
    __name__,
    {"CacheFile": ("dash_file_cache.caches.file:CacheFile", "dash_file_cache.CacheFile")},
)
