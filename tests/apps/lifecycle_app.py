"""A Dash app owning a temporary ``CacheFile()`` and a ``CacheQueue`` Manager.

``tests/test_lifecycle_signals.py`` runs it as a development server
(``python lifecycle_app.py PORT``) and under gunicorn (``tests.apps.lifecycle_app:server``),
then signals it and checks what is left behind. ``/info`` tells the serving process, its
cache directory and its Manager's process.
"""

from __future__ import annotations

import os
import sys

import dash
from dash import html

import dash_file_cache as dfc

app = dash.Dash(__name__)
server = app.server
files = dfc.ServiceData(dfc.CacheFile())
queued = dfc.ServiceData(dfc.CacheQueue(4, dfc.manager_queue), service_name="/cached-queue")
files.serve(app)
queued.serve(app)  # starts the Manager here, in the serving process (or the preloading master)
app.layout = html.Div("lifecycle")


@server.get("/info")
def info() -> dict:
    cache = files.cache
    assert isinstance(cache, dfc.CacheFile)
    return {"pid": os.getpid(), "cache_dir": cache.cache_dir}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), debug=False)
