"""dash-file-cache 0.2.0 apps in headless Chromium: the old components, and CORS
from a second origin (another port on 127.0.0.1)."""

from __future__ import annotations

import functools
import io
import json
import os
import struct
import zlib
from typing import Any, Dict, List, Tuple

import dash
import flask
import pytest
from dash import Input, Output, html

import dash_file_cache as dfc
from tests.apps.app import build_app
from tests.support.servers import serve_in_thread

from .conftest import finished_downloads, sha256, wait_for

pytestmark = pytest.mark.browser


def _png(width: int = 3, height: int = 2) -> bytes:
    """A small opaque red RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _wait_files(browser, count: int) -> list:
    saved = wait_for(
        lambda: len(files := finished_downloads(browser.download_path)) == count and files,
        20,
        f"{count} finished download(s)",
    )
    assert isinstance(saved, list)  # wait_for returns only a truthy value: the list
    return saved


# -- 0.2.0's Downloader and PlainDownloader ---------------------------------------------


def test_020_app_downloads_with_old_components(browser) -> None:
    """An app as 0.2.0's README wrote it: ServiceDownloader served, a Downloader fed
    ``{url, file_name_fallback}`` and a PlainDownloader fed a string."""
    data = os.urandom(2 * (1 << 20) + 77)
    plain_data = os.urandom(100_000)
    service = dfc.ServiceData(dfc.CachePlain(16))
    app = dash.Dash(__name__)
    service.serve(app)
    with pytest.warns(DeprecationWarning):
        dfc.ServiceDownloader().serve(app)
    with pytest.warns(DeprecationWarning):
        layout = html.Div(
            [
                html.Button("go", id="go"),
                html.Button("plain", id="plain"),
                dfc.Downloader(id="dl", headers={"X-Token": "t"}, mitm="/dfc-downloader/mitm"),
                dfc.PlainDownloader(id="pdl"),
                html.Pre(id="status"),
                html.Pre(id="urls"),
            ]
        )
    app.layout = layout

    @app.callback(Output("dl", "url"), Input("go", "n_clicks"), prevent_initial_call=True)
    def go(_: Any) -> Dict[str, str]:
        address = service.register(io.BytesIO(data), file_name="big.bin", download=True)
        return {"url": address, "file_name_fallback": "fallback.bin"}

    @app.callback(Output("pdl", "url"), Input("plain", "n_clicks"), prevent_initial_call=True)
    def plain(_: Any) -> str:
        return service.register(io.BytesIO(plain_data), file_name="plain.bin", download=True)

    @app.callback(Output("status", "children"), Input("dl", "status"))
    def show(status: Any) -> str:
        return json.dumps(status)

    @app.callback(Output("urls", "children"), Input("dl", "url"), Input("pdl", "url"))
    def urls(a: Any, b: Any) -> str:
        return json.dumps([a, b])

    browser.start_server(app)
    browser.find_element("#go").click()
    status = wait_for(
        lambda: json.loads(browser.find_element("#status").text or "null"), 20, "Downloader status"
    )
    assert status == {"code": "success", "http_code": 200}
    (saved,) = _wait_files(browser, 1)
    assert saved.name == "big.bin"
    assert sha256(saved) == sha256(data)
    browser.find_element("#plain").click()
    files = _wait_files(browser, 2)
    plain_saved = next(p for p in files if p.name == "plain.bin")
    assert sha256(plain_saved) == sha256(plain_data)
    assert wait_for(lambda: browser.find_element("#urls").text == '["", ""]', 10, "urls reset")


def test_downloader_reports_020_error_codes(browser) -> None:
    service = dfc.ServiceData(dfc.CachePlain(16))
    app = dash.Dash(__name__)
    service.serve(app)
    with pytest.warns(DeprecationWarning):
        app.layout = html.Div(
            [html.Button("go", id="go"), dfc.Downloader(id="dl"), html.Pre(id="status")]
        )
    gone = service.register(b"x", file_name="x.bin")
    service.cache.remove(gone.split("uid=")[1])
    answers: List[Any] = [gone, {"file_name_fallback": "no url"}]

    @app.callback(Output("dl", "url"), Input("go", "n_clicks"), prevent_initial_call=True)
    def go(n: int) -> Any:
        return answers[n - 1]

    @app.callback(Output("status", "children"), Input("dl", "status"))
    def show(status: Any) -> str:
        return json.dumps(status)

    browser.start_server(app)

    def status() -> Any:
        return json.loads(browser.find_element("#status").text or "null")

    browser.find_element("#go").click()
    assert wait_for(status, 15, "404 status") == {"code": "error-connect", "http_code": 404}
    browser.find_element("#go").click()
    assert wait_for(
        lambda: (s := status()) and s["code"] == "error-config" and s, 15, "config status"
    ) == {"code": "error-config", "http_code": 0}
    assert finished_downloads(browser.download_path) == []


def test_file_name_fallback_names_only_unnamed_answers(browser) -> None:
    """``file_name_fallback`` (0.2.0's ``Downloader(url={url, file_name_fallback})``, and
    ``CachedDownload``'s prop in native and fetch modes) names the saved file when the
    answer has no ``Content-Disposition`` name; a named answer keeps the server's name.
    The addresses are plain routes of the app, not cache items."""
    ids = ["dl", "native", "fetch"]
    data = {(i, named): os.urandom(50_000 + 7 * n) for n, (i, named) in
            enumerate((i, named) for i in ids for named in (False, True))}  # fmt: skip
    app = dash.Dash(__name__)

    @app.server.route("/raw/<kind>/<name>")
    def raw(kind: str, name: str) -> flask.Response:
        named = kind == "named"
        response = flask.Response(data[(name, named)], mimetype="application/octet-stream")
        if named:
            response.headers["Content-Disposition"] = f'attachment; filename="server-{name}.csv"'
        return response

    with pytest.warns(DeprecationWarning):
        downloader = dfc.Downloader(id="dl")
    app.layout = html.Div(
        [
            *(html.Button(i, id=f"go-{i}") for i in ids),
            downloader,
            dfc.CachedDownload(id="native"),
            dfc.CachedDownload(id="fetch", mode="fetch"),
            html.Pre(id="status"),
        ]
    )

    def address(name: str, n: int) -> str:
        return f"/raw/{'named' if n == 2 else 'plain'}/{name}"

    @app.callback(Output("dl", "url"), Input("go-dl", "n_clicks"), prevent_initial_call=True)
    def go_dl(n: int) -> Dict[str, str]:
        return {"url": address("dl", n), "file_name_fallback": "fallback-dl.csv"}

    for name in ["native", "fetch"]:

        @app.callback(
            Output(name, "url"),
            Output(name, "file_name_fallback"),
            Input(f"go-{name}", "n_clicks"),
            prevent_initial_call=True,
        )
        def go(n: int, name: str = name) -> Tuple[str, str]:
            return address(name, n), f"fallback-{name}.csv"

    @app.callback(Output("status", "children"), Input("dl", "status"))
    def show(status: Any) -> str:
        return json.dumps(status)

    browser.start_server(app)
    count = 0
    for named in (False, True):
        for name in ids:
            browser.find_element(f"#go-{name}").click()
            count += 1
            files = _wait_files(browser, count)
            expected = f"server-{name}.csv" if named else f"fallback-{name}.csv"
            saved = next((p for p in files if p.name == expected), None)
            assert saved is not None, (expected, [p.name for p in files])
            assert sha256(saved) == sha256(data[(name, named)])
    assert json.loads(browser.find_element("#status").text) == {
        "code": "success",
        "http_code": 200,
    }


# -- CORS from a second origin --------------------------------------------------------


def _page(browser) -> str:
    """Start a bare page app; return its origin (the page's ``location.origin``)."""
    app = dash.Dash(__name__)
    app.layout = html.Div([html.Button("go", id="go"), html.Pre(id="out")])
    browser.start_server(app)
    return str(browser.driver.execute_script("return location.origin"))


_DRAW = """
const [src, done] = [arguments[0], arguments[arguments.length - 1]];
const img = new Image();
img.crossOrigin = 'anonymous';
img.onload = () => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    try {
        canvas.toDataURL('image/png');
        done({ok: true, pixel: Array.from(ctx.getImageData(0, 0, 1, 1).data)});
    } catch (e) { done({ok: false, error: String(e)}); }
};
img.onerror = () => done({ok: false, error: 'load failed'});
img.src = src;
"""

_FETCH = """
const [src, done] = [arguments[0], arguments[arguments.length - 1]];
fetch(src, {headers: {'X-Token': 'secret'}})
    .then(r => r.arrayBuffer().then(b => done({status: r.status, size: b.byteLength,
        disposition: r.headers.get('Content-Disposition')})))
    .catch(e => done({error: String(e)}));
"""


@pytest.mark.parametrize("backend", ["flask", "fastapi", "quart"])
def test_cors_img_canvas_and_fetch(browser, backend: str) -> None:
    """From the page's origin: an ``<img crossorigin>`` of the other origin is drawn
    into a canvas that can still be read, and ``fetch`` with a custom header reads
    the file, when the origin is allowed; both are refused otherwise."""
    origin = _page(browser)
    png = _png()
    allowed = dfc.ServiceData(dfc.CachePlain(8), allowed_cross_origin=origin)
    refused = dfc.ServiceData(dfc.CachePlain(8), allowed_cross_origin="http://127.0.0.1:1")
    browser.driver.set_script_timeout(20)
    for service, ok in [(allowed, True), (refused, False)]:
        image = service.register(io.BytesIO(png), mime_type="image/png")
        blob = service.register(io.BytesIO(b"z" * 5000), file_name="z.bin", download=True)
        with serve_in_thread(build_app(service, backend), backend) as url:
            url = url.replace("localhost", "127.0.0.1")
            assert url.split("://")[1].split(":")[1] != origin.rsplit(":", 1)[1]
            drawn = browser.driver.execute_async_script(_DRAW, url + image)
            fetched = browser.driver.execute_async_script(_FETCH, url + blob)
        if ok:
            assert drawn == {"ok": True, "pixel": [255, 0, 0, 255]}
            assert fetched == {
                "status": 200,
                "size": 5000,
                "disposition": "attachment; filename=z.bin",
            }
        else:
            assert drawn["ok"] is False
            assert "error" in fetched


def _final(status: Any, state: str, url: str) -> Any:
    """``status`` if it is the outcome ``state`` of a download from ``url``."""
    if status and status["state"] == state and status["url"].startswith(url):
        return status
    return None


def _final_now(status: Any, state: str, url: str) -> Any:
    return _final(status(), state, url)


def _recording(app: Any, backend: str, seen: List[str]) -> Any:
    """``app`` (WSGI for flask, else ASGI) noting each request's ``X-Token`` in ``seen``."""
    if backend == "flask":

        def wsgi(environ: Dict[str, Any], start_response: Any) -> Any:
            seen.append(environ.get("HTTP_X_TOKEN", ""))
            return app(environ, start_response)

        return wsgi

    async def asgi(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(dict(scope["headers"]).get(b"x-token", b"").decode())
        await app(scope, receive, send)

    return asgi


@pytest.mark.parametrize("backend", ["flask", "fastapi", "quart"])
def test_cached_download_fetch_mode_cross_origin(browser, backend: str) -> None:
    """``CachedDownload(mode="fetch", headers=...)`` on the page's origin saves a file
    from the other origin (preflight answered), on every backend; a refused origin
    gets an error."""
    seen: List[str] = []
    data = os.urandom(300_000)
    state: Dict[str, Any] = {}
    app = dash.Dash(__name__)
    app.layout = html.Div(
        [
            html.Button("go", id="go"),
            dfc.CachedDownload(id="dl", mode="fetch", headers={"X-Token": "secret"}),
            html.Pre(id="status"),
        ]
    )

    @app.callback(Output("dl", "url"), Input("go", "n_clicks"), prevent_initial_call=True)
    def go(_: Any) -> str:
        return state["url"] + state["service"].register(io.BytesIO(data), file_name="x.bin")

    @app.callback(Output("status", "children"), Input("dl", "status"))
    def show(status: Any) -> str:
        return json.dumps(status)

    browser.start_server(app)
    origin = str(browser.driver.execute_script("return location.origin"))

    def status() -> Any:
        return json.loads(browser.find_element("#status").text or "null")

    for allowed, expected in [(origin, "done"), ("http://127.0.0.1:1", "error")]:
        service = dfc.ServiceData(dfc.CachePlain(8), allowed_cross_origin=allowed)
        server = _recording(build_app(service, backend), backend, seen)
        with serve_in_thread(server, backend) as url:
            state.update(url=url.replace("localhost", "127.0.0.1"), service=service)
            browser.find_element("#go").click()
            final = wait_for(
                functools.partial(_final_now, status, expected, state["url"]), 20, expected
            )
        if expected == "done":
            assert final["http_code"] == 200
            (saved,) = _wait_files(browser, 1)
            assert sha256(saved) == sha256(data)
            assert "secret" in seen  # the custom header reached the other origin
        else:
            assert final["http_code"] is None  # the browser refused to hand the answer over
    assert len(finished_downloads(browser.download_path)) == 1


@pytest.mark.parametrize("backend", ["flask", "fastapi", "quart"])
def test_downloader_cross_origin(browser, backend: str) -> None:
    """0.2.0's cross-origin use of ``Downloader``: ``allow_cross_origin=True`` and a
    ``headers`` token, the address on another origin whose ``ServiceData`` allows the
    page's origin. The file is saved under the server's name (``Content-Disposition``
    is exposed), with the right bytes, on every backend."""
    seen: List[str] = []
    data = os.urandom(400_000)
    state: Dict[str, Any] = {}
    app = dash.Dash(__name__)
    with pytest.warns(DeprecationWarning):
        downloader = dfc.Downloader(id="dl", allow_cross_origin=True, headers={"X-Token": "s"})
    app.layout = html.Div([html.Button("go", id="go"), downloader, html.Pre(id="status")])

    @app.callback(Output("dl", "url"), Input("go", "n_clicks"), prevent_initial_call=True)
    def go(_: Any) -> Dict[str, str]:
        address = state["service"].register(io.BytesIO(data), file_name="far.bin", download=True)
        return {"url": state["url"] + address, "file_name_fallback": "unused.bin"}

    @app.callback(Output("status", "children"), Input("dl", "status"))
    def show(status: Any) -> str:
        return json.dumps(status)

    browser.start_server(app)
    origin = str(browser.driver.execute_script("return location.origin"))
    service = dfc.ServiceData(dfc.CachePlain(8), allowed_cross_origin=origin)
    server = _recording(build_app(service, backend), backend, seen)
    with serve_in_thread(server, backend) as url:
        state.update(url=url.replace("localhost", "127.0.0.1"), service=service)
        assert state["url"].rsplit(":", 1)[1] != origin.rsplit(":", 1)[1]
        browser.find_element("#go").click()
        status = wait_for(
            lambda: json.loads(browser.find_element("#status").text or "null"), 20, "status"
        )
        assert status == {"code": "success", "http_code": 200}
        (saved,) = _wait_files(browser, 1)
    assert saved.name == "far.bin"
    assert sha256(saved) == sha256(data)
    assert "s" in seen  # the header reached the other origin
