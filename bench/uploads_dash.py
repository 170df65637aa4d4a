"""The Dash app of ``bench.uploads_browser``: ``dcc.Upload`` and ``CachedUpload`` side by side.

``gunicorn 'bench.uploads_dash:create_server()'`` (``BENCH_CACHE_DIR``: the ``CacheFile``
directory). Two ways in, each ending in a real Dash callback:

- ``#dcc-up`` (``dcc.Upload``): the callback gets ``contents`` (the file as a base64 data URL in
  the callback's JSON), decodes it and writes ``bytes N`` into ``#dcc-out``;
- ``#cu`` (``dfc.CachedUpload`` to this service's tus endpoint): the callback on ``files`` gets
  the finished upload's address and writes ``bytes N <address>`` into ``#cu-out``.

``GET /bench/pid`` answers the worker's pid.
"""

from __future__ import annotations

import base64
import os
from typing import Any, List, Optional

import dash
from dash import Input, Output, dcc, html

import dash_file_cache as dfc

__all__ = ["create_server"]


def create_server() -> Any:
    """The Flask server of the bench's Dash app."""
    cache = dfc.CacheFile(os.environ["BENCH_CACHE_DIR"])
    service = dfc.ServiceData(cache, uploads=dfc.UploadPolicy())
    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = html.Div(
        [
            dcc.Upload(id="dcc-up", children=html.Div("dcc.Upload: drop or choose a file")),
            html.Pre(id="dcc-out"),
            dfc.CachedUpload(id="cu", endpoint=service.upload_address),
            html.Pre(id="cu-out"),
        ]
    )

    @app.callback(Output("dcc-out", "children"), Input("dcc-up", "contents"))
    def dcc_received(contents: Optional[str]) -> str:
        if not contents:
            return ""
        data = base64.b64decode(contents.split(",", 1)[1])
        return f"bytes {len(data)}"

    @app.callback(Output("cu-out", "children"), Input("cu", "files"))
    def cu_received(files: Optional[List[dict]]) -> str:
        if not files:
            return ""
        return " ".join(f"bytes {f['size']} {f['address']}" for f in files)

    @app.server.get("/bench/pid")
    def pid() -> Any:
        return {"pid": os.getpid()}

    return app.server
