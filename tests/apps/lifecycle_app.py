"""A Dash app owning a temporary ``CacheFile()`` and a ``CacheQueue`` Manager.

``tests/test_lifecycle_signals.py`` runs it as a development server
(``python lifecycle_app.py PORT``), under gunicorn (``tests.apps.lifecycle_app:server``)
and, on Dash's FastAPI or Quart backend, under an ASGI server's command line
(``tests.apps.lifecycle_app:create_asgi``, the backend in ``DFC_LIFECYCLE_BACKEND``),
then signals it and checks what is left behind. ``/info`` tells the serving process and its
cache directory.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Tuple

import dash
from dash import html

import dash_file_cache as dfc


def build(backend: str = "flask") -> Tuple[dash.Dash, dfc.ServiceData]:
    """The Dash app on ``backend`` with its two services served, and the ``CacheFile`` one."""
    app = dash.Dash(f"lifecycle-{backend}", backend=backend)
    files = dfc.ServiceData(dfc.CacheFile())
    queued = dfc.ServiceData(dfc.CacheQueue(4, dfc.manager_queue), service_name="/cached-queue")
    files.serve(app)
    queued.serve(app)  # starts the Manager here, in the serving process (or preloading master)
    app.layout = html.Div("lifecycle")
    return app, files


def info_of(files: dfc.ServiceData) -> dict:
    cache = files.cache
    assert isinstance(cache, dfc.CacheFile)
    return {"pid": os.getpid(), "cache_dir": cache.cache_dir}


def create_asgi() -> Any:
    """The ASGI app of Dash's ``DFC_LIFECYCLE_BACKEND`` backend (``fastapi`` or ``quart``)."""
    backend = os.environ.get("DFC_LIFECYCLE_BACKEND", "fastapi")
    asgi_app, files = build(backend)
    asgi = asgi_app.server
    asgi.get("/info")(lambda: info_of(files))  # FastAPI and Quart alike
    return asgi


if os.environ.get("DFC_LIFECYCLE_BACKEND") is None:  # Flask: the dev server, gunicorn
    app, _files = build()
    server = app.server
    server.get("/info")(lambda: info_of(_files))


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), debug=False)
