"""dash-uploader 0.6.1's row of ``bench.uploads_browser``: its own Dash app, in its own venv.

dash-uploader is not a dependency (archived in 2025); the bench runs this app from a throwaway
venv holding it next to our Dash version (``bench.uploads_browser`` says how to make it)::

    BENCH_CACHE_DIR=/tmp/x /tmp/du/bin/python -m gunicorn 'bench.uploads_du:create_server()'

``#du`` (``du.Upload``, 8 MiB chunks) stores into ``BENCH_CACHE_DIR``; the ``du.callback``
writes ``bytes N <path>`` into ``#du-out`` once the file is complete. ``GET /bench/pid``
answers the worker's pid. Nothing of dash-file-cache is imported here.
"""

from __future__ import annotations

import os
from typing import Any, List

import dash
import dash_uploader as du
from dash import Output, html

__all__ = ["create_server"]


def create_server() -> Any:
    """The Flask server of the dash-uploader app."""
    app = dash.Dash(__name__)
    du.configure_upload(app, os.environ["BENCH_CACHE_DIR"])
    app.layout = html.Div(
        [du.Upload(id="du", max_file_size=4096, chunk_size=8), html.Pre(id="du-out")]
    )

    @du.callback(output=Output("du-out", "children"), id="du")
    def du_received(paths: List[str]) -> Any:
        # 0.6.1 calls this once the upload is complete, with the files' paths.
        if not paths:
            return dash.no_update
        return " ".join(f"bytes {os.path.getsize(p)} {p}" for p in paths)

    @app.server.get("/bench/pid")
    def pid() -> Any:
        return {"pid": os.getpid()}

    return app.server
