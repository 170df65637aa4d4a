"""0.2.0's service helpers: ``no_cache``, ``get_server``, ``DeferredRequestStream``,
``ServiceDownloader``; reimplemented on the new core."""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterator, Mapping, Optional

import flask
from typing_extensions import Protocol

from .._compat import warn_deprecated
from ..services import remote
from ..services.cors import AllowedOrigins, parse_allowed_origins

__all__ = [
    "DeferredRequestStream",
    "ProtocolResponse",
    "ServiceDownloader",
    "get_server",
    "no_cache",
]


def no_cache(func: Callable[..., Any]) -> Callable[..., flask.Response]:
    """Decorate a Flask view so that its response says ``Cache-Control: no-cache``."""

    def view(*args: Any, **kwargs: Any) -> flask.Response:
        response = flask.make_response(func(*args, **kwargs))
        response.cache_control.no_cache = True
        return response

    return functools.update_wrapper(view, func)


def get_server(app: Any) -> flask.Flask:
    """The Flask server of a Dash app, or ``app`` itself if it is a Flask app.

    Raises:
        TypeError: neither ``app`` nor its ``server`` is a ``flask.Flask``.
    """
    server = app if isinstance(app, flask.Flask) else getattr(app, "server", None)
    if not isinstance(server, flask.Flask):
        raise TypeError(
            f"app must be a dash.Dash on Flask or a flask.Flask, got {type(app).__name__}."
        )
    return server


class ProtocolResponse(Protocol):
    """What a remote response offers (a urllib3 response)."""

    def close(self) -> None: ...

    def release_conn(self) -> None: ...

    def read(self, amt: Optional[int] = None) -> Any: ...

    @property
    def headers(self) -> Mapping[Any, Any]: ...


class DeferredRequestStream:
    """A remote request made when entered (``with``) or when :meth:`provide` is called.

    ``info`` is a dict updated from the answer (``file_name``,
    ``content_type``, ``data_size``); ``data`` is ``{"url", "headers",
    "file_name_fallback"}``. Requests use the bounded timeouts of remote items.

    Raises (on entry):
        ValueError: the URL is not http(s).
        OSError: the remote cannot be reached or timed out.
    """

    def __init__(self, info: Any, data: Any) -> None:
        self.info = info
        self.data = data
        self._response: Optional[Any] = None

    def close(self) -> None:
        if self._response is not None:
            remote.RemoteStream(self._response).close()
            self._response = None

    def __enter__(self) -> ProtocolResponse:
        self.close()
        spec = remote.RemoteSpec(
            remote.check_remote_url(self.data["url"]),
            remote.check_remote_headers(self.data.get("headers") or None),
            self.data.get("file_name_fallback") or "",
        )
        upstream = remote.fetch(spec, "GET", {}, remote.DEFAULT_TIMEOUT)
        if not isinstance(upstream, remote.Upstream) or upstream.response is None:
            raise OSError(f"The remote {spec.url} cannot be reached.")
        self._response = upstream.response
        headers = upstream.headers
        if str(headers.get("Content-Length", "")).isdigit():
            self.info["data_size"] = int(headers["Content-Length"])
        self.info["file_name"] = remote.file_name_of(
            headers.get("Content-Disposition"), spec.url, spec.file_name_fallback
        )
        if headers.get("Content-Type"):
            self.info["content_type"] = headers["Content-Type"]
            self.info["mime_type"] = headers["Content-Type"].split(";")[0].strip()
        return upstream.response  # type: ignore[no-any-return]

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def provide(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Enter now and return the body in ``chunk_size`` pieces (closes at its end)."""
        response = self.__enter__()

        def pieces() -> Iterator[bytes]:
            try:
                while True:
                    data = response.read(chunk_size)
                    if not data:
                        return
                    yield data
            finally:
                self.close()

        return pieces()


class ServiceDownloader:
    """0.2.0's helper service of the ``Downloader`` component (deprecated; removed in 0.5.0).

    0.2.0 served a StreamSaver page and service worker here. The ``Downloader``
    and ``PlainDownloader`` components now run on ``CachedDownload``, which
    needs no helper route, so :meth:`serve` only checks ``app``. Cross-origin
    reads are set on ``ServiceData(allowed_cross_origin=...)``.

    Raises:
        TypeError: ``service_name`` is not a ``str``.
        ValueError: ``allowed_cross_origin`` is not ``*`` or origins.
    """

    def __init__(
        self, service_name: str = "/dfc-downloader", allowed_cross_origin: AllowedOrigins = None
    ) -> None:
        warn_deprecated(
            "ServiceDownloader",
            "nothing: CachedDownload (and the old Downloader on top of it) needs no helper "
            "service; set CORS with ServiceData(allowed_cross_origin=...)",
        )
        if not isinstance(service_name, str):
            raise TypeError(f"service_name must be a str, got {type(service_name).__name__}.")
        self._service_name = service_name.strip()
        self._allowed_cross_origin = " ".join(parse_allowed_origins(allowed_cross_origin))

    @property
    def service_name(self) -> str:
        return self._service_name

    @property
    def allowed_cross_origin(self) -> str:
        return self._allowed_cross_origin

    def serve(self, app: Any, endpoint: Optional[str] = None) -> None:
        """Check that ``app`` is a supported app (nothing needs serving any more).

        Raises:
            TypeError: ``app`` is none of the apps ``ServiceData.serve`` takes.
        """
        from ..services.binding import server_of

        server_of(app)
