"""``ServiceData``: register files in a cache and stream them by address."""

from __future__ import annotations

import functools
import io
import re
import time
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping, Optional, Tuple, Union, cast
from urllib.parse import ParseResult, parse_qs, urlsplit

from .._grammar import MB
from .._runtime import mark_serving
from .._validate import check_positive_int
from ..caches.abstract import CacheAbstract, CachedFileInfo, open_content
from ..caches.uploads import UploadSource
from . import binding, http, pipeline, remote, security, upload_endpoint
from .content import Answer
from .cors import AllowedOrigins, CorsPolicy, parse_allowed_origins
from .offload import Offload, make_offload
from .source import (
    FileSource,
    make_content_type,
    make_file_name,
    sanitize_file_name,
    to_cached_data,
)
from .uid import is_valid_uid, new_uid
from .upload_policy import UploadPolicy
from .writer import DEFAULT_MIME_TYPE, CachedFileWriter, Writer, guess_mime_type, is_writer

if TYPE_CHECKING:  # pragma: no cover
    import flask

__all__ = ["ServiceData"]

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
        allowed_cross_origin: off by default (``None`` or ``""``). ``"*"``
            lets any origin read the addresses (without credentials); an
            origin (``"https://example.com:8050"``), several separated by
            spaces or commas, or a list of them, lets those origins read
            them with credentials. Allowed origins get CORS headers and
            answered preflights; others get none.
        active_content_policy: the ``Content-Security-Policy`` sent with
            items whose type can run script (HTML, SVG, XML, unknown types;
            see :func:`~dash_file_cache.services.security.can_run_script`).
            The default sandboxes them in an opaque origin: their script may
            run but cannot read the app's cookies or storage nor call its
            APIs as the user. Pass another policy, or ``None`` for none, only
            if every item the app registers is trusted active content.
        offload: ``None`` (Python sends every byte), ``"x-accel-redirect"``
            (nginx) or ``"x-sendfile"`` (Apache ``mod_xsendfile``, lighttpd):
            a ``GET`` for a file-backed item (a path item, ``CacheFile``
            content) under a directory of ``offload_locations`` is answered
            with an empty body and that header, and the front server sends the
            file. The app still checks the uid, claims one-time items, answers
            errors, ``HEAD`` and conditional requests, and sets the headers.
            Only behind a front server configured for it (``docs/deploy/``).
        offload_locations: ``{app-side directory: prefix}``: for nginx the
            URI of the ``internal`` location serving that directory, for
            X-Sendfile the directory as the front server sees it.
        uploads: ``None`` (the default): no upload endpoint. An
            :class:`~dash_file_cache.UploadPolicy`: :meth:`serve` also mounts
            a tus 1.0.0 endpoint at ``{service_name}/uploads``
            (:attr:`upload_address`); each finished upload becomes an
            ordinary item of the cache.

    Raises:
        TypeError: ``cache`` is not a ``CacheAbstract``, or another argument
            has the wrong type.
        ValueError: ``service_name`` is not a URL path, ``chunk_size`` < 1,
            ``allowed_cross_origin`` holds something that is not an origin,
            ``active_content_policy`` is empty or not a header value, or
            ``offload``/``offload_locations`` is invalid (see
            :func:`~dash_file_cache.services.offload.make_offload`).
    """

    #: ``(connect, read)`` timeouts in seconds of the requests made for remote items.
    remote_timeout: Tuple[float, float] = remote.DEFAULT_TIMEOUT

    def __init__(
        self,
        cache: CacheAbstract[Any, Any],
        service_name: str = "/cached-data",
        chunk_size: int = 1,
        allowed_cross_origin: AllowedOrigins = None,
        *,
        active_content_policy: Optional[str] = security.DEFAULT_ACTIVE_CONTENT_POLICY,
        offload: Optional[str] = None,
        offload_locations: Optional[Mapping[str, str]] = None,
        uploads: Optional[UploadPolicy] = None,
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
        self._active_content_policy = security.check_active_content_policy(active_content_policy)
        self._offload = make_offload(offload, offload_locations)
        self._allowed_cross_origin = " ".join(parse_allowed_origins(allowed_cross_origin))
        self._cors = CorsPolicy.of(allowed_cross_origin)
        if uploads is not None and not isinstance(uploads, UploadPolicy):
            raise TypeError(
                f"uploads must be an UploadPolicy or None, got {type(uploads).__name__}."
            )
        self._uploads = uploads
        self._upload_endpoint: Optional[upload_endpoint.UploadEndpoint] = None

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
    def uploads(self) -> Optional[UploadPolicy]:
        """The upload policy, or ``None`` when the service takes no uploads."""
        return self._uploads

    @property
    def upload_address(self) -> str:
        """The upload endpoint's creation URL (``{prefix}{service_name}/uploads``).

        Give it to a tus client (``CachedUpload(endpoint=...)``, tus-js-client, tuspy).

        Raises:
            RuntimeError: the service takes no uploads, or :meth:`serve` was not called yet.
        """
        if self._uploads is None:
            raise RuntimeError(
                "This service takes no uploads: create it with "
                "ServiceData(..., uploads=UploadPolicy())."
            )
        if self._upload_endpoint is None:
            raise RuntimeError(
                "upload_address is known once the service is served: call serve(app) first."
            )
        return self._upload_endpoint.creation_url

    @property
    def offload(self) -> Optional[Offload]:
        """The offload mode and its directory map, or None (Python sends the bytes)."""
        return self._offload

    @property
    def chunk_size(self) -> int:
        """The chunk size when streaming cached files, in MB."""
        return self._chunk_size

    @chunk_size.setter
    def chunk_size(self, value: int) -> None:
        self._chunk_size = check_positive_int("chunk_size", value)

    @property
    def active_content_policy(self) -> Optional[str]:
        """``Content-Security-Policy`` of items that can run script (``None``: none)."""
        return self._active_content_policy

    @active_content_policy.setter
    def active_content_policy(self, value: Optional[str]) -> None:
        self._active_content_policy = security.check_active_content_policy(value)

    @property
    def allowed_cross_origin(self) -> str:
        """The origins allowed to read the addresses: ``""`` (CORS off), ``"*"``,
        or origins separated by spaces."""
        return self._allowed_cross_origin

    # -- registering ------------------------------------------------------
    def _address(self, uid: str, download: bool) -> str:
        """The address of item ``uid``: ``{prefix}{service_name}?uid=...[&download=true]``."""
        address = f"{self._prefix}{self._service_name}?uid={uid}"
        return address + "&download=true" if download else address

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
        uid = self._cache.new_key(new_uid())
        data = to_cached_data(fobj)
        text_source = isinstance(fobj, io.TextIOBase)
        ctype = make_content_type(content_type, mime_type, text_source)
        info = _item_info(make_file_name(file_name, fobj, uid, ctype), ctype, one_time_service)
        self._cache.dump(uid, info, data)
        return self._address(uid, download)

    def register_request(
        self,
        url: Union[str, ParseResult],
        headers: Optional[Mapping[str, str]] = None,
        file_name_fallback: str = "",
        download: bool = True,
        *,
        one_time_service: bool = False,
    ) -> str:
        """Register a remote http(s) file, streamed through this server when asked.

        Only the request is stored (URL, headers, fallback name), never the
        content, so every cache works. Each request to the address asks the
        remote (with ``headers`` and the client's ``Range``; ``HEAD`` as
        ``HEAD``) and streams its answer in chunks. Remote 404/410 -> 404,
        other remote failures -> 502, timeouts (:attr:`remote_timeout`) -> 504.

        Arguments:
            url: absolute ``http``/``https`` URL (``str`` or ``ParseResult``).
            headers: request headers sent to the remote (e.g. ``Authorization``).
            file_name_fallback: saved name when neither the remote's
                ``Content-Disposition`` nor the URL path gives one.
            download: append ``&download=true`` (as in 0.2.0, the default).
            one_time_service: remove the item when one ``GET`` claims it.

        Returns:
            The address ``{service_name}?uid=...``.

        Raises:
            TypeError: an argument has the wrong type.
            ValueError: ``url`` is not an http(s) URL, or ``headers`` holds a
                line break.
            OSError: the cache could not store the item.
        """
        spec = remote.RemoteSpec(
            remote.check_remote_url(url),
            remote.check_remote_headers(headers),
            sanitize_file_name(file_name_fallback) if isinstance(file_name_fallback, str) else "",
        )
        if not isinstance(file_name_fallback, str):
            raise TypeError(
                f"file_name_fallback must be a str, got {type(file_name_fallback).__name__}."
            )
        uid = self._cache.new_key(new_uid())
        info = _item_info(
            spec.file_name_fallback, "application/octet-stream", one_time_service, remote=True
        )
        self._cache.dump(uid, info, io.BytesIO(spec.to_bytes()))
        return self._address(uid, download)

    # -- serving ----------------------------------------------------------
    def stream(
        self, uid: str, download: bool = False, *, file_name: Optional[str] = None
    ) -> flask.Response:
        """Build the Flask response for a cached item.

        Called by the bound Flask view; call it yourself only to serve an item
        from your own Flask route (on FastAPI and Quart the route bound by
        :meth:`serve` answers, and ``&file_name=`` in the address renames).
        Inside a Flask request it honours conditional and ``Range`` headers
        per RFC 9110 (304, 412, 206, 416; ``Range`` on ``GET`` only); ``HEAD``
        gets headers only. Outside any request it gives the whole item.
        ``file_name``, when given, replaces the registered name in
        ``Content-Disposition`` (sanitised the same way; one that sanitises to
        nothing, such as ``".."``, keeps the registered name).

        Raises:
            ValueError: ``uid`` is not of the uid form.
            FileNotFoundError: no such item (never registered, evicted,
                removed, its path deleted, or a one-time item already claimed).
        """
        from . import _flask

        if not is_valid_uid(uid):
            raise ValueError(f"uid is malformed: {uid!r}.")
        adapter, environ = _flask.ADAPTER, _flask.current_environ()
        request = None
        if environ is not None:
            mark_serving()  # also when called from the app's own route, never bound
            request = adapter.to_request(environ)
        query = http.Query(uid, bool(download), file_name)
        answer = self._respond(request, lambda: pipeline.answer_item(self, request, query))
        return adapter.respond(answer, environ or {}, self._chunk_size * MB)

    def answer(self, request: http.Request) -> Answer:
        """Answer a request to the service (blocking: run it off any event loop).

        The one framework-neutral entry of every adapter: validates the query,
        looks the item up, claims a one-time item, and opens its content. The
        caller sends the :class:`~dash_file_cache.services.content.Answer`
        and closes it. Never raises for bad input or a missing item: those
        are answers (4xx JSON, or a small HTML page for a browser's 404).
        """
        if self._upload_endpoint is not None:
            self._upload_endpoint.tidy()
        return self._respond(request, lambda: pipeline.answer_query(self, request))

    def answer_upload(
        self, request: http.Request, segment: Optional[str], body: UploadSource
    ) -> Answer:
        """Answer a request to the upload endpoint (blocking: run it off any event loop).

        ``segment``: the path segment after ``/uploads/`` (``None`` on the
        creation URL); ``body``: the request body as a readable source, read
        in bounded blocks and only once the headers are accepted. Never
        raises for bad input (see :class:`.upload_endpoint.UploadEndpoint`).
        """
        endpoint = self._upload_endpoint
        if endpoint is None:
            return Answer(http.error(404, "This service takes no uploads.", request))
        cors = self._cors
        if cors is not None:
            preflight = cors.preflight(request, upload_endpoint.METHODS)
            if preflight is not None:
                return Answer(preflight)
        decision = endpoint.answer(request, segment, body)
        if cors is not None:
            decision = cors.apply(request, decision, upload_endpoint.EXPOSED)
        return Answer(http.for_request(decision, request))

    def read(self, address_or_uid: str) -> IO[bytes]:
        """The content of an item as a readable binary file (close it, or use ``with``).

        Any item: registered, written or uploaded; a remote item is streamed
        from its remote. Reading does not claim a one-time item.

        Arguments:
            address_or_uid: an address this service gave (``...?uid=...``) or a uid.

        Raises:
            TypeError: ``address_or_uid`` is not a ``str``.
            ValueError: ``address_or_uid`` is neither an address nor a uid.
            FileNotFoundError: no such item (unknown, expired, removed).
            OSError: the cache cannot be read now.
        """
        uid = _uid_of(address_or_uid, self._service_name)
        info, stream = open_content(self._cache, uid)
        if not info.get("remote"):
            return stream
        with stream:
            spec = remote.RemoteSpec.from_bytes(stream.read())
        decision, body = remote.answer_remote(
            None, spec, one_time=False, download=False, file_name="", timeout=self.remote_timeout
        )
        if body is None:
            raise FileNotFoundError(f"The remote of item {uid} answered {decision.status}.")
        return cast(IO[bytes], body)

    def _respond(self, request: Optional[http.Request], inner: Callable[[], Answer]) -> Answer:
        """``inner()``'s answer as sent to ``request``: a CORS preflight is answered
        instead, the answer gets the CORS headers the request's origin is allowed,
        and a ``HEAD`` gets no body (:func:`.http.for_request`)."""
        if self._cors is not None and request is not None:
            preflight = self._cors.preflight(request)
            if preflight is not None:
                return Answer(preflight)
        answer = inner()
        if self._cors is not None:
            answer.decision = self._cors.apply(request, answer.decision)
        answer.decision = http.for_request(answer.decision, request)
        return answer

    def serve(self, app: Any, endpoint: Optional[str] = None) -> None:
        """Add the service to an application.

        ``app`` is a ``dash.Dash`` app on any backend (Flask, FastAPI,
        Quart; also built with ``Dash(server=...)``) or a plain
        ``flask.Flask``, ``fastapi.FastAPI``/``starlette.Starlette`` or
        ``quart.Quart`` app. Callable before or after the Dash layout is set,
        but before the app handles its first request. Serving the same
        service on the same app twice does nothing. A Dash app's path prefixes
        are honoured: the route goes under ``routes_pathname_prefix`` and
        addresses start with ``requests_pathname_prefix``.

        Arguments:
            app: the application (for Dash, its ``server`` is used).
            endpoint: endpoint (route) name; by default derived from
                ``service_name``.

        Raises:
            TypeError: ``app`` is none of the supported applications.
            ValueError: another service already uses this path or endpoint,
                or this service is already served under another prefix.
        """
        self._prefix = binding.bind(self, app, endpoint, self._prefix)
        if self._uploads is not None:
            self._upload_endpoint = upload_endpoint.UploadEndpoint(
                self._cache,
                self._uploads,
                f"{self._prefix}{self._service_name}/uploads",
                functools.partial(self._address, download=False),
            )

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
        uid = self._cache.new_key(new_uid())
        guessed = guess_mime_type(file_name) if mime_type is None else ""

        def make_info(wrote_text: bool) -> CachedFileInfo:
            ctype = make_content_type(content_type, mime_type or guessed, wrote_text)
            return _item_info(make_file_name(file_name, None, uid, ctype), ctype, one_time_service)

        make_info(False)  # bad arguments raise now, not after the content is written
        return CachedFileWriter(self._cache, uid, self._address(uid, download), make_info)

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


def _uid_of(address_or_uid: object, service_name: str) -> str:
    """The uid a uid or an address names.

    Raises:
        TypeError: not a ``str``.
        ValueError: neither a uid nor an address of ``service_name`` with one valid uid.
    """
    if not isinstance(address_or_uid, str):
        raise TypeError(f"address_or_uid must be a str, got {type(address_or_uid).__name__}.")
    if is_valid_uid(address_or_uid):
        return address_or_uid
    parts = urlsplit(address_or_uid)
    uids = parse_qs(parts.query).get("uid", [])
    if parts.path.endswith(service_name) and len(uids) == 1 and is_valid_uid(uids[0]):
        return uids[0]
    raise ValueError(
        f"address_or_uid must be an address of {service_name!r} (with one 'uid') or a uid, "
        f"got {address_or_uid!r}."
    )


def _item_info(
    file_name: str, content_type: str, one_time_service: object, *, remote: bool = False
) -> CachedFileInfo:
    """The info of an item registered now (``remote``: a remote request's description)."""
    info: CachedFileInfo = {
        "file_name": file_name,
        "content_type": content_type,
        "one_time_service": bool(one_time_service),
        "created": time.time(),
    }
    if remote:
        info["remote"] = True
    return info
