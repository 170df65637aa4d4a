"""HTTP services. :class:`ServiceData` registers files and streams them by address.

The modules, by job:

- ``data``: :class:`ServiceData`, the public front (register, serve, answer).
- ``source``, ``writer``: what ``register``/``open`` receive, made cache content.
- ``uid``: item identifiers.
- ``upload_policy``, ``upload_endpoint``: the tus upload endpoint (its
  decisions are ``tus``'s), opt-in with ``ServiceData(uploads=...)``.
- ``pipeline``: one request to an answer (look up, decide, claim, open,
  offload, remote); blocking.
- ``http`` (with ``conditional``, ``security``, ``cors``): the HTTP decisions,
  pure functions of a neutral request.
- ``content``: opened items and the answers that carry them.
- ``offload``: the front server's ``X-Accel-Redirect``/``X-Sendfile``.
- ``remote``: remote items, streamed from another server.
- ``binding``: which app, which prefixes, which adapter (from a table).
- ``adapter``: the contract of the adapters ``_flask``, ``_starlette`` and
  ``_quart``; ``_asgi``: what the ASGI ones share.

``downloader``, ``reqstream`` and ``utilities`` (with ``ServiceDownloader``)
are kept from dash-file-cache 0.2.0 and deprecated.
"""

from . import data, downloader, reqstream, utilities
from .data import ServiceData
from .downloader import ServiceDownloader
from .upload_policy import UploadPolicy, UploadRequest
from .writer import CachedFileWriter, Writer

__all__ = [
    "CachedFileWriter",
    "ServiceData",
    "ServiceDownloader",
    "UploadPolicy",
    "UploadRequest",
    "Writer",
    "data",
    "downloader",
    "reqstream",
    "utilities",
]
