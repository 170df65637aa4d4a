"""HTTP semantics of a served item, in one place.

Which status and bytes to answer is decided by ``conditional`` (RFC 9110
preconditions and ranges); what is here is how the body is produced. ``flask.send_file`` hands
the server's ``wsgi.file_wrapper`` to werkzeug's range wrapper, which cannot
seek it and so reads and discards every byte before the requested offset
(250-380 ms for the last MiB of 1 GiB under gunicorn in bench/). Here a range body seeks
first, so its cost does not depend on the offset, and a body that runs to the
end of a real file still goes through the server's file wrapper (``sendfile``).
"""

from __future__ import annotations

import io
import json
import os
import stat
import unicodedata
from dataclasses import dataclass
from typing import IO, Any, Dict, Iterable, Iterator, Optional
from urllib.parse import quote

from flask import Response
from werkzeug.datastructures import ContentRange, Headers
from werkzeug.http import http_date

from ..caches.abstract import CachedData
from .conditional import Plan, evaluate

__all__ = [
    "Content",
    "FileChunks",
    "Plan",
    "body_iterable",
    "common_headers",
    "content_disposition",
    "content_range",
    "content_range_416",
    "error_response",
    "last_modified",
    "open_content",
    "plan_response",
]

WSGIEnvironment = Dict[str, Any]


@dataclass
class Content:
    """An opened item: its stream and what HTTP needs to know about it."""

    stream: IO[bytes]
    size: int
    mtime: float
    #: Whether ``stream`` is a real file (the server may ``sendfile`` it).
    is_file: bool


def open_content(data: CachedData, created: float) -> Content:
    """Open what a cache loader returned; close ``data`` if this raises.

    A ``str`` is a path to a regular file. A binary stream is used as it is:
    one backed by a regular file (e.g. ``CacheFile`` content) is file-backed
    like a path (its size and mtime from ``fstat``; the server may
    ``sendfile`` it), anything else is in-memory content whose modification
    time is ``created``.

    Raises:
        FileNotFoundError: the path is gone or is not a readable regular file.
        OSError: the server cannot open it now (e.g. out of descriptors): a 503.
    """
    is_path = isinstance(data, str)
    stream = _open_path(data) if isinstance(data, str) else data
    try:
        st = _regular_file_stat(stream)
        if st is not None:
            return Content(stream, st.st_size, st.st_mtime, True)
        if is_path:
            raise FileNotFoundError("Cached path is not a regular file.")
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
    except BaseException:
        stream.close()
        raise
    return Content(stream, size, created, False)


def _open_path(path: str) -> IO[bytes]:
    """Open a path item; a path that cannot be read is a gone item (404)."""
    try:
        return open(path, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        raise FileNotFoundError(f"Cached file is gone: {exc.strerror}.") from exc


def _regular_file_stat(stream: IO[bytes]) -> Optional[os.stat_result]:
    """``fstat`` of the regular file under ``stream``, or ``None`` if there is none."""
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


#: Request fields the plan reads, as WSGI environ keys.
_CONDITIONAL_FIELDS = {
    "If-Match": "HTTP_IF_MATCH",
    "If-None-Match": "HTTP_IF_NONE_MATCH",
    "If-Modified-Since": "HTTP_IF_MODIFIED_SINCE",
    "If-Unmodified-Since": "HTTP_IF_UNMODIFIED_SINCE",
    "If-Range": "HTTP_IF_RANGE",
    "Range": "HTTP_RANGE",
}


def plan_response(environ: Optional[WSGIEnvironment], size: int, etag: str, mtime: float) -> Plan:
    """Decide the status and byte span for a request (see ``conditional.evaluate``).

    Outside a request (``environ`` is ``None``) the whole content is sent.
    """
    if environ is None:
        return Plan(200, 0, size)
    fields = {name: environ[key] for name, key in _CONDITIONAL_FIELDS.items() if key in environ}
    return evaluate(environ.get("REQUEST_METHOD", "GET"), fields, size, etag, mtime)


class FileChunks:
    """WSGI body sending ``length`` bytes from ``start`` in ``chunk`` pieces.

    Seeks before the first read, so the offset costs nothing. ``close`` (called
    by the WSGI server, also when the client went away) closes the stream.
    """

    def __init__(self, stream: IO[bytes], start: int, length: int, chunk: int) -> None:
        self._stream = stream
        self._start = start
        self._length = length
        self._chunk = chunk

    def __iter__(self) -> Iterator[bytes]:
        self._stream.seek(self._start)
        remaining = self._length
        while remaining > 0:
            data = self._stream.read(min(self._chunk, remaining))
            if not data:  # the file shrank under us: end short rather than hang
                return
            remaining -= len(data)
            yield data

    def close(self) -> None:
        self._stream.close()


def body_iterable(
    environ: Optional[WSGIEnvironment], content: Content, plan: Plan, chunk: int
) -> Iterable[bytes]:
    """The response body for a 200/206 plan.

    A body that runs to the end of a real file goes through the server's
    ``wsgi.file_wrapper`` when there is one (zero-copy ``sendfile`` under
    gunicorn); PEP 3333 has the wrapper start at the current position, so a
    seek is enough. Other bodies are read in ``chunk`` pieces.
    """
    wrapper = (environ or {}).get("wsgi.file_wrapper")
    if wrapper is not None and content.is_file and plan.start + plan.length == content.size:
        content.stream.seek(plan.start)
        return wrapper(content.stream, chunk)  # type: ignore[no-any-return]
    return FileChunks(content.stream, plan.start, plan.length, chunk)


def content_disposition(headers: Headers, file_name: str, download: bool) -> None:
    """Set ``Content-Disposition`` per RFC 6266.

    ASCII names go in ``filename`` (quoted by werkzeug); others also get an
    RFC 5987 ``filename*=UTF-8''...`` with an ASCII approximation in
    ``filename`` for old clients. ``file_name`` has no control characters (the
    service sanitises it at registration), so no header can be injected.
    """
    kind = "attachment" if download else "inline"
    try:
        file_name.encode("ascii")
    except UnicodeEncodeError:
        ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
        # NFKD turns fullwidth solidi into "/" and "\\": keep the fallback a plain name.
        ascii_name = ascii_name.replace("/", "_").replace("\\", "_")
        options = {
            "filename": ascii_name.strip() or "download",
            "filename*": "UTF-8''" + quote(file_name, safe="!#$&+-.^_`|~"),
        }
    else:
        options = {"filename": file_name}
    headers.set("Content-Disposition", kind, **options)


def common_headers(one_time: bool) -> Headers:
    """Headers on every answer about an item, success or error.

    The data is private and short-lived: never stored by shared caches, and
    revalidated (cheaply, via the ETag) by the browser on reuse; one-time items
    are not stored at all.
    """
    return Headers(
        {
            "Cache-Control": "private, no-store" if one_time else "private, no-cache",
            "X-Content-Type-Options": "nosniff",
        }
    )


def error_response(status: int, message: str, headers: Optional[Headers] = None) -> Response:
    """A JSON ``{"error": message}`` response."""
    all_headers = common_headers(one_time=True)
    if headers is not None:
        all_headers.update(headers)  # replace, never duplicate, a field
    return Response(
        json.dumps({"error": message}),
        status=status,
        headers=all_headers,
        mimetype="application/json",
    )


def content_range_416(size: int) -> Headers:
    """``Content-Range: bytes */size`` for a 416."""
    return Headers({"Content-Range": ContentRange("bytes", None, None, size).to_header()})


def content_range(plan: Plan, size: int) -> str:
    """``Content-Range`` value for a 206."""
    return ContentRange("bytes", plan.start, plan.start + plan.length, size).to_header()


def last_modified(mtime: float) -> str:
    """``Last-Modified`` value (second resolution)."""
    return http_date(int(mtime))
