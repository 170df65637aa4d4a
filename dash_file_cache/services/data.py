"""``ServiceData``: register files in a cache and stream them by address."""

from __future__ import annotations

import io
import logging
import re
import time
from typing import Any, Optional, Tuple, Union

import flask
from werkzeug.http import generate_etag

from .._validate import check_positive_int
from ..caches.abstract import CacheAbstract, CachedFileInfo
from . import http
from .source import (
    FileSource,
    make_content_type,
    make_file_name,
    sanitize_file_name,
    to_cached_data,
)
from .uid import is_valid_uid, new_uid
from .writer import DEFAULT_MIME_TYPE, CachedFileWriter, Writer, guess_mime_type, is_writer

__all__ = ["ServiceData"]

_log = logging.getLogger(__name__)
_MB = 1 << 20
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_SERVICE_NAME = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


class ServiceData:
    """Service provider for streaming data.

    Keeps temporary files (paths or in-memory data) in ``cache`` and serves
    each one at an address like ``/cached-data?uid=...``, to be shown by the
    browser (``<img src>``, ``<video>``, ``<iframe>``...) or downloaded.

    Keep one instance as a global: callbacks call :meth:`register`, and the
    app is bound with :meth:`serve` before it runs. The instance pickles (with
    its cache), as Dash background callbacks require.

    Arguments:
        cache: where items live: :class:`~dash_file_cache.CachePlain`,
            :class:`~dash_file_cache.CacheQueue`,
            :class:`~dash_file_cache.CacheFile`,
            :class:`~dash_file_cache.CacheRedis` or your own
            :class:`~dash_file_cache.CacheAbstract`.
        service_name: URL path of the service (``/...``).
        chunk_size: streaming chunk in MB (at least 1).

    Raises:
        TypeError: ``cache`` is not a ``CacheAbstract``, or another argument
            has the wrong type.
        ValueError: ``service_name`` is not a URL path, or ``chunk_size`` < 1.
    """

    def __init__(
        self,
        cache: CacheAbstract[Any, Any],
        service_name: str = "/cached-data",
        chunk_size: int = 1,
    ) -> None:
        if not isinstance(cache, CacheAbstract):
            raise TypeError(
                "cache must be a CacheAbstract (CachePlain, CacheQueue, CacheFile...), "
                f"got {type(cache).__name__}."
            )
        if not isinstance(service_name, str):
            raise TypeError(f"service_name must be a str, got {type(service_name).__name__}.")
        if not _SERVICE_NAME.fullmatch(service_name) or service_name.endswith("/"):
            raise ValueError(
                "service_name must be a URL path such as '/cached-data' (no query, no "
                f"trailing slash), got {service_name!r}."
            )
        self._cache = cache
        self._service_name = service_name
        # Path prefix of a Dash app served under url_base_pathname (set by `serve`).
        self._prefix = ""
        self._chunk_size = check_positive_int("chunk_size", chunk_size)

    # -- properties -------------------------------------------------------
    @property
    def cache(self) -> CacheAbstract[Any, Any]:
        """The cache of this service."""
        return self._cache

    @property
    def service_name(self) -> str:
        """The URL path of this service."""
        return self._service_name

    @property
    def chunk_size(self) -> int:
        """The chunk size when streaming cached files, in MB."""
        return self._chunk_size

    @chunk_size.setter
    def chunk_size(self, value: int) -> None:
        self._chunk_size = check_positive_int("chunk_size", value)

    # -- registering ------------------------------------------------------
    def register(
        self,
        fobj: Union[FileSource, Writer],
        file_name: str = "",
        content_type: str = "",
        mime_type: str = DEFAULT_MIME_TYPE,
        one_time_service: bool = False,
        download: bool = False,
    ) -> str:
        """Register a file (a path or a file-like object) in the cache.

        Arguments:
            fobj: a path (``str``/``os.PathLike``) to an existing file, served
                from where it is; or content: ``io.BytesIO``, ``io.StringIO``
                (sent as UTF-8), ``bytes``, or a readable binary file object.
                The whole content is copied into the cache, whatever the
                object's position, so it may be changed or closed afterwards.
                Or a *writer*: a callable that writes the content into the
                file object it is given (``df.to_csv``, ``df.to_parquet``),
                streamed into the cache as it is written; see :meth:`open`.
            file_name: name for ``Content-Disposition``; by default the path's
                base name, else generated from the uid and the type.
            content_type: ``Content-Type`` value; defaults to ``mime_type``.
            mime_type: the file's MIME type. For a writer, when omitted, it is
                guessed from ``file_name`` (else ``application/octet-stream``)
                instead of this default.
            one_time_service: remove the item as soon as one ``GET`` claims
                it. Later requests, including further ``Range`` requests of a
                video player, get 404; ``HEAD`` does not claim.
            download: append ``&download=true`` so the address downloads.

        Returns:
            The address ``{service_name}?uid=...`` (behind the app's path
            prefix when a Dash app with ``url_base_pathname`` or
            ``requests_pathname_prefix`` was served), servable as soon as this
            returns (for a ``CacheQueue`` in a child process: as soon as the
            child returns).

        Raises:
            FileNotFoundError: ``fobj`` is a path to no regular file.
            TypeError: an argument has the wrong type.
            ValueError: ``content_type``/``mime_type`` is empty or malformed.
            OSError: the cache could not store the item.
            Exception: whatever a writer raises; nothing is then stored.
        """
        if is_writer(fobj):
            return self._register_writer(
                fobj, file_name, content_type, mime_type, one_time_service, download
            )
        uid = new_uid()
        data = to_cached_data(fobj)
        text_source = isinstance(fobj, io.TextIOBase)
        ctype = make_content_type(content_type, mime_type, text_source)
        info: CachedFileInfo = {
            "file_name": make_file_name(file_name, fobj, uid, ctype),
            "content_type": ctype,
            "one_time_service": bool(one_time_service),
            "created": time.time(),
        }
        self._cache.dump(uid, info, data)
        address = f"{self._prefix}{self._service_name}?uid={uid}"
        return address + "&download=true" if download else address

    # -- serving ----------------------------------------------------------
    def stream(
        self, uid: str, download: bool = False, *, file_name: Optional[str] = None
    ) -> flask.Response:
        """Build the response for a cached item.

        Called by the bound view; call it yourself only to serve an item from
        your own route. Inside a request it honours conditional and ``Range``
        headers per RFC 9110 (304, 412, 206, 416; ``Range`` on ``GET`` only);
        ``HEAD`` gets headers only. ``file_name``, when given,
        replaces the registered name in ``Content-Disposition`` (sanitised
        the same way; one that sanitises to nothing, such as ``".."``, keeps
        the registered name).

        Raises:
            ValueError: ``uid`` is not of the uid form.
            FileNotFoundError: no such item (never registered, evicted,
                removed, its path deleted, or a one-time item already claimed).
        """
        if not is_valid_uid(uid):
            raise ValueError(f"uid is malformed: {uid!r}.")
        override = sanitize_file_name(file_name) if file_name else ""
        info, loader = self._cache.load(uid)
        if override:
            info = {**info, "file_name": override}
        content = http.open_content(loader(), info["created"])
        try:
            return self._respond(uid, info, content, bool(download))
        except BaseException:
            content.stream.close()
            raise

    def _respond(
        self, uid: str, info: CachedFileInfo, content: http.Content, download: bool
    ) -> flask.Response:
        environ = flask.request.environ if flask.has_request_context() else None
        etag = generate_etag(f"{uid}:{content.size}:{content.mtime}".encode())
        plan = http.plan_response(environ, content.size, etag, content.mtime)
        one_time = info["one_time_service"]
        validators = http.Headers(
            {
                "ETag": f'"{etag}"',
                "Last-Modified": http.last_modified(content.mtime),
                "Accept-Ranges": "bytes",
            }
        )
        headers = http.common_headers(one_time)
        headers.extend(validators)

        if plan.status == 412:
            content.stream.close()
            return http.error_response(412, "A precondition of the request failed.", validators)
        if plan.status == 416:
            content.stream.close()
            validators.extend(http.content_range_416(content.size))
            return http.error_response(416, "Requested range not satisfiable.", validators)
        if plan.status == 304:
            content.stream.close()
            # RFC 9110 15.4.5: ETag and Cache-Control; Last-Modified not, as there is an ETag.
            del headers["Last-Modified"]
            return flask.Response(status=304, headers=headers)

        is_head = environ is not None and environ.get("REQUEST_METHOD") == "HEAD"
        # A one-time item is claimed by the first GET that will send its bytes;
        # `remove` is atomic, so of two racing requests one gets 404.
        if one_time and not is_head and not self._cache.remove(uid):
            raise FileNotFoundError(f"One-time item {uid} was already served.")

        headers["Content-Type"] = info["content_type"]
        headers["Content-Length"] = str(plan.length)
        http.content_disposition(headers, info["file_name"], download)
        if plan.status == 206:
            headers["Content-Range"] = http.content_range(plan, content.size)
        if is_head:
            content.stream.close()
            body: Any = ()
        else:
            body = http.body_iterable(environ, content, plan, self._chunk_size * _MB)
        return flask.Response(body, status=plan.status, headers=headers, direct_passthrough=True)

    def _view(self) -> flask.Response:
        """The bound endpoint: validate the query, then :meth:`stream`."""
        request = flask.request
        if request.method not in ("GET", "HEAD"):
            return http.error_response(
                405, f"Method {request.method} is not allowed.", _allow_header()
            )
        uids = request.args.getlist("uid")
        if len(uids) != 1:
            return http.error_response(400, "Exactly one 'uid' query parameter is required.")
        if not is_valid_uid(uids[0]):
            return http.error_response(400, "Malformed 'uid'.")
        download = _parse_flag(request.args.getlist("download"))
        if download is None:
            return http.error_response(400, "'download' must be true/false or 1/0.")
        names = request.args.getlist("file_name")
        if len(names) > 1:
            return http.error_response(400, "At most one 'file_name' query parameter.")
        try:
            return self.stream(uids[0], download, file_name=names[0] if names else None)
        except FileNotFoundError:
            return http.error_response(404, "No such file: its address expired or never existed.")
        except OSError:  # CacheUnavailableError, or the server is out of descriptors...
            _log.exception("dash-file-cache: cannot serve %s", uids[0])
            return http.error_response(503, "The file cache is unavailable; try again later.")

    def serve(self, app: Any, endpoint: Optional[str] = None) -> None:
        """Add the service to a ``dash.Dash`` or ``flask.Flask`` application.

        Callable before or after the Dash layout is set, but before the app
        handles its first request (a Flask rule). Serving the same service on
        the same app twice does nothing. A Dash app's path prefixes are
        honoured: the rule goes under ``routes_pathname_prefix`` and
        addresses start with ``requests_pathname_prefix``.

        Arguments:
            app: the application (for Dash, its ``server`` is used).
            endpoint: Flask endpoint name; by default derived from
                ``service_name``.

        Raises:
            TypeError: ``app`` is neither a Dash nor a Flask app.
            ValueError: another service already uses this path or endpoint,
                or this service is already served under another prefix.
        """
        server = _flask_app(app)
        routes_prefix, requests_prefix = _dash_prefixes(app)
        if self._prefix and requests_prefix != self._prefix:
            raise ValueError(
                f"This service already serves under {self._prefix!r}; addresses can carry "
                f"one prefix only, not also {requests_prefix!r}. Use one service per app."
            )
        rule = routes_prefix + self._service_name
        endpoint = endpoint or "dash_file_cache" + re.sub(r"\W", "_", rule)
        registry = server.extensions.setdefault("dash_file_cache", {})
        existing = registry.get(rule)
        if existing is self:
            return
        if existing is not None or endpoint in server.view_functions:
            raise ValueError(
                f"The path {rule!r} or endpoint {endpoint!r} is already used on this "
                "app; give this service another service_name or endpoint."
            )
        self._cache.prepare()
        server.add_url_rule(rule, endpoint=endpoint, view_func=self._view, methods=_METHODS)
        registry[rule] = self
        self._prefix = requests_prefix

    # -- writing into the cache -----------------------------------------------
    def open(
        self,
        file_name: str = "",
        content_type: str = "",
        mime_type: Optional[str] = None,
        one_time_service: bool = False,
        download: bool = False,
    ) -> CachedFileWriter:
        """Register a file by writing it, for code that writes in a loop.

        ``with service.open(file_name="big.csv") as f:`` yields a write-only
        :class:`~dash_file_cache.CachedFileWriter` taking ``str`` (as UTF-8)
        and bytes; each write goes to the cache as it comes, so the content
        is never held whole in memory (except by the in-memory caches). The
        item is stored when the block exits without an exception, and
        ``f.address`` (known inside the block already) is servable from then
        on. If the block raises, nothing is stored or left behind, the
        exception propagates and ``f.address`` raises ``RuntimeError``.

        Arguments are those of :meth:`register`, except ``mime_type``: when
        ``None`` it is guessed from ``file_name``'s extension, else
        ``application/octet-stream``. A ``text/*`` type gets
        ``; charset=utf-8`` when ``str`` was written and it names no charset.

        Raises:
            TypeError, ValueError: bad arguments (before anything is written).
            OSError: the cache could not store the item (on exiting the block).
        """
        if not isinstance(file_name, str):
            raise TypeError(f"file_name must be a str, got {type(file_name).__name__}.")
        uid = new_uid()
        guessed = guess_mime_type(file_name) if mime_type is None else ""

        def make_info(wrote_text: bool) -> CachedFileInfo:
            ctype = make_content_type(content_type, mime_type or guessed, wrote_text)
            return {
                "file_name": make_file_name(file_name, None, uid, ctype),
                "content_type": ctype,
                "one_time_service": bool(one_time_service),
                "created": time.time(),
            }

        make_info(False)  # bad arguments raise now, not after the content is written
        address = f"{self._prefix}{self._service_name}?uid={uid}"
        address += "&download=true" if download else ""
        return CachedFileWriter(self._cache, uid, address, make_info)

    def _register_writer(
        self,
        writer: Writer,
        file_name: str,
        content_type: str,
        mime_type: str,
        one_time_service: bool,
        download: bool,
    ) -> str:
        """``register`` for a writer: call it inside :meth:`open`."""
        inferred = mime_type is DEFAULT_MIME_TYPE
        with self.open(
            file_name, content_type, None if inferred else mime_type, one_time_service, download
        ) as out:
            writer(out)
        return out.address


def _parse_flag(values: list[str]) -> Optional[bool]:
    """``download`` query value: absent/false/0 -> False, true/1 -> True, else None."""
    if not values:
        return False
    if len(values) > 1:
        return None
    value = values[0].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def _allow_header() -> http.Headers:
    return http.Headers({"Allow": "GET, HEAD, OPTIONS"})


def _dash_prefixes(app: Any) -> Tuple[str, str]:
    """``(routes, requests)`` path prefixes of a Dash app, without trailing slash."""
    config = getattr(app, "config", None)
    if isinstance(app, flask.Flask) or config is None:
        return "", ""
    routes = str(getattr(config, "routes_pathname_prefix", None) or "/")
    requests = str(getattr(config, "requests_pathname_prefix", None) or "/")
    return routes.rstrip("/"), requests.rstrip("/")


def _flask_app(app: Any) -> flask.Flask:
    if isinstance(app, flask.Flask):
        return app
    server: Union[flask.Flask, None] = getattr(app, "server", None)
    if isinstance(server, flask.Flask):
        return server
    raise TypeError(f"app must be a dash.Dash or flask.Flask, got {type(app).__name__}.")
