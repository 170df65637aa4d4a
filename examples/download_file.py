"""Download a file made by a callback, by address, with ``dfc.CachedDownload``.

The callback writes a CSV into an ``io.StringIO``, registers it (``download=True`` and a
``file_name``) and sets the address as the ``url`` of a ``CachedDownload``, which saves it.
Unlike ``dcc.Download(dcc.send_file(...))`` the content is not base64-encoded into the
callback's answer: the browser fetches the address, streamed by the server.

``CachedDownload`` has three modes:

- ``"native"`` (default): the browser's download manager saves the file (no copy in the page);
- ``"fetch"``: the page downloads it, reporting progress in ``status`` (``loaded``/``total``),
  holding the file in page memory;
- ``"stream"``: the page downloads it with progress too, and streams it to disk through the
  package's service worker (https or localhost; else it falls back to ``"native"``).

While the callback builds the file, the button is disabled and a line says so (the callback's
``running`` outputs); then the line follows the download: progress in ``"fetch"`` mode, and
the outcome in both.

Run: ``.venv/bin/python examples/download_file.py``, then open http://127.0.0.1:8050.
"""

from __future__ import annotations

import io
import json
import random
from typing import Optional

import dash
from dash import Input, Output, State, dcc, html

import dash_file_cache as dfc


def make_csv(rows: int, seed: int) -> io.StringIO:
    """A CSV table of ``rows`` random measurements."""
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("sample,temperature,pressure\n")
    for i in range(rows):
        out.write(f"{i},{rng.gauss(20, 3):.2f},{rng.gauss(1013, 8):.1f}\n")
    return out


def describe(status: dict) -> str:
    """One line for the download's ``status``: progress while it runs, then the outcome."""
    state, name = status.get("state"), status.get("file_name") or "the file"
    if state == "done":
        return f"Saved {name}."
    if state == "error":
        reason = status.get("message") or f"HTTP {status.get('http_code')}"
        return f"Failed: {str(reason).rstrip('.')}."
    loaded, total = status.get("loaded"), status.get("total")
    if loaded is not None and total:
        return f"Downloading {name}: {100 * loaded // total}% of {total:,} bytes."
    return f"Downloading {name}..."


def create_app() -> dash.Dash:
    """The app: how many rows, which mode, a button, and the download's status."""
    app = dash.Dash(__name__, title="Download a file")
    service = dfc.ServiceData(dfc.CachePlain(8))
    service.serve(app)

    app.layout = html.Div(
        [
            html.H1("Download a file"),
            html.Label(["Rows ", dcc.Input(id="rows", type="number", min=1, value=100)]),
            dcc.RadioItems(
                id="mode", options=["native", "fetch", "stream"], value="native", inline=True
            ),
            html.Button("Download", id="download"),
            html.P(id="progress", children="", style={"minHeight": "1.5em"}),
            dfc.CachedDownload(id="saver"),
            html.Pre(id="status"),
        ],
        style={"fontFamily": "sans-serif", "margin": "2em"},
    )

    @app.callback(
        Output("saver", "url"),
        Output("saver", "mode"),
        Input("download", "n_clicks"),
        State("rows", "value"),
        State("mode", "value"),
        running=[
            (Output("download", "disabled"), True, False),
            (Output("progress", "children"), "Building the file...", ""),
        ],
        prevent_initial_call=True,
    )
    def download(n_clicks: int, rows: Optional[int], mode: str) -> tuple[str, str]:
        rows = max(1, min(int(rows or 1), 1_000_000))
        address = service.register(
            make_csv(rows, seed=n_clicks),
            file_name=f"measurements-{rows}.csv",
            mime_type="text/csv",
            download=True,
        )
        return address, mode

    @app.callback(Output("status", "children"), Input("saver", "status"))
    def show_status(status: Optional[dict]) -> str:
        return json.dumps(status, indent=1) if status else ""

    @app.callback(
        Output("progress", "children", allow_duplicate=True),
        Input("saver", "status"),
        prevent_initial_call=True,
    )
    def show_progress(status: Optional[dict]) -> str:
        return describe(status or {})

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=8050, debug=False)
