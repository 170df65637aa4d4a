"""A Flask app for the reliability tests, run under gunicorn or werkzeug.

The cache is chosen by environment variables, so one module serves every
configuration:

- ``DFC_REL_CACHE``: ``plain`` (``CachePlain``) or ``file`` (``CacheFile``).
- ``DFC_REL_LIMIT``: the bound: items for ``plain`` (default 64), bytes of
  ``size_limit`` for ``file`` (default: no bound).
- ``DFC_REL_DIR``: the ``CacheFile`` directory (required for ``file``).

Besides the service at ``/cached-data`` it has ``POST /register`` (the request
body becomes an in-memory item) and ``GET /stats`` (what the tests measure in
the answering worker: pid, open file descriptors, RSS, items, volume).
"""

from __future__ import annotations

import gc
import io
import os
import threading
from typing import Any, Dict

import flask
import psutil

import dash_file_cache as dfc


def make_cache() -> dfc.CacheAbstract:
    """Build the cache described by the environment."""
    kind = os.environ.get("DFC_REL_CACHE", "plain")
    limit = os.environ.get("DFC_REL_LIMIT", "")
    if kind == "plain":
        return dfc.CachePlain(int(limit or 64))
    if kind == "file":
        return dfc.CacheFile(os.environ["DFC_REL_DIR"], size_limit=int(limit) if limit else None)
    raise ValueError(f"DFC_REL_CACHE must be 'plain' or 'file', got {kind!r}")


app = flask.Flask("reliability")
cache = make_cache()
service = dfc.ServiceData(cache)
service.serve(app)
_stats_lock = threading.Lock()


@app.post("/register")
def register() -> str:
    """Register the request body; ``?one_time=1`` makes a one-time item."""
    args = flask.request.args
    return service.register(
        io.BytesIO(flask.request.get_data()),
        file_name=args.get("name", ""),
        mime_type="application/octet-stream",
        one_time_service=args.get("one_time") == "1",
    )


@app.get("/stats")
def stats() -> Dict[str, Any]:
    """Resource use of the answering worker and the size of its view of the cache."""
    with _stats_lock:
        if flask.request.args.get("gc") == "1":
            gc.collect()
        proc = psutil.Process()
        result: Dict[str, Any] = {
            "pid": os.getpid(),
            "fds": proc.num_fds(),
            "rss": proc.memory_info().rss,
            "threads": proc.num_threads(),
            "items": len(cache),  # type: ignore[arg-type]
        }
        if isinstance(cache, dfc.CacheFile):
            result["volume"] = cache.volume()
            result["size_limit"] = cache.size_limit
        else:
            result["cache_size"] = cache.cache_size  # type: ignore[attr-defined]
        return result


@app.after_request
def tag_worker(response: flask.Response) -> flask.Response:
    """Say which worker answered."""
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response
