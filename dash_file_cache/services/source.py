"""Turn what ``register`` receives into cache content and serving metadata."""

from __future__ import annotations

import io
import mimetypes
import os
import re
from typing import IO, Union

from .._grammar import check_field_value, replace_controls
from ..caches.abstract import CachedData

__all__ = [
    "FileSource",
    "make_content_type",
    "make_file_name",
    "sanitize_file_name",
    "to_cached_data",
]

#: What ``ServiceData.register`` accepts as ``fobj``.
FileSource = Union[str, "os.PathLike[str]", io.StringIO, io.BytesIO, bytes, bytearray, IO[bytes]]

# Lone surrogates (``os.fsdecode`` of a non-UTF-8 name) cannot be encoded in a header.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_NAME = 255


def to_cached_data(fobj: object) -> CachedData:
    """Return an absolute path or a binary stream positioned at the content's start.

    Whole content is taken regardless of the caller's position (the usual
    pattern is to write into a ``BytesIO`` and register it straight away).
    Text is encoded as UTF-8.

    Raises:
        FileNotFoundError: a path that is not an existing regular file.
        TypeError: an unsupported ``fobj``.
    """
    if isinstance(fobj, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(fobj))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"fobj: no such regular file: {path!r}.")
        return path
    if isinstance(fobj, io.BytesIO):
        return io.BytesIO(fobj.getvalue())
    if isinstance(fobj, io.StringIO):
        return io.BytesIO(fobj.getvalue().encode("utf-8"))
    if isinstance(fobj, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(fobj))
    if isinstance(fobj, io.TextIOBase):
        if fobj.seekable():
            fobj.seek(0)
        return io.BytesIO(fobj.read().encode("utf-8"))
    if callable(getattr(fobj, "read", None)):
        stream: IO[bytes] = fobj  # type: ignore[assignment]
        if getattr(stream, "seekable", lambda: False)():
            stream.seek(0)
        return stream
    raise TypeError(
        "fobj must be a path (str or os.PathLike), io.BytesIO, io.StringIO, bytes or a "
        f"readable binary file object; got {type(fobj).__name__}."
    )


def sanitize_file_name(file_name: str) -> str:
    """``file_name`` made safe for ``Content-Disposition``, or ``""`` if nothing usable is left.

    Control characters, lone surrogates and path separators are replaced,
    surrounding blanks stripped, and the name is capped at 255 characters
    (keeping its extension), so it can neither inject headers nor look like a
    path. ``"."`` and ``".."`` give ``""``.

    Raises:
        TypeError: ``file_name`` is not a ``str``.
    """
    if not isinstance(file_name, str):
        raise TypeError(f"file_name must be a str, got {type(file_name).__name__}.")
    name = replace_controls(_SURROGATE.sub("_", file_name), "_")
    name = name.replace("/", "_").replace("\\", "_").strip()
    if name in (".", ".."):
        return ""
    if len(name) > _MAX_NAME:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[: _MAX_NAME - len(ext)] + ext
    return name


def make_file_name(file_name: str, fobj: object, uid: str, content_type: str) -> str:
    """The name registered for an item, shown in ``Content-Disposition``.

    ``file_name`` if given, else the base name of a path ``fobj``, else
    ``file-<uid prefix><extension of the type>``; sanitised by
    :func:`sanitize_file_name`.

    Raises:
        TypeError: ``file_name`` is not a ``str``.
    """
    name = sanitize_file_name(file_name)
    if not name and not file_name and isinstance(fobj, (str, os.PathLike)):
        name = sanitize_file_name(os.path.basename(os.fspath(fobj)))
    if not name:
        mime = content_type.split(";", 1)[0].strip()
        name = "file-" + uid[:12] + (mimetypes.guess_extension(mime) or "")
    return name


def make_content_type(content_type: str, mime_type: str, text_source: bool) -> str:
    """``content_type`` or else ``mime_type``; text we encoded gets ``charset=utf-8``.

    Raises:
        TypeError: an argument is not a ``str``.
        ValueError: the value is empty or has control characters.
    """
    for name, value in (("content_type", content_type), ("mime_type", mime_type)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}.")
        check_field_value(name, value, c1=True)
    value = content_type.strip() or mime_type.strip()
    if not value:
        raise ValueError("mime_type must not be empty when content_type is empty.")
    if text_source and value.startswith("text/") and "charset" not in value.lower():
        value += "; charset=utf-8"
    return value
