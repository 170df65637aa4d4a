"""The ASGI benchmark app: the service and Starlette's ``FileResponse`` side by side.

``/cached-data`` is dash-file-cache's route; ``/file-response?path=`` sends the
same file with Starlette's own ``FileResponse`` (which handles ``Range`` too);
``/register?path=`` registers a path and returns its address.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

import dash_file_cache as dfc

app = FastAPI()
service = dfc.ServiceData(dfc.CacheFile(os.environ["DFC_CACHE_DIR"]))
service.serve(app)


@app.post("/register")
def register(path: str) -> Response:
    return PlainTextResponse(service.register(path, mime_type="application/octet-stream"))


@app.get("/file-response")
def file_response(path: str) -> Response:
    return FileResponse(path, media_type="application/octet-stream")


@app.get("/pid")
def pid(request: Request) -> Response:
    return PlainTextResponse(str(os.getpid()))
