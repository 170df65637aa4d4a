"""0.2.0's prop types of the ``Downloader`` components (``url`` and ``status``)."""

from __future__ import annotations

from typing_extensions import Literal, TypedDict

__all__ = ["DownloaderStatus", "DownloaderURL"]


class DownloaderURL(TypedDict):
    """``Downloader(url=...)`` as a dict: the address and a name to use when the
    answer gives none."""

    url: str
    file_name_fallback: str


class DownloaderStatus(TypedDict):
    """``Downloader(status=...)``: how the latest download ended.

    ``type`` is ``"success"``, ``"error-connect"`` (no answer, or an HTTP
    error), ``"error-config"`` (bad props), ``"error-io"`` (the bytes could not
    be saved) or ``"error-unknown"``; ``http_code`` is the HTTP status (0 when
    there was no answer).
    """

    type: Literal["success", "error-connect", "error-config", "error-io", "error-unknown"]
    http_code: int
