"""HTTP services. :class:`ServiceData` registers files and streams them by address.

``downloader``, ``reqstream`` and ``utilities`` (with ``ServiceDownloader``)
are kept from dash-file-cache 0.2.0 and deprecated.
"""

from . import data, downloader, reqstream, utilities
from .data import ServiceData
from .downloader import ServiceDownloader

__all__ = ["ServiceData", "ServiceDownloader", "data", "downloader", "reqstream", "utilities"]
