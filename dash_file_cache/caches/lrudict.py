# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
"""Deprecated (removed in 0.5.0): 0.2.0's ``dash_file_cache.caches.lrudict`` (an LRU mapping)."""

from .._compat import deprecated_names

__all__ = ["LRUDict", "MutableMapping"]

__getattr__ = deprecated_names(
    __name__,
    {
        "LRUDict": (
            "dash_file_cache._legacy.lrudict:LRUDict",
            "collections.OrderedDict with move_to_end/popitem(last=False), or CachePlain",
        ),
        "MutableMapping": ("collections.abc:MutableMapping", "collections.abc.MutableMapping"),
    },
)
