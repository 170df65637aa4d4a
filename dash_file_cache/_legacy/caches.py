"""0.2.0's members of the cache classes, as mixins the live classes inherit.

The live class bodies hold only the live API; each keeps its 0.2.0 members by
inheriting one mixin here (last among its bases, so a live member always
wins). A deprecated member warns and still works; a removed one raises
``AttributeError`` naming its replacement (see :mod:`dash_file_cache._compat`).
The mixins hold no state: pickling and the live classes' attributes are
unchanged.
"""

from __future__ import annotations

from typing import Callable, Tuple, TypeVar

from typing_extensions import Protocol

from .._compat import removed_member, warn_deprecated

__all__ = ["CacheAbstract020", "CacheFile020", "CachePlain020", "CacheQueue020"]

S = TypeVar("S")
T = TypeVar("T")
S_co = TypeVar("S_co", covariant=True)
T_co = TypeVar("T_co", covariant=True)
Q = TypeVar("Q")


class _Loads(Protocol[S_co, T_co]):
    """What the mixin of :class:`CacheAbstract020` needs of its class."""

    def load(self, key: str) -> Tuple[S_co, Callable[[], T_co]]: ...


class _HasCacheDir(Protocol):
    @property
    def cache_dir(self) -> str: ...


class CacheAbstract020:
    """0.2.0's ``load_info`` and ``load_data`` (deprecated), on every cache."""

    __slots__ = ()

    def load_info(self: _Loads[S, T], key: str) -> S:
        """Deprecated (0.2.0; removed in 0.5.0): ``load(key)[0]``.

        Raises:
            FileNotFoundError: ``key`` is not cached.
        """
        warn_deprecated("CacheAbstract.load_info", "cache.load(key)[0]")
        return self.load(key)[0]

    def load_data(self: _Loads[S, T], key: str) -> T:
        """Deprecated (0.2.0; removed in 0.5.0): ``load(key)[1]()``, the content (the
        caller closes a stream).

        Raises:
            FileNotFoundError: ``key`` is not cached.
        """
        warn_deprecated("CacheAbstract.load_data", "cache.load(key)[1]()")
        return self.load(key)[1]()


class CachePlain020:
    """0.2.0's ``CachePlain.cache`` (removed: it exposed the LRUDict)."""

    __slots__ = ()

    cache = removed_member(
        "CachePlain.cache", "`key in cache`, cache.keys(), cache.load(key) and cache.remove(key)"
    )


class CacheQueue020:
    """0.2.0's ``CacheQueue.mirror`` (deprecated) and ``CacheQueue.cache`` (removed)."""

    __slots__ = ()

    cache = removed_member(
        "CacheQueue.cache", "`key in cache`, cache.load(key) and cache.remove(key)"
    )

    @property
    def mirror(self: Q) -> Q:
        """Deprecated (0.2.0; removed in 0.5.0): the cache to use in child processes; now
        the cache itself, as ``dump`` works from any process."""
        warn_deprecated("CacheQueue.mirror", "the CacheQueue itself (dump works in children)")
        return self


class CacheFile020:
    """0.2.0's ``CacheFile.dir`` (deprecated) and ``CacheFile.key_to_path`` (removed)."""

    __slots__ = ()

    key_to_path = removed_member(
        "CacheFile.key_to_path",
        "cache.load(key)[1]() for the content (a path or an open file), cache.cache_dir",
    )

    @property
    def dir(self: _HasCacheDir) -> str:
        """Deprecated (0.2.0, where it was a ``TempDir``; removed in 0.5.0): the directory,
        as ``cache_dir``."""
        warn_deprecated("CacheFile.dir", "CacheFile.cache_dir")
        return self.cache_dir
