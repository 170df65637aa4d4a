# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
"""Deprecated: 0.2.0's ``dash_file_cache.services.utilities``."""

from .._compat import deprecated_names

__all__ = ["get_server", "no_cache"]

__getattr__ = deprecated_names(
    __name__,
    {
        "no_cache": (
            "dash_file_cache._legacy.services:no_cache",
            "response.cache_control.no_cache = True in your view (the service's own "
            "answers are already private, no-cache)",
        ),
        "get_server": ("dash_file_cache._legacy.services:get_server", "app.server"),
    },
)
