"""One Dash app on any server backend, for tests on real servers.

Environment:
- ``DFC_BACKEND``: ``flask``, ``fastapi`` or ``quart`` (the Dash backend).
- ``DFC_CACHE_DIR``: the ``CacheFile`` directory (tests register items into
  it from their own process: a ``CacheFile`` is shared by processes).
- ``DFC_PREFIX``: the Dash ``url_base_pathname`` (default ``/app/``).
- ``DFC_BLOCKING=1``: a deliberately broken variant that runs the service's
  blocking work on the event loop, to compare the real adapters against.

A ``CacheFile`` item whose registered name starts with ``slow-`` takes 1.5 s to
look up (a slow cache call). ``server`` is the WSGI/ASGI application.
``/_dfc/register`` registers a small item from inside the server process and
a background callback (``DiskcacheManager``) registers one from a job.
"""

from __future__ import annotations

import io
import os
import time
from typing import Any, Tuple

import dash
import diskcache
from dash import Input, Output, html

import dash_file_cache as dfc
from dash_file_cache.caches.abstract import CachedFileInfo, CachedLoader

BACKEND = os.environ.get("DFC_BACKEND", "flask")
PREFIX = os.environ.get("DFC_PREFIX", "/app/")
SLOW_SECONDS = 1.5


class SlowCacheFile(dfc.CacheFile):
    """A ``CacheFile`` whose look-up of ``slow-*`` items blocks for a while."""

    def load(self, key: str) -> Tuple[CachedFileInfo, CachedLoader]:
        info, loader = super().load(key)
        if info["file_name"].startswith("slow-"):
            time.sleep(SLOW_SECONDS)
        return info, loader


service = dfc.ServiceData(SlowCacheFile(os.environ["DFC_CACHE_DIR"]))
manager = dash.DiskcacheManager(diskcache.Cache(os.environ["DFC_CACHE_DIR"] + "-jobs"))
app = dash.Dash(
    __name__, backend=BACKEND, url_base_pathname=PREFIX, background_callback_manager=manager
)
app.layout = html.Div(
    [
        html.Button("make", id="make"),
        html.Div(id="address"),
        html.Button("show", id="show"),
        dfc.CachedImage(id="image"),
        html.Div(id="image-status"),
        html.Button("csv", id="csv"),
        dfc.CachedDownload(id="download"),
        html.Div(id="download-status"),
    ]
)
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">'
    '<rect width="40" height="30" fill="teal"/></svg>'
)
CSV = "a,b\n1,2\n"


@app.callback(Output("image", "src"), Input("show", "n_clicks"), prevent_initial_call=True)
def show(_: Any) -> str:
    return service.register(io.StringIO(SVG), mime_type="image/svg+xml")


@app.callback(Output("image-status", "children"), Input("image", "status"))
def image_status(status: Any) -> str:
    return "" if not status else str(status.get("state"))


@app.callback(Output("download", "url"), Input("csv", "n_clicks"), prevent_initial_call=True)
def csv(_: Any) -> str:
    return service.register(
        io.StringIO(CSV), file_name="table.csv", mime_type="text/csv", download=True
    )


@app.callback(Output("download-status", "children"), Input("download", "status"))
def download_status(status: Any) -> str:
    return "" if not status else str(status.get("state"))


@app.callback(
    Output("address", "children"),
    Input("make", "n_clicks"),
    background=True,
    prevent_initial_call=True,
)
def make(n_clicks: Any) -> str:
    """A real background job registering into the shared cache."""
    return service.register(
        io.BytesIO(b"made in a background job %d" % os.getpid()),
        file_name="job.txt",
        mime_type="text/plain",
    )


service.serve(app)
server = app.server

if os.environ.get("DFC_BLOCKING") == "1":
    from dash_file_cache.services import _quart, _starlette

    async def _inline(func: Any, *args: Any) -> Any:
        return func(*args)

    _starlette.run_in_threadpool = _inline  # type: ignore[assignment]
    _quart.run_sync = lambda func: lambda *args: _inline(func, *args)  # type: ignore[assignment]
