"""The upload page of the browser tests (``dfc.CachedUpload``), in-process or under a real server.

:func:`upload_layout` and :func:`upload_callbacks` make the page: one
``CachedUpload`` (id ``up``) whose ``status`` and ``files`` are shown as JSON
(``#status``, ``#files``) and whose ``files`` callback invocations are counted
(``#fired``). :func:`record_tus` keeps what the upload endpoint answered
(:class:`Seen`). ``tests.apps.upload_page_app:create_app()`` is that page on
the service's own endpoint for a real server: the cache from ``DFC_APP_*``
(see :mod:`tests.apps.app`), the component's props from ``DFC_UPLOAD_PROPS``
(JSON), and ``GET /seen`` listing the tus requests this process answered.
"""

from __future__ import annotations

import json
import os
from typing import Any, List, NamedTuple, Optional

import dash
from dash import Input, Output, State, html

import dash_file_cache as dfc
from tests.apps.app import cache_from_env


def upload_layout(endpoint: str, **props: Any) -> html.Div:
    """The page: the component, then its ``status``, ``files`` and the ``files`` call count."""
    return html.Div(
        [
            html.H4("Upload files"),
            dfc.CachedUpload(id="up", endpoint=endpoint, **props),
            html.Pre(id="status"),
            html.Pre(id="files"),
            html.Pre(id="fired", children="0"),
        ],
        style={"maxWidth": "900px", "margin": "24px auto", "fontFamily": "sans-serif"},
    )


def upload_callbacks(app: dash.Dash, calls: Optional[List[Any]] = None) -> None:
    """Show ``status`` and ``files``; every ``files`` value is appended to ``calls``."""

    @app.callback(Output("status", "children"), Input("up", "status"))
    def show_status(status):
        return json.dumps(status)

    @app.callback(
        Output("files", "children"),
        Output("fired", "children"),
        Input("up", "files"),
        State("fired", "children"),
        prevent_initial_call=True,
    )
    def show_files(files, fired):
        if calls is not None:
            calls.append(files)
        return json.dumps(files), str(int(fired) + 1)


class Seen(NamedTuple):
    """One tus request as the server answered it."""

    method: str
    path: str
    offset: Optional[int]  # the request's Upload-Offset
    status: int
    answered: Optional[int]  # the answer's Upload-Offset
    location: Optional[str]  # the Location of a creation


def _number(header: Optional[str]) -> Optional[int]:
    return int(header) if header and header.isdigit() else None


def record_tus(app: dash.Dash, service: dfc.ServiceData, seen: List[Seen]) -> None:
    """Append each answer of ``service``'s upload endpoint (not preflights) to ``seen``."""
    import flask

    uploads = service.upload_address

    @app.server.after_request
    def record(response):
        request = flask.request
        if request.path.startswith(uploads) and request.method != "OPTIONS":
            seen.append(
                Seen(
                    request.method,
                    request.path,
                    _number(request.headers.get("Upload-Offset")),
                    response.status_code,
                    _number(response.headers.get("Upload-Offset")),
                    response.headers.get("Location"),
                )
            )
        return response


def create_app() -> Any:
    """The upload page on the service's own endpoint, as a real server runs it (Flask)."""
    service = dfc.ServiceData(cache_from_env(os.environ), uploads=dfc.UploadPolicy())
    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = upload_layout(
        service.upload_address, **json.loads(os.environ.get("DFC_UPLOAD_PROPS") or "{}")
    )
    upload_callbacks(app)
    seen: List[Seen] = []
    record_tus(app, service, seen)
    app.server.add_url_rule(
        "/seen", "seen", lambda: {"seen": [s._asdict() for s in seen], "pid": os.getpid()}
    )
    return app.server
