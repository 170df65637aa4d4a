"""CachedImage in headless Chromium: loaded images, expired addresses."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib

import dash
import pytest
from dash import Input, Output, dcc, html

import dash_file_cache as dfc

from .conftest import console_errors, wait_for

pytestmark = pytest.mark.browser


def make_png(width: int, height: int) -> bytes:
    """A small RGB PNG (a gradient), made without imaging libraries."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 7 % 256, y * 11 % 256, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def image_app(service: dfc.ServiceData, make_src) -> dash.Dash:
    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = html.Div(
        [
            html.Button("show", id="show"),
            dfc.CachedImage(
                id="img",
                alt="a test image",
                fallback=html.Span("image unavailable", id="fallback"),
                style={"border": "1px solid #ccc"},
            ),
            html.Pre(id="status"),
        ]
    )

    @app.callback(Output("img", "src"), Input("show", "n_clicks"), prevent_initial_call=True)
    def show(_):
        return make_src()

    @app.callback(Output("status", "children"), Input("img", "status"))
    def status(value):
        return json.dumps(value)

    return app


def read_status(dash_duo):
    text = dash_duo.find_element("#status").text
    return json.loads(text) if text else None


def wait_status(dash_duo, state: str, timeout: float = 10.0) -> dict:
    return wait_for(
        lambda: (s := read_status(dash_duo)) and s.get("state") == state and s,
        timeout,
        f"status.state == {state!r}",
    )


def test_image_registered_in_callback_loads(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    png = make_png(37, 23)
    addresses = []

    def make_src():
        address = service.register(io.BytesIO(png), file_name="g.png", mime_type="image/png")
        addresses.append(address)
        return addresses[-1]

    # Debug mode: React's development build and Dash's prop checks, so any
    # React warning or invalid status shape shows up in the console.
    browser.start_server(
        image_app(service, make_src), debug=True, use_reloader=False, dev_tools_hot_reload=False
    )
    browser.find_element("#show").click()
    status = wait_status(browser, "loaded")
    assert status == {
        "state": "loaded",
        "http_code": 200,
        "natural_width": 37,
        "natural_height": 23,
        "src": addresses[0],
    }
    img = browser.find_element("#img")
    assert img.tag_name == "img"
    assert browser.driver.execute_script("return arguments[0].naturalWidth", img) == 37
    assert not browser.find_elements("#fallback")
    assert console_errors(browser) == []


def test_expired_image_reports_404_and_shows_fallback(browser):
    # A cache of one item: registering a second image evicts the first.
    service = dfc.ServiceData(dfc.CachePlain(1))
    png = make_png(8, 8)
    addresses = []

    def make_src():
        addresses.append(service.register(io.BytesIO(png), mime_type="image/png"))
        service.register(io.BytesIO(png), mime_type="image/png")
        return addresses[-1]

    browser.start_server(image_app(service, make_src))
    browser.find_element("#show").click()
    status = wait_status(browser, "error")
    assert status == {
        "state": "error",
        "http_code": 404,
        "natural_width": None,
        "natural_height": None,
        "src": addresses[0],
    }
    assert browser.find_element("#fallback").text == "image unavailable"
    assert browser.find_element("#img").tag_name == "div"
    assert not browser.find_elements("img")
    uid = addresses[0].split("uid=")[1]
    assert console_errors(browser, allowed=[uid]) == []


def test_loading_state_inside_dcc_loading(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    png = make_png(5, 4)
    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = html.Div(
        [
            html.Button("show", id="show"),
            dcc.Loading(dfc.CachedImage(id="img"), id="loading", delay_show=0),
        ]
    )

    @app.callback(Output("img", "src"), Input("show", "n_clicks"), prevent_initial_call=True)
    def show(_):
        time.sleep(1.5)
        return service.register(png, mime_type="image/png")

    browser.start_server(app)
    browser.find_element("#show").click()
    # While the callback runs, the image is marked as loading, as core components are.
    browser.wait_for_element("#img[data-dash-is-loading]", timeout=5)
    wait_for(
        lambda: browser.driver.execute_script(
            "const i = document.querySelector('#img');"
            "return i && i.complete && i.naturalWidth === 5"
            " && !i.hasAttribute('data-dash-is-loading');"
        ),
        10,
        "the image loaded and no longer loading",
    )
    assert console_errors(browser) == []


def test_chunks_load_under_a_path_prefix(browser):
    """The lazily loaded chunk is found next to the bundle, prefix included."""
    service = dfc.ServiceData(dfc.CachePlain(8))
    png = make_png(6, 9)
    app = dash.Dash(__name__, url_base_pathname="/sub/app/")
    service.serve(app)
    address = service.register(png, mime_type="image/png")
    app.layout = html.Div([dfc.CachedImage(id="img", src=address), html.Pre(id="status")])

    @app.callback(Output("status", "children"), Input("img", "status"))
    def show_status(value):
        return json.dumps(value)

    browser.start_server(app, navigate=False)
    browser.wait_for_page(url=f"{browser.server.url}/sub/app/")
    status = wait_status(browser, "loaded")
    assert (status["natural_width"], status["natural_height"]) == (6, 9)
    chunks = browser.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('async-CachedImage'))"
    )
    assert len(chunks) == 1
    assert "/sub/app/_dash-component-suites/dash_file_cache/components/" in chunks[0]
    assert console_errors(browser) == []
