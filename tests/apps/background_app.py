"""A Dash app whose callbacks register files, for the runtime tests.

- ``out``: a background callback (``dash.DiskcacheManager``) registers
  :func:`payload` ``(n_clicks)`` and returns ``"OK <address>"``, or
  ``"RuntimeError: ..."`` when ``register`` refuses.
- ``sync-out``: the same in an ordinary callback (runs in the server).

Run as a script, so that the ``spawn`` start method pickles the callbacks by value::

    python tests/apps/background_app.py PORT KIND START_METHOD WORK_DIR

``KIND`` is ``plain``, ``queue`` or ``file``; ``START_METHOD`` is ``fork`` or ``spawn``.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from typing import Any, Optional

import dash
import diskcache
import multiprocess
from dash import DiskcacheManager, Input, Output, html

import dash_file_cache as dfc


def payload(n: int) -> bytes:
    """The content registered for ``n_clicks == n``: ``n`` x 512 KiB."""
    return hashlib.sha256(str(n).encode()).digest() * (n * 16384)


def _register(service: dfc.ServiceData, n: int) -> str:
    try:
        return "OK " + service.register(io.BytesIO(payload(n)), file_name=f"item-{n}.bin")
    except RuntimeError as exc:
        return f"RuntimeError: {exc}"


def create_app(
    kind: str, work_dir: str, queue: Optional[Any] = None, manager: Optional[Any] = None
) -> dash.Dash:
    """The app, with its service on a cache of ``kind``.

    ``manager`` is the background callback manager (default: a ``DiskcacheManager``).
    """
    cache: dfc.CacheAbstract
    if kind == "plain":
        cache = dfc.CachePlain(16)
    elif kind == "queue":
        cache = dfc.CacheQueue(16, queue)
    elif kind == "file":
        cache = dfc.CacheFile(os.path.join(work_dir, "items"))
    else:
        raise ValueError(kind)
    service = dfc.ServiceData(cache)
    if manager is None:
        manager = DiskcacheManager(diskcache.Cache(os.path.join(work_dir, "jobs")))
    app = dash.Dash(__name__, background_callback_manager=manager)
    app.layout = html.Div(
        [
            html.Button("background", id="go"),
            html.Div(id="out"),
            html.Button("sync", id="go-sync"),
            html.Div(id="sync-out"),
        ]
    )

    @app.callback(
        Output("out", "children"),
        Input("go", "n_clicks"),
        background=True,
        prevent_initial_call=True,
    )
    def in_background(n: int) -> str:
        return _register(service, n)

    @app.callback(
        Output("sync-out", "children"), Input("go-sync", "n_clicks"), prevent_initial_call=True
    )
    def in_server(n: int) -> str:
        return _register(service, n)

    service.serve(app)
    return app


def main(port: int, kind: str, start_method: str, work_dir: str) -> None:
    multiprocess.set_start_method(start_method, force=True)
    if kind == "queue":
        # The helper users are told to use: its Manager stops with this process,
        # SIGTERM and SIGKILL included (a bare Manager() would be orphaned).
        manager = dfc.start_manager()
        create_app(kind, work_dir, manager.Queue()).run(host="127.0.0.1", port=port)
    else:
        create_app(kind, work_dir).run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
