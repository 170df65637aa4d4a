"""The one test app: a service on any cache, built on any backend.

In-process tests call :func:`build_app` with a service and :func:`make_client`
for a test client. Real servers import ``tests.apps.app:create_app()``, which
reads its configuration from the environment (see ``tests.support.app_env``):

- ``DFC_APP_BACKEND``: the framework (:data:`tests.support.BACKENDS`; default ``flask``);
- ``DFC_APP_CACHE``: the cache kind (:data:`tests.support.CACHE_KINDS`; default ``plain``);
- ``DFC_APP_LIMIT``: the bound (items for ``plain``/``queue``, default 64; bytes of
  ``size_limit`` for ``file``/``redis``, default none);
- ``DFC_APP_DIR``: the ``CacheFile`` directory; ``DFC_APP_REDIS_URL``: the Redis server;
- ``DFC_APP_S3_BUCKET``, ``DFC_APP_S3_ENDPOINT``: the bucket and endpoint of ``s3``
  (credentials: the ``AWS_*`` variables);
- ``DFC_APP_OFFLOAD``, ``DFC_APP_OFFLOAD_LOCATIONS`` (JSON): ``ServiceData``'s offload.

Besides the service at ``/cached-data`` the app has:

- ``POST /register``: registers the request body (``?path=`` registers that
  server-side file instead; ``?one_time=1``; ``?name=``; ``?type=`` its MIME type,
  default ``application/octet-stream``) and answers the address;
- ``GET /stats``: what the tests measure in the answering worker (pid, open
  file descriptors, RSS, threads, items; ``volume``/``size_limit`` of a ``CacheFile``);
- an ``X-Worker-Pid`` header on every response;
- 503 JSON when the cache is unavailable, on ``/register`` too.

A backend is one function ``(service) -> app`` in :data:`BUILDERS` that wires
the framework-neutral handlers below, and one ``(app) -> client`` in
:data:`CLIENTS` whose responses have ``status_code``, ``data``, ``headers``
(with ``getlist``), ``mimetype`` and ``json``.
"""

from __future__ import annotations

import gc
import io
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Mapping

import psutil

import dash_file_cache as dfc
from tests.support.caches import item_count, make_cache

_stats_lock = threading.Lock()


# -- framework-neutral handlers -----------------------------------------------------------


def register_from_request(service: dfc.ServiceData, body: bytes, args: Mapping[str, str]) -> str:
    """``POST /register``: the address of the body (or of ``args["path"]``)."""
    path = args.get("path", "")
    return service.register(
        path if path else io.BytesIO(body),
        file_name=args.get("name", ""),
        mime_type=args.get("type") or "application/octet-stream",
        one_time_service=args.get("one_time") == "1",
    )


def worker_stats(service: dfc.ServiceData, collect: bool) -> Dict[str, Any]:
    """``GET /stats``: resource use of this worker and the size of its view of the cache."""
    with _stats_lock:
        if collect:
            gc.collect()
        proc = psutil.Process()
        cache = service.cache
        result: Dict[str, Any] = {
            "pid": os.getpid(),
            "fds": proc.num_fds(),
            "rss": proc.memory_info().rss,
            "threads": proc.num_threads(),
            "items": item_count(cache),
        }
        if isinstance(cache, dfc.CacheFile):
            result["volume"] = cache.volume()
            result["size_limit"] = cache.size_limit
        elif hasattr(cache, "cache_size"):
            result["cache_size"] = cache.cache_size
        return result


# -- backends ----------------------------------------------------------------------------------


def _build_flask(service: dfc.ServiceData) -> Any:
    import flask

    app = flask.Flask("dfc-test-app")
    service.serve(app)

    @app.post("/register")
    def register() -> str:
        return register_from_request(service, flask.request.get_data(), flask.request.args)

    @app.get("/stats")
    def stats() -> Dict[str, Any]:
        return worker_stats(service, flask.request.args.get("gc") == "1")

    @app.errorhandler(dfc.CacheUnavailableError)
    def unavailable(exc: dfc.CacheUnavailableError) -> Any:
        return {"error": str(exc)}, 503

    @app.after_request
    def tag_worker(response: flask.Response) -> flask.Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app


def _flask_client(app: Any) -> Any:
    return app.test_client()


def _build_fastapi(service: dfc.ServiceData) -> Any:
    from tests.apps.asgi_backends import build_fastapi

    return build_fastapi(service)


def _build_quart(service: dfc.ServiceData) -> Any:
    from tests.apps.asgi_backends import build_quart

    return build_quart(service)


def _asgi_client(app: Any) -> Any:
    from tests.apps.asgi_backends import AsgiClient

    return AsgiClient(app)


#: ``backend -> (service) -> app``.
BUILDERS: Dict[str, Callable[[dfc.ServiceData], Any]] = {
    "flask": _build_flask,
    "fastapi": _build_fastapi,
    "quart": _build_quart,
}
#: ``backend -> (app) -> test client``.
CLIENTS: Dict[str, Callable[[Any], Any]] = {
    "flask": _flask_client,
    "fastapi": _asgi_client,
    "quart": _asgi_client,
}


def build_app(service: dfc.ServiceData, backend: str = "flask") -> Any:
    """The test app for ``backend``, serving ``service``.

    Raises:
        ValueError: an unknown backend.
    """
    if backend not in BUILDERS:
        raise ValueError(f"backend must be one of {sorted(BUILDERS)}, got {backend!r}")
    return BUILDERS[backend](service)


def make_client(app: Any, backend: str = "flask") -> Any:
    """A test client of an app made by :func:`build_app`."""
    return CLIENTS[backend](app)


def cache_from_env(env: Mapping[str, str]) -> dfc.CacheAbstract:
    """The cache that ``DFC_APP_*`` describe (see the module docstring)."""
    kind = env.get("DFC_APP_CACHE", "plain")
    limit = env.get("DFC_APP_LIMIT", "")
    return make_cache(
        kind,
        Path(env["DFC_APP_DIR"]) if env.get("DFC_APP_DIR") else None,
        items=int(limit or 64),
        size_limit=int(limit) if limit else None,
        redis_url=env["DFC_APP_REDIS_URL"] if kind == "redis" else "",
        s3_bucket=env.get("DFC_APP_S3_BUCKET", ""),
        s3_endpoint=env.get("DFC_APP_S3_ENDPOINT", ""),
    )


def service_from_env(env: Mapping[str, str], **options: Any) -> dfc.ServiceData:
    """The service of a real server: its cache and offload from ``env``, and ``options``."""
    offload = env.get("DFC_APP_OFFLOAD") or None
    locations = json.loads(env.get("DFC_APP_OFFLOAD_LOCATIONS") or "{}") or None
    return dfc.ServiceData(
        cache_from_env(env), offload=offload, offload_locations=locations, **options
    )


def create_app() -> Any:
    """The app a real server runs, configured by the environment."""
    return build_app(service_from_env(os.environ), os.environ.get("DFC_APP_BACKEND", "flask"))
