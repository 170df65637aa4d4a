"""HTTP services. :class:`ServiceData` registers files and streams them by address.

``downloader``, ``reqstream`` and ``utilities`` (with ``ServiceDownloader``)
are kept from dash-file-cache 0.2.0 and deprecated.
"""

from . import data, downloader, reqstream, utilities
from .data import ServiceData
from .downloader import ServiceDownloader
from .writer import CachedFileWriter, Writer

__all__ = [
    "CachedFileWriter",
    "ServiceData",
    "ServiceDownloader",
    "Writer",
    "data",
    "downloader",
    "reqstream",
    "utilities",
]
