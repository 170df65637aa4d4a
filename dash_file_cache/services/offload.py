"""Hand the bytes of file-backed items to the front server (nginx, Apache, lighttpd).

With an offload mode, the app still takes every decision that is ours (the
uid, 404/JSON errors, the one-time claim, preconditions, the file name, the
type, our headers) and, for a ``GET`` that sends bytes of a real file, answers
with an empty body and a header naming the file: ``X-Accel-Redirect: <internal
URI>`` (nginx) or ``X-Sendfile: <path>`` (Apache ``mod_xsendfile``,
lighttpd). The front server then sends the file itself (``sendfile``, ranges,
slow clients on its event loop) and the Python thread is free at once.

Trust boundary: the header is built only from a path the cache opened (never
from the request), and only for a file under a directory of the map, so a
client can neither choose nor escape it. The front server must honour the
header only from this upstream, and clients must not be able to send it to the
front server (a response header from the app is the only source).

What the front server sees of the request must give the same answer as the
app's own decision, so the app offloads only when nothing is left for the front
server to decide: no conditional field (the app answers 304/412 and evaluates
``If-Range`` against its own ETag, so requests carrying them stream from
Python), and either no ``Range`` (200) or one single byte range the app
satisfied (206, which nginx computes identically). ``HEAD``, 304, 412, 416 and
errors are always answered by the app.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, Any, Dict, Mapping, Optional, Tuple
from urllib.parse import quote

from .._grammar import HeaderList, has_control, is_visible_ascii
from .http import PRECONDITION_FIELDS, Decision, Request

__all__ = ["MODES", "Offload", "make_offload"]

#: The offload modes and the header each sends.
MODES = {"x-accel-redirect": "X-Accel-Redirect", "x-sendfile": "X-Sendfile"}
_FRONT_SERVER_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges")


@dataclass(frozen=True)
class Offload:
    """An offload mode and its directory map (see :func:`make_offload`)."""

    mode: str
    #: ``(app-side directory, front-server prefix)``, longest directory first.
    roots: Tuple[Tuple[str, str], ...]

    @property
    def header(self) -> str:
        return MODES[self.mode]

    def target(self, path: str) -> Optional[str]:
        """The header value for the file at ``path``, or None if no directory maps it.

        ``path`` is resolved (symlinks, ``..``) before it is compared, so only a
        file really inside a mapped directory is named.
        """
        real = os.path.realpath(path)
        for directory, prefix in self.roots:
            if os.path.commonpath([directory, real]) != directory or real == directory:
                continue
            relative = os.path.relpath(real, directory).replace(os.sep, "/")
            if self.mode == "x-sendfile":
                # Servers differ on unescaping and on non-ASCII bytes in this
                # header: only a plain ASCII path is named, others stream.
                value = prefix.rstrip("/") + "/" + relative
                return value if _is_plain_ascii(value) else None
            return prefix + quote(os.fsencode(relative), safe="/")
        return None

    def headers(
        self, request: Optional[Request], decision: Decision, stream: IO[bytes]
    ) -> Optional[HeaderList]:
        """The headers of the offloaded answer, or None to stream from Python.

        ``stream`` is the opened content; only a regular file whose path still
        names the same file (not replaced or removed since it was opened, e.g.
        by a one-time claim) and is under a mapped directory is offloaded.
        """
        if request is None or request.method != "GET" or not decision.send_content:
            return None
        if any(name in request.headers for name in PRECONDITION_FIELDS):
            return None
        ranges = request.headers.getlist("Range")
        if decision.status == 206:
            if len(ranges) != 1 or "," in ranges[0]:
                return None
        elif decision.status != 200 or ranges:
            return None
        path = _path_of(stream)
        if path is None:
            return None
        target = self.target(path)
        if target is None:
            return None
        # The front server computes the length and range itself; nginx adds its own
        # Accept-Ranges to a 200 (not to a 206), so ours would be doubled there.
        dropped = _FRONT_SERVER_HEADERS if decision.status == 200 else _FRONT_SERVER_HEADERS[:2]
        kept = [(k, v) for k, v in decision.headers if k not in dropped]
        return [*kept, ("Content-Length", "0"), (self.header, target)]


def _is_plain_ascii(value: str) -> bool:
    """Whether ``value`` is printable ASCII without ``%`` (read the same by every server)."""
    return is_visible_ascii(value) and "%" not in value


def _path_of(stream: IO[bytes]) -> Optional[str]:
    """The path of the regular file open as ``stream``, if that path still names it."""
    name: Any = getattr(stream, "name", None)
    if not isinstance(name, str) or not os.path.isabs(name):
        return None
    try:
        opened = os.fstat(stream.fileno())
        current = os.stat(name)
    except (OSError, ValueError, AttributeError):
        return None
    return name if os.path.samestat(opened, current) else None


def make_offload(mode: Optional[str], locations: Optional[Mapping[str, str]]) -> Optional[Offload]:
    """Validate ``offload`` and ``offload_locations`` of ``ServiceData``.

    Arguments:
        mode: ``None`` (off), ``"x-accel-redirect"`` or ``"x-sendfile"``.
        locations: ``{app-side directory: front-server prefix}``. For
            ``x-accel-redirect`` the prefix is the URI of an ``internal``
            nginx location that serves that directory (``"/_dfc/files/"``);
            for ``x-sendfile`` the directory as the front server sees it
            (often the same path). Files under no directory stream from Python.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an unknown ``mode``; ``locations`` missing or empty with a
            mode, given without one, or with a relative directory or a prefix
            of the wrong form.
    """
    if mode is None:
        if locations:
            raise ValueError("offload_locations is given but offload is None.")
        return None
    if not isinstance(mode, str):
        raise TypeError(f"offload must be None or a str, got {type(mode).__name__}.")
    if mode not in MODES:
        raise ValueError(f"offload must be None or one of {sorted(MODES)}, got {mode!r}.")
    if not isinstance(locations, Mapping):
        raise TypeError(
            "offload_locations must be a mapping {directory: prefix} when offload is set, "
            f"got {type(locations).__name__}."
        )
    if not locations:
        raise ValueError("offload_locations must map at least one directory.")
    roots: Dict[str, str] = {}
    for directory, prefix in locations.items():
        if not isinstance(directory, (str, os.PathLike)) or not isinstance(prefix, str):
            raise TypeError("offload_locations must map str directories to str prefixes.")
        directory = os.fspath(directory)
        if not os.path.isabs(directory):
            raise ValueError(f"offload_locations: directory {directory!r} is not absolute.")
        _check_prefix(mode, prefix)
        roots[os.path.realpath(directory)] = prefix
    ordered = tuple(sorted(roots.items(), key=lambda item: -len(item[0])))
    return Offload(mode, ordered)


def _check_prefix(mode: str, prefix: str) -> None:
    if has_control(prefix) or "?" in prefix:
        raise ValueError(f"offload_locations: prefix {prefix!r} has a control character or '?'.")
    if mode == "x-accel-redirect" and not (prefix.startswith("/") and prefix.endswith("/")):
        raise ValueError(
            f"offload_locations: prefix {prefix!r} must be a URI path starting and ending "
            "with '/' (an internal nginx location)."
        )
    if mode == "x-sendfile" and not os.path.isabs(prefix):
        raise ValueError(f"offload_locations: prefix {prefix!r} must be an absolute path.")
