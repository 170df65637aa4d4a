"""Errors both layers know: raised by the caches, recognised by the HTTP answers.

They live here, apart from either layer, so that :mod:`.services.http` can
answer them without importing a cache module. Also importable from
``dash_file_cache`` and ``dash_file_cache.caches`` (and ``.caches.abstract``).
"""

from __future__ import annotations

__all__ = ["CacheUnavailableError", "ItemElsewhereError"]


class CacheUnavailableError(OSError):
    """The cache's storage cannot be reached (e.g. a Redis server is down).

    Backends raise it from any method; ``register`` lets it propagate, and the
    served address answers 503 with a JSON error instead of a traceback.
    """


class ItemElsewhereError(FileNotFoundError):
    """The item is held by another server process, which alone can serve it.

    Raised by per-process caches (:class:`~dash_file_cache.CachePlain`,
    :class:`~dash_file_cache.CacheQueue`) when a request reaches a process that
    does not own the item (e.g. another gunicorn worker). Its message names the
    cause and the fix; the service answers 404 with that message.
    """
