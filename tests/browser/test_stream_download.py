"""CachedDownload in headless Chromium: stream mode, its fallback, and resuming cut transfers."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import List

import dash
import flask
import pytest
from dash import html

import dash_file_cache as dfc
from bench.browser import ProcessPeaks

from .conftest import console_errors, sha256, wait_for
from .test_cached_download import (
    MiB,
    download_app,
    read_json,
    slow_route,
    wait_files,
    wait_status,
)

pytestmark = pytest.mark.browser


def test_stream_mode_sends_headers_reports_progress_and_saves(browser):
    service = dfc.ServiceData(dfc.CachePlain(8), chunk_size=1)
    data = os.urandom(8 * MiB + 321)
    seen_headers: list = []
    uid = service.register(data, file_name="data.bin").split("uid=")[1]

    app = download_app(
        service,
        lambda _: f"/slow?uid={uid}",
        mode="stream",
        headers={"X-Token": "secret"},
        progress_interval=50,
    )
    slow_route(app, service, seen_headers)
    browser.start_server(app)
    browser.find_element("#go").click()
    status = wait_status(browser, "done", timeout=30)
    assert status["mode"] == "stream"
    assert status["loaded"] == status["total"] == len(data)
    assert status["file_name"] == "data.bin"
    assert status["message"] is None
    (saved,) = wait_files(browser, 1)
    assert saved.name == "data.bin"
    assert sha256(saved) == sha256(data)
    assert seen_headers == ["secret"]  # the server saw the custom header
    history = read_json(browser, "#history")
    assert history[0]["state"] == "started"
    progress = [s["loaded"] for s in history if s["state"] == "started" and s["loaded"]]
    assert len(progress) >= 3, history
    assert progress == sorted(progress)
    assert 0 < progress[0] < len(data)
    browser.wait_for_text_to_equal("#count", "1")
    # The worker is the package's, served from the component suite.
    scripts = browser.driver.execute_script(
        "return navigator.serviceWorker.getRegistrations().then("
        "rs => rs.map(r => (r.active || r.installing || r.waiting).scriptURL));"
    )
    assert len(scripts) == 1
    assert scripts[0].startswith(browser.server_url + "/_dash-component-suites/dash_file_cache/")
    assert console_errors(browser) == []


def test_stream_mode_non_ascii_name_from_the_prop(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    data = "ça\n".encode() * 1000
    address = service.register(data, file_name="server.txt", mime_type="text/plain")
    browser.start_server(
        download_app(service, lambda _: address, mode="stream", file_name="résumé été.txt")
    )
    browser.find_element("#go").click()
    status = wait_status(browser, "done", timeout=20)
    assert status["file_name"] == "résumé été.txt"
    (saved,) = wait_files(browser, 1)
    assert saved.name == "résumé été.txt"
    assert saved.read_bytes() == data


def test_stream_mode_under_a_path_prefix(browser):
    """The worker is registered from the bundle's folder, prefix included."""
    service = dfc.ServiceData(dfc.CachePlain(8))
    data = os.urandom(MiB + 3)
    app = dash.Dash(__name__, url_base_pathname="/sub/app/")
    service.serve(app)
    address = service.register(data, file_name="prefixed.bin")
    app.layout = html.Div(
        [dfc.CachedDownload(id="dl", url=address, mode="stream"), html.Pre(id="status")]
    )

    @app.callback(dash.Output("status", "children"), dash.Input("dl", "status"))
    def show(status):
        return json.dumps(status)

    browser.start_server(app, navigate=False)
    browser.wait_for_page(url=f"{browser.server.url}/sub/app/")
    status = wait_status(browser, "done", timeout=20)
    assert status["mode"] == "stream"
    (saved,) = wait_files(browser, 1)
    assert sha256(saved) == sha256(data)
    scripts = browser.driver.execute_script(
        "return navigator.serviceWorker.getRegistrations().then("
        "rs => rs.map(r => r.active.scriptURL));"
    )
    assert scripts == [
        f"{browser.server.url}/sub/app/_dash-component-suites/dash_file_cache/components/"
        "stream-worker.js"
    ]
    assert console_errors(browser) == []


def test_stream_mode_expired_address_is_404_and_saves_nothing(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    address = service.register(b"gone", file_name="gone.txt")
    uid = address.split("uid=")[1]
    service.cache.remove(uid)

    browser.start_server(download_app(service, lambda _: address, mode="stream"))
    browser.find_element("#go").click()
    status = wait_status(browser, "error", timeout=20)
    assert status["http_code"] == 404
    assert status["mode"] == "stream"
    assert "expired" in status["message"]
    time.sleep(1.0)
    assert list(Path(browser.download_path).iterdir()) == []
    assert console_errors(browser, allowed=[uid]) == []


def test_stream_mode_unmount_cancels_the_download(browser):
    """Removing the component mid-transfer stops the request and the worker's stream."""
    service = dfc.ServiceData(dfc.CachePlain(8), chunk_size=1)
    data = os.urandom(40 * MiB)
    uid = service.register(data, file_name="big.bin").split("uid=")[1]
    served: list = []
    finished = threading.Event()

    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = html.Div(
        [
            html.Button("remove", id="remove"),
            html.Div(
                dfc.CachedDownload(
                    id="dl", url=f"/slow?uid={uid}", mode="stream", progress_interval=50
                ),
                id="holder",
            ),
            html.Pre(id="status"),
        ]
    )

    @app.server.route("/slow")
    def slow():
        response = service.stream(flask.request.args["uid"], download=True)
        body = response.response

        def trickle():
            try:
                for chunk in body:
                    time.sleep(0.06)
                    served.append(len(chunk))
                    yield chunk
            finally:
                finished.set()

        response.response = trickle()
        return response

    @app.callback(dash.Output("status", "children"), dash.Input("dl", "status"))
    def show(status):
        return json.dumps(status)

    @app.callback(
        dash.Output("holder", "children"),
        dash.Input("remove", "n_clicks"),
        prevent_initial_call=True,
    )
    def remove(_):
        return None

    browser.start_server(app)
    wait_for(lambda: sum(served) >= 3 * MiB, 30, "3 MiB served")
    browser.find_element("#remove").click()
    # The server's generator is closed: the page's request was cancelled.
    assert finished.wait(15), "the transfer went on after unmount"
    assert sum(served) < len(data)
    # The worker released its stream: the download manager's file is not complete.
    time.sleep(1.0)
    registrations = browser.driver.execute_script(
        "return navigator.serviceWorker.getRegistrations().then(rs => rs.length);"
    )
    assert registrations == 1
    complete = [
        p
        for p in Path(browser.download_path).iterdir()
        if not p.name.startswith(".") and p.suffix != ".crdownload"
    ]
    assert all(p.stat().st_size != len(data) for p in complete), complete


def test_stream_mode_falls_back_to_native_when_registration_is_blocked(browser):
    service = dfc.ServiceData(dfc.CachePlain(8))
    data = os.urandom(2 * MiB)
    address = service.register(data, file_name="fallback.bin")
    browser.start_server(
        download_app(service, lambda _: address, mode="stream", headers={"X-Token": "t"})
    )
    browser.wait_for_element("#go")
    # As a browser policy or a privacy mode would: registration is refused.
    browser.driver.execute_script(
        "navigator.serviceWorker.register = () => Promise.reject("
        "new DOMException('blocked by the test', 'SecurityError'));"
    )
    browser.find_element("#go").click()
    status = wait_status(browser, "done", timeout=20)
    assert status["mode"] == "native"
    assert "Stream mode unavailable" in status["message"]
    assert "blocked by the test" in status["message"]
    (saved,) = wait_files(browser, 1)
    assert saved.name == "fallback.bin"
    assert sha256(saved) == sha256(data)
    history = read_json(browser, "#history")
    assert all(s["mode"] == "native" and "Stream mode unavailable" in s["message"] for s in history)


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 that cuts the first download connection mid-body.

    Every connection is relayed to ``target``; on the first connection whose
    request asks for ``marker``, the proxy closes both sides once ``cut_after``
    bytes of the answer went to the browser. ``requests`` records the raw
    request heads of the download requests it saw.
    """

    def __init__(self, target_port: int, marker: bytes, cut_after: int) -> None:
        self.target_port = target_port
        self.marker = marker
        self.cut_after = cut_after
        self.cut_done = threading.Event()
        self.requests: List[bytes] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        state = {"armed": False, "sent": 0}
        lock = threading.Lock()

        def shut() -> None:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

        def browser_to_server() -> None:
            try:
                while True:
                    data = client.recv(65536)
                    if not data:
                        break
                    if self.marker in data:
                        self.requests.append(data.split(b"\r\n\r\n")[0])
                        with lock:
                            if not self.cut_done.is_set() and not state["armed"]:
                                state["armed"] = True
                    upstream.sendall(data)
            except OSError:
                pass
            shut()

        def server_to_browser() -> None:
            try:
                while True:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    with lock:
                        armed = state["armed"]
                    if armed:
                        room = self.cut_after - state["sent"]
                        if len(data) >= room:
                            client.sendall(data[:room])
                            self.cut_done.set()
                            break
                        state["sent"] += len(data)
                    client.sendall(data)
            except OSError:
                pass
            shut()

        threading.Thread(target=browser_to_server, daemon=True).start()
        server_to_browser()


@pytest.mark.parametrize("mode", ["fetch", "stream"])
def test_cut_transfer_resumes_with_range(browser, mode):
    # Served slowly (1 MiB every 60 ms), so the cut comes while the page reads.
    service = dfc.ServiceData(dfc.CachePlain(8), chunk_size=1)
    data = os.urandom(6 * MiB + 777)
    uid = service.register(data, file_name=f"resumed-{mode}.bin").split("uid=")[1]
    app = download_app(service, lambda _: f"/slow?uid={uid}", mode=mode)
    slow_route(app, service, [])
    browser.start_server(app)
    port = int(browser.server_url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, marker=f"GET /slow?uid={uid}".encode(), cut_after=2 * MiB)
    try:
        # The whole page through the proxy: the download's origin is the proxy's.
        browser.driver.get(f"http://127.0.0.1:{proxy.port}/")
        browser.wait_for_element("#go").click()
        status = wait_status(browser, "done", timeout=30)
    finally:
        proxy.close()
    assert proxy.cut_done.is_set()
    assert status["mode"] == mode
    assert status["resumes"] == 1
    assert status["loaded"] == status["total"] == len(data)
    (saved,) = wait_files(browser, 1)
    assert saved.name == f"resumed-{mode}.bin"
    assert sha256(saved) == sha256(data)
    # One full request, then one resume from where the cut left it.
    heads = [h.decode("latin-1").lower() for h in proxy.requests]
    assert len(heads) == 2, heads
    assert "range:" not in heads[0]
    resumed_from = int(heads[1].split("range: bytes=")[1].split("-")[0])
    assert MiB <= resumed_from <= 2 * MiB
    assert 'if-range: "' in heads[1]


def test_stream_mode_large_file_memory_does_not_follow_the_size(browser, tmp_path):
    """256 MiB in stream mode: byte-identical, and no renderer holds a sizeable part of it.

    When the page fetched and posted the bytes to the worker, one renderer
    grew by about the file's size (+242 MiB for 256 MiB); with the worker
    fetching but a buffer per chunk, +146 MiB; reading into one reused
    buffer, about +70 MiB whatever the size. The bound here is half the file.
    """
    size = 256 * MiB
    big = tmp_path / "stream-big.bin"
    with open(big, "wb") as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
    service = dfc.ServiceData(dfc.CachePlain(8))
    address = service.register(big, mime_type="application/octet-stream")
    browser.start_server(download_app(service, lambda _: address, mode="stream"))
    browser.wait_for_element("#go")
    with ProcessPeaks(browser.driver, interval=0.05) as peaks:
        browser.find_element("#go").click()
        status = wait_status(browser, "done", timeout=240)
        (saved,) = wait_files(browser, 1, timeout=60)
    assert status["mode"] == "stream"
    assert status["loaded"] == status["total"] == size
    assert saved.stat().st_size == size
    assert sha256(saved) == sha256(big)
    renderers = [row for row in peaks.report() if row["kind"] == "renderer"]
    assert renderers and renderers[0]["growth_mib"] < size / MiB / 2, renderers
    assert console_errors(browser) == []
