"""The test app on the ASGI backends (FastAPI, Quart), and a test client for them.

The same routes as the Flask build of :mod:`tests.apps.app`, through the same
framework-neutral handlers: ``/cached-data`` (the service), ``POST
/register``, ``GET /stats``, an ``X-Worker-Pid`` header on every response
and 503 JSON when the cache is unavailable.

:class:`AsgiClient` drives any ASGI app in this process (through
a scope built from the environ werkzeug's test client would send) and
answers like Flask's test client (``status_code``,
``data``, ``headers`` with ``getlist``, ``mimetype``, ``json``), so the
contract and hostile-input tests run unchanged on every backend.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at
# run time, and ``Request`` is imported inside the builder.
import asyncio
import json
import os
import weakref
from typing import Any, Dict, List, Mapping, Optional

from werkzeug.datastructures import EnvironHeaders, Headers
from werkzeug.test import EnvironBuilder

import dash_file_cache as dfc


def build_fastapi(service: dfc.ServiceData) -> Any:
    """A FastAPI app serving ``service`` (the handlers run in FastAPI's thread pool)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, Response

    from tests.apps.app import register_from_request, worker_stats

    app = FastAPI()
    service.serve(app)
    # The routes find the service on the app, not in a closure: FastAPI caches what
    # it learns of a route function in module-level caches that never let it go,
    # which kept every test's service, cache and open index alive to the end.
    app.state.service = service

    @app.post("/register")
    async def register(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        body = await request.body()
        args = dict(request.query_params)
        served = request.app.state.service
        address = await run_in_threadpool(register_from_request, served, body, args)
        return PlainTextResponse(address)

    @app.get("/stats")
    def stats(request: Request, gc: str = "0") -> Any:
        return worker_stats(request.app.state.service, gc == "1")

    @app.exception_handler(dfc.CacheUnavailableError)
    async def unavailable(_: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, 503)

    @app.middleware("http")
    async def tag_worker(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app


def build_quart(service: dfc.ServiceData) -> Any:
    """A Quart app serving ``service``."""
    import quart
    from quart.utils import run_sync

    from tests.apps.app import register_from_request, worker_stats

    app = quart.Quart("dfc-test-app")
    service.serve(app)

    @app.post("/register")
    async def register() -> str:
        body = await quart.request.get_data()
        args = quart.request.args.to_dict()
        address: str = await run_sync(register_from_request)(service, body, args)
        return address

    @app.get("/stats")
    async def stats() -> Any:
        collect = quart.request.args.get("gc") == "1"
        return await run_sync(worker_stats)(service, collect)

    @app.errorhandler(dfc.CacheUnavailableError)
    async def unavailable(exc: Exception) -> Any:
        return {"error": str(exc)}, 503

    @app.after_request
    async def tag_worker(response: Any) -> Any:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app


class AsgiResponse:
    """A response with the attributes of Flask's test response that tests read."""

    def __init__(self, status_code: int, headers: Headers, data: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.data = data

    @property
    def content(self) -> bytes:
        return self.data

    @property
    def mimetype(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    @property
    def json(self) -> Any:
        return json.loads(self.data)

    def get_json(self) -> Any:
        return self.json

    def get_data(self) -> bytes:
        return self.data


def _wire(text: str) -> bytes:
    """A header as bytes on the wire: as WSGI reads it (latin-1), else its UTF-8 bytes."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


async def _call(app: Any, scope: Dict[str, Any], body: bytes) -> AsgiResponse:
    """Run one HTTP exchange through an ASGI app; exceptions propagate."""
    messages: List[Dict[str, Any]] = []
    sent_body = False
    finished = asyncio.Event()

    async def receive() -> Dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()  # no disconnect until the response is complete, as a server
        return {"type": "http.disconnect"}

    async def send(message: Dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]])
    data = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    if scope["method"] == "HEAD":
        data = b""  # what a server sends
    return AsgiResponse(start["status"], headers, data)


class AsgiClient:
    """A synchronous test client for an ASGI app, answering like Flask's."""

    def __init__(self, app: Any) -> None:
        self._app = app
        # One loop for the client's life: a new loop per request (asyncio.run) makes
        # each request slower than the last on Python 3.9 (its task registry grows).
        self._loop = asyncio.new_event_loop()
        weakref.finalize(self, self._loop.close)

    def open(
        self,
        path: str,
        method: str = "GET",
        headers: Optional[Mapping[str, str]] = None,
        data: Optional[bytes] = None,
        query_string: Any = None,
    ) -> AsgiResponse:
        """Send one request; the request is built by werkzeug as Flask's client builds it.

        The ASGI scope gets the same method, path, raw query bytes and headers
        as the WSGI environ the Flask client would send (no client-side URL
        checks: hostile-input tests send what no browser would).
        """
        builder = EnvironBuilder(
            path=path, method=method,
            # werkzeug annotates headers= as Headers or pairs, but wraps any mapping in Headers
            headers=dict(headers or {}),  # type: ignore[arg-type]
            data=data, query_string=query_string,
        )  # fmt: skip
        environ = builder.get_environ()
        body = builder.input_stream.read() if builder.input_stream is not None else b""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": environ["REQUEST_METHOD"],
            "scheme": "http",
            "path": environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace"),
            "raw_path": environ["PATH_INFO"].encode("latin-1"),
            "root_path": "",
            "query_string": environ["QUERY_STRING"].encode("latin-1"),
            "headers": [
                (_wire(name.lower()), _wire(value))
                for name, value in EnvironHeaders(environ).items()
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("localhost", 80),
            "extensions": {},
        }
        return self._loop.run_until_complete(_call(self._app, scope, body))

    def get(self, path: str, **kwargs: Any) -> AsgiResponse:
        return self.open(path, "GET", **kwargs)

    def head(self, path: str, **kwargs: Any) -> AsgiResponse:
        return self.open(path, "HEAD", **kwargs)

    def post(self, path: str, **kwargs: Any) -> AsgiResponse:
        return self.open(path, "POST", **kwargs)

    def options(self, path: str, **kwargs: Any) -> AsgiResponse:
        return self.open(path, "OPTIONS", **kwargs)

    def delete(self, path: str, **kwargs: Any) -> AsgiResponse:
        return self.open(path, "DELETE", **kwargs)
