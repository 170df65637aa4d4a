"""Names kept from dash-file-cache 0.2.0: each use warns and names its replacement.

A module that keeps 0.2.0 names sets ``__getattr__ = deprecated_names(...)``;
importing or reading such a name emits a :class:`DeprecationWarning` (once per
call site, as Python filters it) and returns the object.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable, Dict, Tuple

__all__ = ["deprecated_names", "removed_member", "warn_deprecated"]


def warn_deprecated(old: str, replacement: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` (a 0.2.0 name) is deprecated in favour of ``replacement``."""
    warnings.warn(
        f"{old} is deprecated since dash-file-cache 0.3 (kept from 0.2.0); use {replacement}.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def removed_member(old: str, replacement: str) -> Any:
    """A class attribute for a 0.2.0 member that cannot keep working (it exposed
    storage that no longer exists): reading it raises :class:`AttributeError`
    naming ``old`` and its ``replacement``, instead of Python's bare message."""

    def gone(self: Any) -> Any:
        raise AttributeError(
            f"{old} (dash-file-cache 0.2.0) was removed in 0.3: its storage is gone; "
            f"use {replacement}."
        )

    return property(gone, doc=f"Removed (0.2.0's {old}): use {replacement}.")


def deprecated_names(module: str, names: Dict[str, Tuple[str, str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` giving 0.2.0 names with a warning.

    ``names`` maps each old name to ``(target, replacement)``: ``target`` is
    ``"package.module:attribute"`` (imported on first use) and
    ``replacement`` is the text of the warning's advice.

    The returned function raises:
        AttributeError: any other name (naming ``module``).
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target, replacement = names[name]
        warn_deprecated(f"{module}.{name}", replacement)
        where, _, attribute = target.partition(":")
        return getattr(importlib.import_module(where), attribute)

    return __getattr__


#: 0.2.0's component prop types, given (with a warning) by the package and its ``components``.
COMPONENT_TYPE_NAMES: Dict[str, Tuple[str, str]] = {
    "DownloaderURL": (
        "dash_file_cache._legacy.components:DownloaderURL",
        "CachedDownload(url=..., file_name_fallback=...)",
    ),
    "DownloaderStatus": (
        "dash_file_cache._legacy.components:DownloaderStatus",
        "CachedDownload.status ({state, http_code, ...})",
    ),
}
