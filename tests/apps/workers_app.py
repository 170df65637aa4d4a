"""A Flask app on a per-process cache, for the multi-worker tests (gunicorn).

``DFC_WORKERS_CACHE`` is ``plain`` or ``queue``. Routes:

- ``/register?one_time=1``: registers a small item in this worker; answers
  ``{"address": ..., "pid": ...}``;
- ``/preloaded``: the addresses registered when the module was imported
  (under ``--preload``, in the master, before the workers were forked).

Every response carries ``X-Worker-Pid``.
"""

from __future__ import annotations

import io
import os

import flask

import dash_file_cache as dfc

KIND = os.environ.get("DFC_WORKERS_CACHE", "plain")
if KIND == "plain":
    cache: dfc.CacheAbstract = dfc.CachePlain(64)
else:
    cache = dfc.CacheQueue(64, dfc.manager_queue)

service = dfc.ServiceData(cache)
app = flask.Flask(__name__)
service.serve(app)

PRELOADED = {
    "one_time": service.register(io.BytesIO(b"preloaded once"), one_time_service=True),
    "plain": service.register(io.BytesIO(b"preloaded")),
    "pid": os.getpid(),
}


@app.after_request
def _tag_worker(response: flask.Response) -> flask.Response:
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response


@app.route("/register")
def register() -> flask.Response:
    one_time = flask.request.args.get("one_time") == "1"
    address = service.register(io.BytesIO(b"worker item"), one_time_service=one_time)
    return flask.jsonify(address=address, pid=os.getpid())


@app.route("/preloaded")
def preloaded() -> flask.Response:
    return flask.jsonify(PRELOADED)
