# ruff: noqa
from .CachedImage import CachedImage
from .CachedDownload import CachedDownload

__all__ = ["CachedImage", "CachedDownload"]
