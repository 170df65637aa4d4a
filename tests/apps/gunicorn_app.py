"""A Flask app on CacheFile for tests that need gunicorn (sendfile, several workers)."""

from __future__ import annotations

import io
import os

import flask

import dash_file_cache as dfc

app = flask.Flask("gunicorn-test")
service = dfc.ServiceData(dfc.CacheFile(os.environ["DFC_CACHE_DIR"]))
service.serve(app)


@app.post("/register-path")
def register_path() -> str:
    """Register the file at ``?path=`` (served from where it is)."""
    return service.register(flask.request.args["path"], mime_type="application/octet-stream")


@app.post("/register-bytes")
def register_bytes() -> str:
    """Register the request body as an in-memory item."""
    return service.register(
        io.BytesIO(flask.request.get_data()), mime_type="application/octet-stream"
    )


@app.after_request
def tag_worker(response: flask.Response) -> flask.Response:
    """Say which worker answered (tests check that several workers served)."""
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response


@app.get("/pids")
def pids() -> dict:
    """The serving worker's pid (tests find the worker to measure)."""
    return {"pid": os.getpid()}
