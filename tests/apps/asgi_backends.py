"""The test app on the ASGI backends (FastAPI, Quart), and a test client for them.

The same routes as the Flask build of :mod:`tests.apps.app`, through the same
framework-neutral handlers: ``/cached-data`` (the service), ``POST
/register``, ``GET /stats``, an ``X-Worker-Pid`` header on every response
and 503 JSON when the cache is unavailable.

:class:`AsgiClient` drives any ASGI app in this process (through
``httpx.ASGITransport``) and answers like Flask's test client (``status_code``,
``data``, ``headers`` with ``getlist``, ``mimetype``, ``json``), so the
contract and hostile-input tests run unchanged on every backend.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Mapping, Optional

from werkzeug.datastructures import Headers

import dash_file_cache as dfc


def build_fastapi(service: dfc.ServiceData) -> Any:
    """A FastAPI app serving ``service`` (the handlers run in FastAPI's thread pool)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, Response

    from tests.apps.app import register_from_request, worker_stats

    app = FastAPI()
    service.serve(app)

    @app.post("/register")
    async def register(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        body = await request.body()
        args = dict(request.query_params)
        address = await run_in_threadpool(register_from_request, service, body, args)
        return PlainTextResponse(address)

    @app.get("/stats")
    def stats(gc: str = "0") -> Any:
        return worker_stats(service, gc == "1")

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


class AsgiClient:
    """A synchronous test client for an ASGI app, answering like Flask's."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def open(
        self,
        path: str,
        method: str = "GET",
        headers: Optional[Mapping[str, str]] = None,
        data: Optional[bytes] = None,
        query_string: Any = None,
    ) -> AsgiResponse:
        import httpx

        async def call() -> httpx.Response:
            # Server errors are raised, as Flask's test client does in testing mode.
            transport = httpx.ASGITransport(app=self._app, raise_app_exceptions=True)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
                return await c.request(
                    method.upper(), path, headers=dict(headers or {}), content=data,
                    params=query_string,
                )  # fmt: skip

        response = asyncio.run(call())
        return AsgiResponse(
            response.status_code, Headers(response.headers.multi_items()), response.content
        )

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
