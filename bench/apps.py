"""The benchmark server: one Dash app serving every path being compared.

Run under gunicorn by :mod:`bench.run` (``bench.apps:server``), bound to
127.0.0.1 only. Its ``/bench/*`` routes take file paths from the request and
must never face a network: they exist to drive the measurements.

- ``/cached-data``: :class:`~dash_file_cache.ServiceData` on a
  :class:`~dash_file_cache.CacheFile` (paths and on-disk copies of
  in-memory items).
- ``/cached-plain``: ``ServiceData`` on a :class:`~dash_file_cache.CachePlain`
  (in-memory items).
- ``/bench/send-file?path=``: ``flask.send_file`` of the same files.
- ``POST /bench/register?path=&cache=file|plain&as=path|bytes``: register a
  file (by path, or read into a ``BytesIO`` first); answers the address.
- ``/bench/pid``: the worker's pid, for memory sampling.
- Dash layout: a ``dcc.Download`` fed by ``dcc.send_file`` (the callback JSON
  way), an ``<a>`` to an address and a ``CachedDownload`` (browser runs).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from typing import Any, Dict, List, Literal, Optional, Tuple
from urllib.parse import parse_qs

import dash
import flask
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

import dash_file_cache as dfc

try:  # built by another part of the project; the anchor is enough without it
    from dash_file_cache import CachedDownload
except ImportError:  # pragma: no cover - depends on the components build
    CachedDownload = None  # type: ignore[assignment,misc]

__all__ = ["app", "file_service", "plain_service", "server"]

CACHE_DIR = os.environ.get("BENCH_CACHE_DIR") or tempfile.mkdtemp(prefix="dfc-bench-cache-")

app = dash.Dash(__name__, compress=False)
server: flask.Flask = app.server
file_service = dfc.ServiceData(dfc.CacheFile(os.path.join(CACHE_DIR, "file-cache")))
plain_service = dfc.ServiceData(dfc.CachePlain(16), service_name="/cached-plain")
file_service.serve(app)
plain_service.serve(app)


@server.post("/bench/register")
def bench_register() -> Dict[str, Any]:
    """Register ``?path=`` in the ``cache`` service, by path or as a ``BytesIO``."""
    args = flask.request.args
    path = args["path"]
    service = plain_service if args.get("cache", "file") == "plain" else file_service
    source: Any = path
    if args.get("as", "path") == "bytes":
        with open(path, "rb") as fobj:
            source = io.BytesIO(fobj.read())
    t0 = time.perf_counter()
    address = service.register(source, mime_type="application/octet-stream")
    seconds = time.perf_counter() - t0
    del source
    return {"address": address, "seconds": seconds}


@server.get("/bench/send-file")
def bench_send_file() -> flask.Response:
    """The baseline: ``flask.send_file`` (conditional, so it honours ``Range``)."""
    return flask.send_file(
        flask.request.args["path"], mimetype="application/octet-stream", as_attachment=True
    )


@server.get("/bench/pid")
def bench_pid() -> Dict[str, Any]:
    """The serving worker's pid and whether ``CachedDownload`` is available."""
    return {"pid": os.getpid(), "cached_download": CachedDownload is not None}


_children: list = [
    dcc.Location(id="loc"),
    dcc.Store(id="dcc-path"),
    html.Button("dcc.send_file", id="dcc-go"),
    dcc.Download(id="dcc-dl"),
    dcc.Store(id="addr"),
    html.A("download by address", id="link", href="#"),
]
#: CachedDownload's modes, each with its button and status: (id prefix, mode).
CDL_MODES: List[Tuple[str, Literal["native", "fetch", "stream"]]] = [
    ("cdl", "native"),
    ("cdl-fetch", "fetch"),
    ("cdl-stream", "stream"),
]
if CachedDownload is not None:
    for _prefix, _mode in CDL_MODES:
        _children += [
            html.Button(f"CachedDownload ({_mode})", id=f"{_prefix}-go"),
            CachedDownload(id=_prefix, mode=_mode, progress_interval=500),
            html.Pre(id=f"{_prefix}-status"),
        ]
app.layout = html.Div(_children)


@app.callback(
    Output("dcc-dl", "data"),
    Input("dcc-go", "n_clicks"),
    State("dcc-path", "data"),
    prevent_initial_call=True,
)
def dcc_download(_clicks: Optional[int], path: Optional[str]) -> Dict[str, Any]:
    """What a ``dcc.Download`` user writes: the whole file, base64, in the JSON."""
    if not path:
        raise PreventUpdate
    return dcc.send_file(path)


@app.callback(Output("link", "href"), Output("addr", "data"), Input("loc", "search"))
def set_address(search: Optional[str]) -> Tuple[str, str]:
    """Take the address to download from the page's ``?addr=``."""
    addr = parse_qs((search or "").lstrip("?")).get("addr", [""])[0]
    return (addr or "#"), addr


def _register_cached_download(prefix: str) -> None:
    """The callbacks of one ``CachedDownload``: start it, expose its status."""

    @app.callback(
        Output(prefix, "url"),
        Input(f"{prefix}-go", "n_clicks"),
        State("addr", "data"),
        prevent_initial_call=True,
    )
    def start_cached_download(_clicks: Optional[int], addr: Optional[str]) -> str:
        """Hand the address to the ``CachedDownload``."""
        if not addr:
            raise PreventUpdate
        return addr

    @app.callback(Output(f"{prefix}-status", "children"), Input(prefix, "status"))
    def show_status(status: Optional[Dict[str, Any]]) -> str:
        """Expose the component's status to the browser driver."""
        return json.dumps(status)


if CachedDownload is not None:
    for _prefix, _mode in CDL_MODES:
        _register_cached_download(_prefix)
