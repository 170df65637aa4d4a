"""Dash background callbacks on Celery, with the files they make served from Redis.

A button starts a background callback that a Celery worker runs; the callback
writes a CSV report, registers it in a :class:`~dash_file_cache.CacheRedis`
and returns its address. The browser then downloads the report from whichever
web worker (or host) it reaches, because every process reads the same Redis.

Run everything locally (from the repository root, each in its own terminal)::

    redis-server --port 6379 --save '' --appendonly no
    celery -A examples.celery_redis:celery_app worker --pool=solo --loglevel=info
    gunicorn -w 4 -b 127.0.0.1:8050 examples.celery_redis:server

then open http://127.0.0.1:8050. ``python -m examples.celery_redis`` runs the
Dash development server instead of gunicorn.

Environment:
    DFC_REDIS_URL: Redis for the file cache, the Celery broker and the Celery
        results (default ``redis://127.0.0.1:6379/0``). Keys do not collide:
        the cache writes under ``dfc:``.
    DASH_SECRET_KEY: Flask secret key, the same on every web process; Dash
        signs background-callback handles with it (optional: without it Dash
        shares a generated secret through the Celery result backend).
"""

from __future__ import annotations

import csv
import io
import os
import random
import time

import dash
from celery import Celery
from dash import Dash, Input, Output, html

import dash_file_cache as dfc

REDIS_URL = os.environ.get("DFC_REDIS_URL", "redis://127.0.0.1:6379/0")

celery_app = Celery(__name__, broker=REDIS_URL, backend=REDIS_URL)
celery_app.conf.update(broker_connection_retry_on_startup=True, result_expires=600)
background_callback_manager = dash.CeleryManager(celery_app, expire=600)

# One cache object per process, all on the same Redis and prefix: an address
# registered in the Celery worker is served by any web worker.
service = dfc.ServiceData(dfc.CacheRedis(REDIS_URL, prefix="dfc:", ttl=600))

app = Dash(__name__, background_callback_manager=background_callback_manager)
server = app.server
if os.environ.get("DASH_SECRET_KEY"):
    server.secret_key = os.environ["DASH_SECRET_KEY"]
service.serve(app)

app.layout = html.Div(
    [
        html.H3("Reports made by a Celery worker, served from Redis"),
        html.Button("Make a report", id="make"),
        html.P("No report yet.", id="status"),
        html.A("", id="link", href=""),
    ],
    style={"fontFamily": "sans-serif", "margin": "2em"},
)


def build_report(n_rows: int, seed: int) -> str:
    """A CSV report with a header and ``n_rows`` rows of made-up measurements."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "value"])
    for row in range(n_rows):
        writer.writerow([row, f"{rng.random():.6f}"])
    return out.getvalue()


@app.callback(
    Output("link", "href"),
    Output("link", "children"),
    Output("status", "children"),
    Input("make", "n_clicks"),
    background=True,
    running=[(Output("make", "disabled"), True, False)],
    prevent_initial_call=True,
)
def make_report(n_clicks: int) -> tuple[str, str, str]:
    """Runs in the Celery worker: build the report, register it, return its address."""
    started = time.monotonic()
    text = build_report(n_rows=1000, seed=n_clicks)
    name = f"report-{n_clicks}.csv"
    address = service.register(
        io.StringIO(text), file_name=name, mime_type="text/csv", download=True
    )
    status = (
        f"Report {n_clicks} ready: {len(text)} bytes, made by worker pid {os.getpid()} "
        f"in {time.monotonic() - started:.3f} s."
    )
    return address, f"Download {name}", status


if __name__ == "__main__":
    app.run(debug=False, port=int(os.environ.get("PORT", "8050")))
