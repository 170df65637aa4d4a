"""Apps written the way dash-file-cache 0.2.0 documented them, run unchanged in Chromium.

0.2.0's README and examples register with ``content_type=``/``mime_type=`` and
``one_time_service=True``, feed the address to an ``html.Img`` (from a plain
callback on ``CachePlain(cache_size=1)``, or from a ``DiskcacheManager``
background callback on ``CacheQueue(1)`` or ``CacheFile(None)``), and save
files with ``Downloader(id=..., mitm="/dfc-downloader")`` next to
``ServiceDownloader("/dfc-downloader").serve(app)``, showing ``str(status)``; a
plain Flask app serves a ``ServiceData`` too.
The apps below use only that API (written here, in that style) and nothing
of the new one.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, Callable, Optional, Tuple

import dash
import diskcache
import multiprocess
import pytest
from dash import Input, Output, html

from .conftest import finished_downloads, read, sha256, wait_for

pytestmark = pytest.mark.browser

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="40">'
    '<rect width="{w}" height="40" fill="teal"/></svg>'
)


def _natural_width(browser, selector: str) -> int:
    """``naturalWidth`` of the image ``selector`` once it has loaded, else 0."""
    loaded = read(browser, selector, "complete") and read(browser, selector, "naturalWidth")
    return int(loaded or 0)


def _image_app(
    cache: Any, manager: Optional[Any], svg_path: Path, qobj: Optional[Any] = None
) -> dash.Dash:
    """0.2.0's image examples: three buttons register the same SVG as a StringIO, a
    BytesIO and a path, one-time; the address goes to an ``html.Img``. A
    ``CacheQueue`` gets its queue after ``serve``, through ``cache.qobj``, as 0.2.0's
    example did."""
    from dash_file_cache import CacheQueue, ServiceData

    app = dash.Dash("compat-020-image")
    service = ServiceData(cache)
    app.layout = html.Div(
        (
            html.Button(id="btn-strio", children="StringIO"),
            html.Button(id="btn-bytesio", children="BytesIO"),
            html.Button(id="btn-path", children="Path"),
            html.P(id="prog"),
            html.P(id="type"),
            html.P(id="addr"),
            html.Img(id="cache"),
        )
    )
    inputs = [Input(f"btn-{name}", "n_clicks") for name in ("strio", "bytesio", "path")]

    def make(*_: Any) -> Tuple[str, str]:
        prop_id = str(dash.callback_context.triggered[0]["prop_id"])
        if prop_id.startswith("btn-strio"):
            fio: Any = io.StringIO(svg_path.read_text())
        elif prop_id.startswith("btn-bytesio"):
            fio = io.BytesIO(svg_path.read_bytes())
        else:
            fio = str(svg_path)
        address = service.register(
            fio, content_type="image/svg+xml", mime_type="image/svg+xml", one_time_service=True
        )
        return fio.__class__.__name__, address

    if manager is None:
        app.callback(Output("type", "children"), Output("addr", "children"), *inputs)(make)
    else:

        def background(set_progress: Callable[[Tuple[str]], None], *clicks: Any) -> Any:
            for i in range(3):
                time.sleep(0.05)
                set_progress((f"{(i + 1) * 100 // 3}%",))
            return make(*clicks)

        app.callback(
            Output("type", "children"),
            Output("addr", "children"),
            *inputs,
            background=True,
            running=[(Output("btn-path", "disabled"), True, False)],
            progress=[Output("prog", "children")],
            manager=manager,
            prevent_initial_call=True,
        )(background)

    @app.callback(Output("cache", "src"), Input("addr", "children"), prevent_initial_call=True)
    def update_cache(addr: Optional[str]) -> Any:
        return addr if addr else dash.no_update

    service.serve(app)
    if isinstance(service.cache, CacheQueue):
        service.cache.qobj = qobj
    return app


def _check_images(browser, width: int, background: bool) -> None:
    for button, kind in [("strio", "StringIO"), ("bytesio", "BytesIO"), ("path", "str")]:
        before = read(browser, "#addr")

        def registered(kind: str = kind, before: Any = before) -> bool:
            return read(browser, "#type") == kind and read(browser, "#addr") != before

        browser.find_element(f"#btn-{button}").click()
        wait_for(registered, 60, kind)
        assert read(browser, "#addr").startswith("/cached-data?uid=")
        assert wait_for(lambda: _natural_width(browser, "#cache") == width, 20, f"{kind} image")
        if background:
            assert read(browser, "#prog") == "100%"
    # One-time items: the image claimed each address, a second GET is a JSON 404.
    gone = browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.json().then(b => done([r.status, 'error' in b])));",
        read(browser, "#addr"),
    )
    assert gone == [404, True]


def test_020_readme_app(browser, tmp_path: Path) -> None:
    """0.2.0's README app: ``CachePlain(1)``, a StringIO SVG registered one-time with
    ``content_type`` and ``mime_type`` in a plain callback, shown by ``html.Img``."""
    from dash_file_cache import CachePlain, ServiceData

    app = dash.Dash("demo")
    service = ServiceData(CachePlain(1))
    service.serve(app)
    app.layout = html.Div(
        (html.Button(id="btn", children="Image"), html.P(id="addr"), html.Img(id="cache"))
    )

    @app.callback(Output("addr", "children"), Input("btn", "n_clicks"), prevent_initial_call=True)
    def click_get_image(n_clicks: Optional[int]) -> Any:
        if not n_clicks:
            return dash.no_update
        return service.register(
            io.StringIO(SVG.format(w=70)),
            content_type="image/svg+xml",
            mime_type="image/svg+xml",
            one_time_service=True,
        )

    @app.callback(Output("cache", "src"), Input("addr", "children"), prevent_initial_call=True)
    def update_cache(addr: Optional[str]) -> Any:
        return addr if addr else dash.no_update

    browser.start_server(app)
    browser.find_element("#btn").click()
    assert wait_for(lambda: _natural_width(browser, "#cache") == 70, 20, "the image")


def test_020_single_process_image_app(browser, tmp_path: Path) -> None:
    from dash_file_cache import CachePlain

    svg = tmp_path / "image.svg"
    svg.write_text(SVG.format(w=50))
    browser.start_server(_image_app(CachePlain(cache_size=1), None, svg))
    _check_images(browser, 50, background=False)


@pytest.mark.parametrize("kind", ["CacheQueue", "CacheFile"])
def test_020_background_callback_image_app(browser, tmp_path: Path, kind: str) -> None:
    """0.2.0's background-callback examples: ``CacheQueue(1)`` whose ``qobj`` is set to
    a ``multiprocess`` Manager queue after ``serve``, or ``CacheFile(None)``; the file
    is registered in a ``DiskcacheManager`` job."""
    import dash_file_cache

    cache = (
        dash_file_cache.CacheQueue(1) if kind == "CacheQueue" else dash_file_cache.CacheFile(None)
    )
    manager = dash.DiskcacheManager(diskcache.Cache(str(tmp_path / "jobs")))
    svg = tmp_path / "image.svg"
    svg.write_text(SVG.format(w=60))
    with multiprocess.Manager() as man:
        browser.start_server(_image_app(cache, manager, svg, man.Queue()))
        _check_images(browser, 60, background=True)


def test_020_download_file_app(browser, tmp_path: Path) -> None:
    """0.2.0's download example: a background job registers a file one-time for
    download in ``CacheFile(None)``; a string address goes to
    ``Downloader(mitm="/dfc-downloader")``, served by ``ServiceDownloader``; the
    status is shown with ``str``."""
    from dash_file_cache import CacheFile, Downloader, ServiceData, ServiceDownloader

    with pytest.warns(DeprecationWarning):
        from dash_file_cache import DownloaderStatus

    svg = tmp_path / "test_image.svg"
    svg.write_text(SVG.format(w=80))
    app = dash.Dash("compat-020-download")
    manager = dash.DiskcacheManager(diskcache.Cache(str(tmp_path / "jobs")))
    service = ServiceData(CacheFile(None))
    with pytest.warns(DeprecationWarning):
        downloader = Downloader(id="download", mitm="/dfc-downloader")
    app.layout = html.Div(
        (
            html.Button(id="btn", children="Start"),
            html.P(id="prog"),
            html.P(id="addr"),
            html.P(id="dlstats"),
            downloader,
        )
    )

    @app.callback(
        Output("addr", "children"),
        Input("btn", "n_clicks"),
        background=True,
        running=[(Output("btn", "disabled"), True, False)],
        progress=[Output("prog", "children")],
        manager=manager,
        prevent_initial_call=True,
    )
    def click_get_image(set_progress: Callable[[Tuple[str]], None], n_clicks: Optional[int]) -> Any:
        if not n_clicks:
            return dash.no_update
        set_progress(("100%",))
        return service.register(
            str(svg),
            content_type="image/svg+xml; charset=utf-8",
            mime_type="image/svg+xml",
            one_time_service=True,
            download=True,
        )

    @app.callback(Output("download", "url"), Input("addr", "children"), prevent_initial_call=True)
    def trigger_downloading_event(addr: Optional[str]) -> Any:
        return addr if addr else dash.no_update

    @app.callback(
        Output("dlstats", "children"), Input("download", "status"), prevent_initial_call=True
    )
    def trigger_downloading_status(status: Optional[DownloaderStatus]) -> str:
        return str(status) if status else ""

    service.serve(app)
    with pytest.warns(DeprecationWarning):
        ServiceDownloader("/dfc-downloader").serve(app)
    browser.start_server(app)
    browser.find_element("#btn").click()
    stats = wait_for(lambda: read(browser, "#dlstats"), 60, "the Downloader status")
    assert stats == "{'code': 'success', 'http_code': 200}"
    (saved,) = wait_for(
        lambda: (files := finished_downloads(browser.download_path)) and files, 20, "the file"
    )
    assert saved.name == "test_image.svg"
    assert sha256(saved) == sha256(svg.read_bytes())


PAGE = """<!doctype html><html><body>
<button id="show">show</button><button id="save">save</button><img id="cache">
<script>
const ask = download => fetch('/file?name=image' + (download ? '&download=1' : ''),
    {method: 'POST'}).then(r => r.json()).then(j => j.addr);
document.getElementById('show').onclick = () =>
    ask(false).then(addr => { document.getElementById('cache').src = addr; });
document.getElementById('save').onclick = () =>
    ask(true).then(addr => { location.href = addr; });
</script></body></html>"""


def test_020_flask_services_app(browser, tmp_path: Path) -> None:
    """0.2.0's Flask example: ``ServiceData(CachePlain(1)).serve(flask_app)``, a route
    that registers a file one-time (``download`` from ``request.args.get(..., type=bool)``)
    and answers its address as JSON; the page shows it, then saves it."""
    import flask

    from dash_file_cache import CachePlain, ServiceData
    from tests.support.servers import serve_in_thread

    svg = tmp_path / "image.svg"
    svg.write_text(SVG.format(w=90))
    server = flask.Flask("compat-020-flask")
    service = ServiceData(CachePlain(1))
    service.serve(server)

    @server.route("/")
    def index() -> str:
        return PAGE

    @server.route("/file", methods=["GET", "POST"])
    def file_config() -> Any:
        use_download = flask.request.args.get("download", type=bool, default=False)
        addr = service.register(
            str(svg),
            content_type="image/svg+xml",
            mime_type="image/svg+xml",
            one_time_service=True,
            download=use_download,
        )
        return flask.jsonify({"addr": addr})

    with serve_in_thread(server) as url:
        browser.driver.get(url + "/")
        browser.driver.find_element("id", "show").click()
        assert wait_for(lambda: _natural_width(browser, "#cache") == 90, 20, "the image")
        browser.driver.find_element("id", "save").click()
        (saved,) = wait_for(
            lambda: (files := finished_downloads(browser.download_path)) and files, 20, "the file"
        )
    assert saved.name == "image.svg"
    assert sha256(saved) == sha256(svg.read_bytes())
