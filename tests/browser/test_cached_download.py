"""CachedDownload in headless Chromium: native and fetch modes."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import dash
import flask
import pytest
from dash import Input, Output, html

import dash_file_cache as dfc

from .conftest import console_errors, finished_downloads, sha256, wait_for

pytestmark = pytest.mark.browser

MiB = 1 << 20


def download_app(service: dfc.ServiceData, make_url, **component_props) -> dash.Dash:
    """A button whose callback returns an address for the CachedDownload."""
    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = html.Div(
        [
            html.Button("download", id="go"),
            dfc.CachedDownload(id="dl", **component_props),
            html.Pre(id="status"),
            html.Pre(id="count"),
            html.Pre(id="history"),
        ]
    )

    @app.callback(Output("dl", "url"), Input("go", "n_clicks"), prevent_initial_call=True)
    def go(n_clicks):
        return make_url(n_clicks)

    @app.callback(
        Output("status", "children"),
        Output("count", "children"),
        Input("dl", "status"),
        Input("dl", "n_downloads"),
    )
    def show(status, count):
        return json.dumps(status), str(count)

    # Every status the component reported, in order (clientside: no round trip).
    app.clientside_callback(
        """function (status) {
            window.__dfcHistory = window.__dfcHistory || [];
            if (status) { window.__dfcHistory.push(status); }
            return JSON.stringify(window.__dfcHistory);
        }""",
        Output("history", "children"),
        Input("dl", "status"),
    )
    return app


def read_json(dash_duo, selector: str):
    text = dash_duo.find_element(selector).text
    return json.loads(text) if text else None


def wait_status(dash_duo, state: str, timeout: float = 15.0, **expected) -> dict:
    def check():
        status = read_json(dash_duo, "#status")
        if status and status.get("state") == state:
            if all(status.get(k) == v for k, v in expected.items()):
                return status
        return None

    return wait_for(check, timeout, f"status.state == {state!r} {expected}")


def wait_files(dash_duo, count: int, timeout: float = 15.0) -> list:
    saved = wait_for(
        lambda: len(files := finished_downloads(dash_duo.download_path)) == count and files,
        timeout,
        f"{count} finished download(s) in {dash_duo.download_path}",
    )
    assert isinstance(saved, list)  # wait_for returns only a truthy value: the list
    return saved


def test_native_download_saves_exact_bytes(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    data = os.urandom(3 * MiB + 12345)
    addresses = []

    def make_url(_):
        addresses.append(
            service.register(io.BytesIO(data), file_name="report.csv", mime_type="text/csv")
        )
        return addresses[-1]

    browser.start_server(
        download_app(service, make_url), debug=True, use_reloader=False, dev_tools_hot_reload=False
    )
    browser.find_element("#go").click()
    status = wait_status(browser, "done")
    assert status["http_code"] == 200
    assert status["file_name"] == "report.csv"
    assert status["total"] == len(data)
    assert status["mode"] == "native"
    assert status["url"] == addresses[0]
    (saved,) = wait_files(browser, 1)
    assert saved.name == "report.csv"
    assert sha256(saved) == sha256(data)
    browser.wait_for_text_to_equal("#count", "1")
    history = read_json(browser, "#history")
    assert [s["state"] for s in history] == ["started", "done"]
    assert console_errors(browser) == []


def test_expired_download_reports_404_and_saves_nothing(browser):
    service = dfc.ServiceData(dfc.CachePlain(1))
    addresses = []

    def make_url(_):
        addresses.append(service.register(b"old", file_name="old.txt", download=True))
        service.register(b"new", file_name="new.txt")  # evicts the first
        return addresses[-1]

    browser.start_server(download_app(service, make_url))
    browser.find_element("#go").click()
    status = wait_status(browser, "error")
    assert status["http_code"] == 404
    assert status["url"] == addresses[0]
    assert status["message"]
    time.sleep(1.0)  # a download, had one started, would show up by now
    assert list(Path(browser.download_path).iterdir()) == []
    assert browser.find_element("#count").text == "None"  # never set: no download
    uid = addresses[0].split("uid=")[1].split("&")[0]
    assert console_errors(browser, allowed=[uid]) == []


def test_same_address_again_downloads_again(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    data = b"a,b\n1,2\n"
    address = service.register(data, file_name="table.csv", mime_type="text/csv")

    browser.start_server(download_app(service, lambda _: address))
    for n in (1, 2, 3):
        browser.find_element("#go").click()
        browser.wait_for_text_to_equal("#count", str(n), timeout=15)
        files = wait_files(browser, n)
    assert sorted(p.name for p in files) == ["table (1).csv", "table (2).csv", "table.csv"]
    assert all(p.read_bytes() == data for p in files)
    history = read_json(browser, "#history")
    assert [s["state"] for s in history] == ["started", "done"] * 3
    assert console_errors(browser) == []


def test_non_ascii_file_name(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    data = "çà et là\n".encode()
    address = service.register(data, file_name="résumé d'été.txt", mime_type="text/plain")

    browser.start_server(download_app(service, lambda _: address))
    browser.find_element("#go").click()
    status = wait_status(browser, "done")
    assert status["file_name"] == "résumé d'été.txt"
    (saved,) = wait_files(browser, 1)
    assert saved.name == "résumé d'été.txt"
    assert saved.read_bytes() == data
    assert console_errors(browser) == []


def test_large_file_by_path_downloads_natively(browser, tmp_path):
    size = 256 * MiB
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # sparse: no disk blocks, reads as zeros
        f.truncate(size)
    service = dfc.ServiceData(dfc.CachePlain(8))

    def make_url(_):
        return service.register(big, mime_type="application/octet-stream", download=True)

    browser.start_server(download_app(service, make_url))
    heap_before = browser.driver.execute_script("return performance.memory.usedJSHeapSize")
    browser.find_element("#go").click()
    status = wait_status(browser, "done")
    assert status["total"] == size
    assert status["file_name"] == "big.bin"
    (saved,) = wait_files(browser, 1, timeout=90)
    assert saved.name == "big.bin"
    assert saved.stat().st_size == size
    assert sha256(saved) == sha256(big)
    heap_after = browser.driver.execute_script("return performance.memory.usedJSHeapSize")
    # The bytes went to the download manager, not into the page.
    assert heap_after - heap_before < 32 * MiB
    assert console_errors(browser) == []


def slow_route(app: dash.Dash, service: dfc.ServiceData, seen_headers: list) -> None:
    """``/slow?uid=...``: the service's answer, one 1 MiB chunk every 60 ms."""

    @app.server.route("/slow")
    def slow():
        seen_headers.append(flask.request.headers.get("X-Token"))
        response = service.stream(flask.request.args["uid"], download=True)
        body = response.response

        def trickle():
            try:
                for chunk in body:
                    time.sleep(0.06)
                    yield chunk
            finally:
                close = getattr(body, "close", None)
                if close:
                    close()

        response.response = trickle()
        return response


def test_fetch_mode_reports_progress_and_saves(browser):
    service = dfc.ServiceData(dfc.CachePlain(8), chunk_size=1)
    data = os.urandom(8 * MiB)
    seen_headers: list = []
    uid = service.register(data, file_name="data.bin").split("uid=")[1]

    app = download_app(
        service,
        lambda _: f"/slow?uid={uid}",
        mode="fetch",
        headers={"X-Token": "secret"},
        progress_interval=50,
        file_name="renamed.bin",
    )
    slow_route(app, service, seen_headers)
    browser.start_server(app)
    browser.find_element("#go").click()
    status = wait_status(browser, "done", timeout=20)
    assert status["loaded"] == status["total"] == len(data)
    assert status["mode"] == "fetch"
    assert status["file_name"] == "renamed.bin"
    (saved,) = wait_files(browser, 1)
    assert saved.name == "renamed.bin"
    assert sha256(saved) == sha256(data)
    assert seen_headers == ["secret"]
    history = read_json(browser, "#history")
    assert history[0]["state"] == "started"
    assert history[-1]["state"] == "done"
    progress = [s["loaded"] for s in history if s["state"] == "started" and s["loaded"]]
    assert len(progress) >= 3, history
    assert progress == sorted(progress)
    # A report may come at the last byte before "done" (a late tick on a loaded machine).
    assert all(0 < n <= len(data) for n in progress)
    assert all(s["total"] == len(data) for s in history if s["loaded"])
    browser.wait_for_text_to_equal("#count", "1")
    assert console_errors(browser) == []


def test_fetch_mode_expired_address(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    address = service.register(b"gone", file_name="gone.txt")
    service.cache.remove(address.split("uid=")[1])

    browser.start_server(download_app(service, lambda _: address, mode="fetch"))
    browser.find_element("#go").click()
    status = wait_status(browser, "error")
    assert status["http_code"] == 404
    assert "expired" in status["message"]  # the service's JSON error text
    time.sleep(0.5)
    assert list(Path(browser.download_path).iterdir()) == []
    assert console_errors(browser, allowed=[address.split("uid=")[1]]) == []


def test_native_file_name_override(browser):
    """`file_name` renames a native download: the service honours `&file_name=`."""
    service = dfc.ServiceData(dfc.CachePlain(8))
    data = b"a,b\n1,2\n"
    address = service.register(data, file_name="server-name.csv", mime_type="text/csv")
    browser.start_server(download_app(service, lambda _: address, file_name="chosen.csv"))
    browser.find_element("#go").click()
    status = wait_status(browser, "done")
    assert status["file_name"] == "chosen.csv"
    (saved,) = wait_files(browser, 1)
    assert saved.name == "chosen.csv"
    assert saved.read_bytes() == data
