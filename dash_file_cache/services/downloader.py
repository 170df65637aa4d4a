"""Deprecated: 0.2.0's ``dash_file_cache.services.downloader`` (``ServiceDownloader``)."""

from .._legacy.services import ServiceDownloader

__all__ = ["ServiceDownloader"]
