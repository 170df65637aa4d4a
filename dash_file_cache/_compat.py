"""Names kept from dash-file-cache 0.2.0: each use warns, names its replacement and
says when it goes.

The versions are data here, in one place: :data:`DEPRECATED_SINCE` and
:data:`REMOVED_IN`. A module that keeps 0.2.0 names sets
``__getattr__ = deprecated_names(...)``; importing or reading such a name emits
a :class:`DeprecationWarning` (once per call site, as Python filters it) and
returns the object. Deprecated members of the live classes are defined in
:mod:`dash_file_cache._legacy.caches`, whose mixins those classes inherit.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Dict, Tuple

__all__ = [
    "DEPRECATED_SINCE",
    "REMOVED_IN",
    "DeprecatedNames",
    "deprecated_names",
    "removed_member",
    "warn_deprecated",
]

#: The release that deprecated the 0.2.0 names.
DEPRECATED_SINCE = "0.3"
#: The release that removes them.
REMOVED_IN = "0.5.0"


def warn_deprecated(old: str, replacement: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` (a 0.2.0 name) is deprecated in favour of ``replacement``,
    and when it is removed. ``stacklevel`` 3 points at the caller of the function
    that calls this."""
    warnings.warn(
        f"{old} is deprecated since dash-file-cache {DEPRECATED_SINCE} and will be "
        f"removed in {REMOVED_IN}; use {replacement}.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def removed_member(old: str, replacement: str) -> Any:
    """A class attribute for a 0.2.0 member that cannot keep working (it exposed
    storage that no longer exists): reading it raises :class:`AttributeError`
    naming ``old``, the release that removed it and its ``replacement``, instead
    of Python's bare message."""

    def gone(self: Any) -> Any:
        raise AttributeError(
            f"{old} (dash-file-cache 0.2.0) was removed in {DEPRECATED_SINCE}: its storage "
            f"is gone; use {replacement}."
        )

    return property(gone, doc=f"Removed (0.2.0's {old}): use {replacement}.")


class DeprecatedNames:
    """A module ``__getattr__`` giving 0.2.0 names with a warning.

    ``names`` maps each old name to ``(target, replacement)``: ``target`` is
    ``"package.module:attribute"`` (imported on first use) and
    ``replacement`` is the text of the warning's advice.

    ``stacklevel`` is that of the warning: 3 names the code that reads the
    name when this is the module's ``__getattr__``; a module whose own
    ``__getattr__`` calls this one passes 4.

    Calling it raises:
        AttributeError: any other name (naming ``module``).
    """

    def __init__(self, module: str, names: Dict[str, Tuple[str, str]], stacklevel: int = 3) -> None:
        self.module = module
        self.names = names
        self.stacklevel = stacklevel

    def __call__(self, name: str) -> Any:
        if name not in self.names:
            raise AttributeError(f"module {self.module!r} has no attribute {name!r}")
        target, replacement = self.names[name]
        warn_deprecated(f"{self.module}.{name}", replacement, self.stacklevel)
        where, _, attribute = target.partition(":")
        return getattr(importlib.import_module(where), attribute)


def deprecated_names(
    module: str, names: Dict[str, Tuple[str, str]], stacklevel: int = 3
) -> DeprecatedNames:
    """The ``__getattr__`` of ``module`` that gives the 0.2.0 ``names`` (see
    :class:`DeprecatedNames`)."""
    return DeprecatedNames(module, names, stacklevel)


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
