"""The servers of ``bench.uploads``: a Dash app taking uploads plus a plain route, and tuspyserver.

``bench.uploads_app:create_app()`` is what a user has: a Dash app on ``DFC_APP_BACKEND``
(Flask, FastAPI or Quart) with a ``CacheFile`` service taking tus uploads at
``/cached-data/uploads`` (``DFC_APP_*`` as in ``tests.apps.app``), and three more routes on the
same server:

- ``PUT /bench/plain?name=N&append=0|1``: streams the request body into the file ``N`` under
  ``BENCH_PLAIN_DIR`` as the framework hands it over (the baseline: what this server stack
  receives with no tus, no cache, no lock; Flask reads ``&block=`` bytes at a time, 1 MiB;
  on FastAPI and Quart ``&thread=1`` writes each block in the loop's executor, off the loop);
- ``POST /bench/remove?uid=U``: removes the finished upload's item (so runs do not fill the disk);
- ``GET /stats``: ``{"pid": ...}`` of the worker.

It is not the test app (``tests.apps.app``): that one tags every answer with its worker through
a Starlette ``BaseHTTPMiddleware`` on FastAPI, which costs a task group per body message and
is no part of a Dash app.

``bench.uploads_app:create_tuspy()`` is ``tuspyserver`` (a FastAPI tus router, the peer) storing
under ``BENCH_PLAIN_DIR``/tuspy, with ``GET /stats`` giving its pid.
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations at runtime.
import asyncio
import os
from pathlib import Path
from typing import Any

import dash
from dash import html

import dash_file_cache as dfc
from tests.apps.app import cache_from_env

__all__ = ["create_app", "create_tuspy"]


def _target(name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError("bad name")
    return Path(os.environ["BENCH_PLAIN_DIR"]) / name


async def _write_all(blocks: Any, out: Any, in_thread: bool) -> None:
    """Write every block of ``blocks`` (async iterable) to ``out``, on the loop or in a thread."""
    loop = asyncio.get_running_loop()
    async for block in blocks:
        if in_thread:
            await loop.run_in_executor(None, out.write, block)
        else:
            out.write(block)


def _add_flask(app: Any, service: dfc.ServiceData) -> None:
    import flask

    @app.put("/bench/plain")
    def plain() -> str:
        args = flask.request.args
        stream = flask.request.stream
        with open(_target(args["name"]), "ab" if args.get("append") == "1" else "wb") as out:
            while True:
                block = stream.read(int(args.get("block", 1 << 20)))
                if not block:
                    break
                out.write(block)
        return "ok"

    @app.post("/bench/remove")
    def remove() -> str:
        return str(service.cache.remove(flask.request.args["uid"]))

    @app.get("/stats")
    def stats() -> Any:
        return {"pid": os.getpid()}


def _add_fastapi(app: Any, service: dfc.ServiceData) -> None:
    from fastapi import Request
    from fastapi.responses import PlainTextResponse

    @app.put("/bench/plain")
    async def plain(request: Request) -> PlainTextResponse:
        args = request.query_params
        with open(_target(args["name"]), "ab" if args.get("append") == "1" else "wb") as out:
            await _write_all(request.stream(), out, args.get("thread") == "1")
        return PlainTextResponse("ok")

    @app.post("/bench/remove")
    def remove(uid: str) -> PlainTextResponse:
        return PlainTextResponse(str(service.cache.remove(uid)))

    @app.get("/stats")
    def stats() -> Any:
        return {"pid": os.getpid()}


def _add_quart(app: Any, service: dfc.ServiceData) -> None:
    import quart

    app.config["MAX_CONTENT_LENGTH"] = None  # Quart's default (16 MiB) refuses 64 MiB bodies

    @app.put("/bench/plain")
    async def plain() -> str:
        args = quart.request.args
        with open(_target(args["name"]), "ab" if args.get("append") == "1" else "wb") as out:
            await _write_all(quart.request.body, out, args.get("thread") == "1")
        return "ok"

    @app.post("/bench/remove")
    async def remove() -> str:
        return str(service.cache.remove(quart.request.args["uid"]))

    @app.get("/stats")
    async def stats() -> Any:
        return {"pid": os.getpid()}


_ADD = {"flask": _add_flask, "fastapi": _add_fastapi, "quart": _add_quart}


def create_app() -> Any:
    """The Dash app on ``DFC_APP_BACKEND`` taking uploads, with the bench routes; its server."""
    backend = os.environ.get("DFC_APP_BACKEND", "flask")
    service = dfc.ServiceData(cache_from_env(os.environ), uploads=dfc.UploadPolicy())
    app = dash.Dash("bench-uploads", backend=backend)
    app.layout = html.Div("bench")
    service.serve(app)
    server = app.server
    _ADD[backend](server, service)
    return server


def create_tuspy() -> Any:
    """tuspyserver's router on FastAPI, storing under ``BENCH_PLAIN_DIR``/tuspy."""
    import fastapi
    import tuspyserver

    folder = Path(os.environ["BENCH_PLAIN_DIR"]) / "tuspy"
    folder.mkdir(exist_ok=True)
    app = fastapi.FastAPI()
    app.include_router(tuspyserver.create_tus_router(prefix="files", files_dir=str(folder)))

    @app.get("/stats")
    def stats() -> Any:
        return {"pid": os.getpid()}

    return app
