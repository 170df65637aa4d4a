# ruff: noqa: F822  (the names are given by __getattr__, with a warning)
"""Deprecated (removed in 0.5.0): 0.2.0's prop types of the ``Downloader`` components."""

from .._compat import COMPONENT_TYPE_NAMES, deprecated_names

__all__ = ["DownloaderStatus", "DownloaderURL"]

__getattr__ = deprecated_names(__name__, COMPONENT_TYPE_NAMES)
