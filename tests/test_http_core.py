"""The framework-neutral HTTP core and ``serve`` on every kind of app (in process).

Real servers run in ``test_backends.py``; here the decisions are checked as
tables and the adapters through each framework's own ASGI/WSGI entry.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import subprocess
import sys
from typing import Any, Callable, Dict, List, Tuple

import dash
import flask
import httpx
import pytest
from werkzeug.datastructures import Headers

import dash_file_cache as dfc
from dash_file_cache.caches.abstract import ItemElsewhereError
from dash_file_cache.services import http

DASH_BACKENDS = importlib.util.find_spec("dash.backends") is not None
needs_dash_backends = pytest.mark.skipif(
    not DASH_BACKENDS, reason="Dash < 4.2 has no FastAPI/Quart backends"
)
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ITEM = http.ItemFacts("a" * 32, 100, 1_700_000_000.0, "text/plain", "a.txt", False, False)


def request(method: str = "GET", query: bytes = b"", **headers: str) -> http.Request:
    return http.Request.from_pairs(
        method, [(k.replace("_", "-"), v) for k, v in headers.items()], query
    )


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (HTML_ACCEPT, True),  # Chromium/Firefox navigation
        ("text/html", True),
        (None, False),  # no header: a script
        ("*/*", False),  # fetch() default
        ("application/json, text/plain, */*", False),  # axios
        ("application/json", False),
        ("text/html;q=0.5, application/json", False),
    ],
)
def test_prefers_html(accept: Any, html: bool) -> None:
    req = request() if accept is None else request(Accept=accept)
    assert req.prefers_html() is html


def test_not_found_page_for_navigations_only() -> None:
    page = http.error(404, http.NOT_FOUND, request(Accept=HTML_ACCEPT))
    headers = dict(page.headers)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "private, no-store"
    assert b"expired" in page.body and b"make the file again" in page.body
    data = http.error(404, http.NOT_FOUND, request(Accept="*/*"))
    assert json.loads(data.body) == {"error": http.NOT_FOUND}
    # Other statuses stay JSON even for a navigation.
    bad = http.error(400, "Malformed 'uid'.", request(Accept=HTML_ACCEPT))
    assert json.loads(bad.body) == {"error": "Malformed 'uid'."}


def test_item_elsewhere_message() -> None:
    exc = ItemElsewhereError("Registered by another server process <pid 7>; use CacheFile.")
    data = http.item_error(exc, request(Accept="*/*"))
    assert data.status == 404
    assert json.loads(data.body) == {"error": str(exc)}
    page = http.item_error(exc, request(Accept=HTML_ACCEPT))
    assert page.status == 404
    assert b"another server process &lt;pid 7&gt;; use CacheFile." in page.body
    assert http.item_error(FileNotFoundError("x"), None).status == 404
    assert http.item_error(OSError("down"), None).status == 503


def test_decide_table() -> None:
    etag = ITEM.etag
    modified = "Tue, 14 Nov 2023 22:13:20 GMT"  # == int(ITEM.mtime)
    table: List[Tuple[http.Request, int, int, int]] = [
        (request(), 200, 0, 100),
        (request(Range="bytes=10-19"), 206, 10, 10),
        (request(Range="bytes=-10"), 206, 90, 10),
        (request(Range="bytes=100-"), 416, 0, 0),
        (request(If_None_Match=f'"{etag}"'), 304, 0, 0),
        (request(If_Modified_Since=modified), 304, 0, 0),
        (request(Range="bytes=0-1", If_Range='"nope"'), 200, 0, 100),
        (request(Range="bytes=0-1", If_Range=modified), 206, 0, 2),
    ]
    for req, status, start, length in table:
        decision = http.decide(req, ITEM)
        assert (decision.status, decision.start, decision.length) == (status, start, length)
        assert decision.send_content is (status in (200, 206))


def test_decide_head_and_one_time() -> None:
    one_time = http.ItemFacts(**{**ITEM.__dict__, "one_time": True})
    assert http.decide(request("GET"), one_time).claim
    head = http.decide(request("HEAD"), one_time)
    assert not head.claim and not head.send_content
    assert dict(head.headers)["Content-Length"] == "100"
    assert not http.decide(request(Range="bytes=500-"), one_time).claim


def test_parse_query_is_the_flask_parsing() -> None:
    query = http.parse_query(request(query=b"uid=" + b"a" * 32 + b"&file_name=%E2%82%AC%ZZ"))
    assert isinstance(query, http.Query)
    assert (
        query.file_name
        == flask.Request.from_values(query_string="file_name=%E2%82%AC%ZZ").args["file_name"]
    )
    error = http.parse_query(request("PUT"))
    assert isinstance(error, http.Decision) and error.status == 405
    options = http.parse_query(request("OPTIONS"))
    assert isinstance(options, http.Decision)
    assert (options.status, options.body) == (204, b"")
    assert ("Allow", "GET, HEAD, OPTIONS") in options.headers


def test_base_install_imports_no_asgi_framework() -> None:
    code = (
        "import sys, flask, dash, dash_file_cache as d\n"
        "d.ServiceData(d.CachePlain(2)).serve(dash.Dash('x'))\n"
        "d.ServiceData(d.CachePlain(2)).serve(flask.Flask('y'))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'quart', 'hypercorn', 'uvicorn', 'granian', 'anyio')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_serve_rejects_other_objects() -> None:
    service = dfc.ServiceData(dfc.CachePlain(2))
    for obj in (object(), "app", None):
        with pytest.raises(TypeError, match=r"flask\.Flask, fastapi\.FastAPI.*quart\.Quart"):
            service.serve(obj)


# -- serve on each kind of app, through its own entry ---------------------------
def _apps() -> List[Tuple[str, Callable[[], Any], str]]:
    """(label, app factory, URL prefix of addresses)."""
    from fastapi import FastAPI
    from quart import Quart
    from starlette.applications import Starlette

    def on(backend: str = "", server: Any = None) -> Callable[[], Any]:
        kwargs = {"backend": backend} if backend else {"server": server()}
        return lambda: dash.Dash(backend or "s", url_base_pathname="/p/", **kwargs)

    return [
        ("fastapi", FastAPI, ""),
        ("starlette", Starlette, ""),
        ("quart", lambda: Quart("q"), ""),
        ("dash-fastapi", on("fastapi"), "/p"),
        ("dash-quart", on("quart"), "/p"),
        ("dash-server-fastapi", on(server=FastAPI), "/p"),
        ("dash-server-quart", on(server=lambda: Quart("d")), "/p"),
        ("dash-server-flask", on(server=lambda: flask.Flask("e")), "/p"),
    ]


def get(app: Any, url: str, **headers: str) -> httpx.Response:
    """GET through the app's own WSGI/ASGI entry (no server)."""
    server = getattr(app, "server", app)
    if isinstance(server, flask.Flask):
        with httpx.Client(transport=httpx.WSGITransport(app=server), base_url="http://t") as c:
            return c.get(url, headers=headers)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(url, headers=headers)
            await response.aread()
            return response

    return asyncio.run(run())


@pytest.mark.parametrize("index", range(8))
def test_serve_each_kind_of_app(index: int) -> None:
    if index >= 3 and not DASH_BACKENDS:
        pytest.skip("Dash < 4.2 has no FastAPI/Quart backends")
    label, factory, prefix = _apps()[index]
    app = factory()
    if isinstance(app, dash.Dash):
        app.layout = dash.html.Div("layout")
    service = dfc.ServiceData(dfc.CachePlain(8))
    service.serve(app)
    service.serve(app)  # twice: nothing more
    address = service.register(io.BytesIO(b"0123456789"), file_name="x.txt", mime_type="text/plain")
    assert address.startswith(prefix + "/cached-data?uid=")
    once = service.register(io.BytesIO(b"once"), one_time_service=True)

    whole = get(app, address)
    assert (whole.status_code, whole.content) == (200, b"0123456789"), label
    part = get(app, address, Range="bytes=2-4")
    assert (part.status_code, part.content) == (206, b"234"), label
    assert get(app, once).status_code == 200
    gone = get(app, once, Accept=HTML_ACCEPT)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "text/html; charset=utf-8"
    other = dfc.ServiceData(dfc.CachePlain(2))
    with pytest.raises(ValueError, match="already used"):
        other.serve(app)


def test_route_first_even_after_a_catch_all() -> None:
    """A Starlette app whose catch-all came first still reaches the service."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    app = Starlette(routes=[Route("/{path:path}", lambda _: PlainTextResponse("index"))])
    service = dfc.ServiceData(dfc.CachePlain(2))
    service.serve(app)
    address = service.register(io.BytesIO(b"data"))

    assert get(app, address).content == b"data"


def test_stream_stays_a_flask_response() -> None:
    service = dfc.ServiceData(dfc.CachePlain(2))
    uid = service.register(io.BytesIO(b"abc")).split("uid=")[1]
    response = service.stream(uid)
    assert isinstance(response, flask.Response)
    assert b"".join(response.response) == b"abc"  # type: ignore[arg-type]
    assert Headers(response.headers)["Content-Length"] == "3"


@needs_dash_backends
@pytest.mark.parametrize("backend", ["flask", "fastapi", "quart"])
def test_plain_cache_in_an_ordinary_callback(backend: str) -> None:
    """A normal (not background) callback may register into CachePlain on every backend.

    Dash's FastAPI and Quart backends have no Flask request context: that must
    not read as "background job".
    """
    service = dfc.ServiceData(dfc.CachePlain(8))
    app = dash.Dash(f"cb-{backend}", backend=backend)
    app.layout = dash.html.Div([dash.html.Button(id="b"), dash.html.Div(id="o")])

    @app.callback(dash.Output("o", "children"), dash.Input("b", "n_clicks"))
    def make(_: Any) -> str:
        return service.register(io.BytesIO(b"hi"))

    service.serve(app)
    body = {
        "output": "o.children",
        "outputs": {"id": "o", "property": "children"},
        "inputs": [{"id": "b", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["b.n_clicks"],
        "state": [],
    }
    server = app.server
    if isinstance(server, flask.Flask):
        response: Any = server.test_client().post("/_dash-update-component", json=body)
        status, data = response.status_code, response.get_json()
    else:

        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                await client.get("/")
                return await client.post("/_dash-update-component", json=body)

        answered = asyncio.run(run())
        status, data = answered.status_code, answered.json()
    assert status == 200
    address = data["response"]["o"]["children"]
    assert get(app, address).content == b"hi"


def _asgi_messages(service: dfc.ServiceData, query: str, extensions: Any, **headers: str) -> List:
    """Call the Starlette endpoint directly; return what it sent."""
    from dash_file_cache.services._starlette import ServiceEndpoint

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "path": "/cached-data",
        "raw_path": b"/cached-data",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "extensions": extensions,
    }
    sent: List = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(ServiceEndpoint(service)(scope, receive, send))
    return sent


def test_pathsend_for_whole_files_only(tmp_path: Any) -> None:
    """Zero-copy ``http.response.pathsend`` for a whole on-disk file when offered;
    chunks otherwise (a range, a one-time item, in-memory content, no extension)."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 5000)
    service = dfc.ServiceData(dfc.CachePlain(8))
    offered: Dict[str, Dict[str, Any]] = {"http.response.pathsend": {}}
    whole = service.register(str(path)).split("?")[1]
    sent = _asgi_messages(service, whole, offered)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[1]["path"] == str(path)
    cases = [
        (whole, {}, {}),
        (whole, offered, {"Range": "bytes=10-"}),
        (service.register(str(path), one_time_service=True).split("?")[1], offered, {}),
        (service.register(io.BytesIO(b"x" * 5000)).split("?")[1], offered, {}),
    ]
    for query, extensions, headers in cases:
        sent = _asgi_messages(service, query, extensions, **headers)
        types = {m["type"] for m in sent}
        assert types == {"http.response.start", "http.response.body"}, (query, headers)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        assert body == (b"x" * 4990 if headers else b"x" * 5000)
