"""Dash components for dash-file-cache addresses: ``CachedImage``, ``CachedDownload``.

The classes (``CachedImage.py``, ``CachedDownload.py``, ``_imports_.py``), the
bundle and ``metadata.json`` are generated from ``components/`` by
``npm run build``; this file is not. Dash looks up ``_js_dist`` on the
top-level package (the components' namespace is ``dash_file_cache``), which
re-exports it from here; ``relative_package_path`` is relative to that package.
"""

from typing import Any

from .. import _compat
from . import typehints  # 0.2.0's prop types (deprecated)
from ._imports_ import *  # noqa: F403
from ._imports_ import Downloader as _Downloader
from ._imports_ import PlainDownloader as _PlainDownloader
from ._imports_ import __all__ as _components

_NAMESPACE = "dash_file_cache"
_BUNDLE = "components/dash_file_cache.min.js"
# Implementation chunks, loaded by the bundle when a component first renders.
_ASYNC_CHUNKS = [
    "components/async-CachedDownload.js",
    "components/async-CachedImage.js",
]

# The service worker of CachedDownload's stream mode: servable (the page
# registers it from the bundle's folder) but never loaded as a page script.
_STREAM_WORKER = "components/stream-worker.js"

_js_dist = [
    {"relative_package_path": _BUNDLE, "namespace": _NAMESPACE},
    {"relative_package_path": _BUNDLE + ".map", "namespace": _NAMESPACE, "dynamic": True},
    *({"relative_package_path": p, "namespace": _NAMESPACE, "async": True} for p in _ASYNC_CHUNKS),
    *(
        {"relative_package_path": p + ".map", "namespace": _NAMESPACE, "dynamic": True}
        for p in _ASYNC_CHUNKS
    ),
    {"relative_package_path": _STREAM_WORKER, "namespace": _NAMESPACE, "dynamic": True},
]

_css_dist: list = []

__all__ = [*_components, "_css_dist", "_js_dist", "typehints"]


class Downloader(_Downloader):  # type: ignore[misc,no-redef]
    """0.2.0's streamed download component (deprecated; removed in 0.5.0):
    ``CachedDownload(mode="stream")`` underneath. Constructing it warns."""

    __doc__ = _Downloader.__doc__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _compat.warn_deprecated("dash_file_cache.Downloader", 'CachedDownload(mode="stream")')
        super().__init__(*args, **kwargs)


class PlainDownloader(_PlainDownloader):  # type: ignore[misc,no-redef]
    """0.2.0's plain download component (deprecated; removed in 0.5.0): ``CachedDownload()``
    underneath. Constructing it warns."""

    __doc__ = _PlainDownloader.__doc__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _compat.warn_deprecated("dash_file_cache.PlainDownloader", "CachedDownload")
        super().__init__(*args, **kwargs)


# Called by __getattr__ below: the warning names the code one frame further out.
_compat_getattr = _compat.deprecated_names(__name__, _compat.COMPONENT_TYPE_NAMES, stacklevel=4)


def __getattr__(name: str) -> Any:
    return _compat_getattr(name)
