# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
"""Deprecated: 0.2.0's prop types of the ``Downloader`` components."""

from .._compat import deprecated_names

__all__ = ["DownloaderStatus", "DownloaderURL"]

__getattr__ = deprecated_names(
    __name__,
    {
        "DownloaderURL": (
            "dash_file_cache._legacy.components:DownloaderURL",
            "CachedDownload(url=..., file_name=...)",
        ),
        "DownloaderStatus": (
            "dash_file_cache._legacy.components:DownloaderStatus",
            "CachedDownload.status ({state, http_code, ...})",
        ),
    },
)
