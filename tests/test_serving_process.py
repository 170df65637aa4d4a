"""The serving-process rule on every backend, with a real server in a ``multiprocess`` child.

Dash's test runners (``dash.testing``'s ``MultiProcessRunner``) build the app
in the test process and run its server in a ``multiprocess`` child forked from
it. A ``CachePlain`` keeps items in the memory of the serving process, and the
child is neither the process that prepared the cache nor a plain fork: only
"this process handles requests" tells it that it serves. Each adapter marks
that (:func:`dash_file_cache._runtime.mark_serving`) for every request, so the
item a Dash callback registers in the child is served by it, on Flask, FastAPI
and Quart alike.
"""

from __future__ import annotations

import json
from typing import Any, Dict

import dash
import multiprocess
import pytest
import requests
from dash import Input, Output, html

import dash_file_cache as dfc
from tests.support import free_port, wait_http

BACKENDS = ["flask", "fastapi", "quart"]
CONTENT = b"registered in a callback of the serving child"


def _build(backend: str) -> Any:
    """A Dash app on ``backend`` whose callback registers into a ``CachePlain``."""
    pytest.importorskip(backend)
    options: Dict[str, Any] = {}
    if backend != "flask":
        pytest.importorskip("dash.backends", reason="Dash < 4.2 has no FastAPI/Quart backends")
        options["backend"] = backend
    service = dfc.ServiceData(dfc.CachePlain(4))
    app = dash.Dash(f"serving-{backend}", **options)
    app.layout = html.Div([html.Button("make", id="make"), html.Div(id="address")])

    @app.callback(Output("address", "children"), Input("make", "n_clicks"))
    def make(_: Any) -> str:
        return service.register(CONTENT, file_name="item.bin", mime_type="text/plain")

    service.serve(app)
    return app


def _run(app: Any, backend: str, port: int) -> None:
    """The child: run a real server, as Dash's multi-process runner does."""
    if backend == "fastapi":
        # Dash's FastAPI run() in a main thread re-imports the app in a uvicorn
        # subprocess (a fresh process); its threaded path runs this instead.
        import uvicorn

        config = uvicorn.Config(app.server, host="127.0.0.1", port=port, log_level="warning")
        uvicorn.Server(config).run()
    else:
        app.run(host="127.0.0.1", port=port, debug=False)


def _callback(url: str) -> requests.Response:
    body: Dict[str, Any] = {
        "output": "address.children",
        "outputs": {"id": "address", "property": "children"},
        "inputs": [{"id": "make", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["make.n_clicks"],
        "state": [],
    }
    return requests.post(url + "/_dash-update-component", json=body, timeout=30)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_in_a_multiprocess_child_serves_its_items(backend: str) -> None:
    app = _build(backend)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = multiprocess.get_context("fork").Process(target=_run, args=(app, backend, port))
    proc.start()
    try:
        wait_http(url + "/_dash-layout", timeout=60)
        answer = _callback(url)
        assert answer.status_code == 200, answer.text
        address = json.loads(answer.text)["response"]["address"]["children"]
        assert address.startswith("/cached-data?uid=")
        served = requests.get(url + address, timeout=30)
        assert served.status_code == 200, served.text
        assert served.content == CONTENT
    finally:
        proc.terminate()
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join(10)
