"""The HTTP contract on every server backend, on real servers.

One Dash app (``tests/apps/backend_app.py``, under ``url_base_pathname='/app/'``)
on Flask under gunicorn, FastAPI under uvicorn and granian, and Quart under
hypercorn. Items are registered from the test process into the app's
``CacheFile``. Each contract aspect runs on all four and must answer alike.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.upstream import BODY as UPSTREAM_BODY
from tests.apps.upstream import Upstream
from tests.support.polling import wait_http
from tests.support.processes import ROOT, free_port, stop_processes

pytest.importorskip("dash.backends", reason="Dash < 4.2 has no FastAPI/Quart backends")
pytestmark = pytest.mark.slow

CONTENT = bytes(range(256)) * 40  # 10240 bytes
SERVERS = {
    "flask-gunicorn": ("flask", "gunicorn"),
    "fastapi-uvicorn": ("fastapi", "uvicorn"),
    "fastapi-granian": ("fastapi", "granian"),
    "quart-hypercorn": ("quart", "hypercorn"),
}
ASGI_SERVERS = [name for name in SERVERS if not name.startswith("flask")]
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def server_command(server: str, port: int) -> List[str]:
    target = "tests.apps.backend_app:server"
    bind = ["127.0.0.1", str(port)]
    if server == "gunicorn":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "-b",
            ":".join(bind),
            "-w",
            "1",
            "-k",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "warning",
            target,
        ]
    if server == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            bind[0],
            "--port",
            bind[1],
            "--log-level",
            "warning",
            target,
        ]
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            bind[0],
            "--port",
            bind[1],
            "--workers",
            "1",
            "--log-level",
            "warning",
            target,
        ]
    if server == "hypercorn":
        return [sys.executable, "-m", "hypercorn", "-b", ":".join(bind), "-w", "1", target]
    raise ValueError(server)  # fmt: skip


class Running(NamedTuple):
    name: str
    url: str  # base URL including the Dash prefix, without trailing slash
    service: dfc.ServiceData  # registers into the server's cache
    proc: subprocess.Popen

    def address(self, data: object = CONTENT, **kwargs: object) -> str:
        if isinstance(data, bytes):
            data = io.BytesIO(data)
        kwargs.setdefault("mime_type", "application/octet-stream")
        return self.url + self.service.register(data, **kwargs)  # type: ignore[arg-type]


def start_server(name: str, cache_dir: Path, **env: str) -> subprocess.Popen:
    backend, server = SERVERS[name]
    port = free_port()
    environ = dict(os.environ, DFC_BACKEND=backend, DFC_CACHE_DIR=str(cache_dir), **env)
    proc = subprocess.Popen(server_command(server, port), cwd=ROOT, env=environ)
    proc.url = f"http://127.0.0.1:{port}/app"  # type: ignore[attr-defined]
    try:
        wait_http(proc.url + "/", proc=proc)  # type: ignore[attr-defined]
    except BaseException:
        stop_processes([proc])
        raise
    return proc


@pytest.fixture(scope="module", params=list(SERVERS))
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    cache_dir = tmp_path_factory.mktemp(request.param) / "cache"
    service = dfc.ServiceData(dfc.CacheFile(cache_dir))
    proc = start_server(request.param, cache_dir)
    try:
        yield Running(request.param, proc.url, service, proc)  # type: ignore[attr-defined]
    finally:
        stop_processes([proc])


def contract_headers(response: requests.Response) -> Dict[str, str]:
    """The headers the contract fixes (not Date/Server, which servers add)."""
    names = ["Cache-Control", "X-Content-Type-Options", "Accept-Ranges", "Content-Type",
             "Content-Length", "Content-Disposition", "Content-Range", "Allow",
             "Content-Security-Policy", "Referrer-Policy",
             "Cross-Origin-Resource-Policy"]  # fmt: skip
    return {n: response.headers[n] for n in names if n in response.headers}


# -- the contract, as a table --------------------------------------------------
SIZE = len(CONTENT)
RANGE_TABLE = [
    # (Range header, status, first byte, stop) per RFC 9110 14.1.2 / 15.3.7 / 15.5.17
    ("bytes=0-0", 206, 0, 1),
    ("bytes=10-19", 206, 10, 20),
    ("bytes=10240-", 416, 0, 0),
    ("bytes=-100", 206, SIZE - 100, SIZE),
    ("bytes=-999999", 206, 0, SIZE),
    ("bytes=100-999999", 206, 100, SIZE),
    ("bytes=0-1,5-6", 200, 0, SIZE),  # multi-range: may be ignored
    ("items=0-1", 200, 0, SIZE),  # unknown unit: ignored
    ("bytes=5-1", 200, 0, SIZE),  # malformed: ignored
]


@pytest.mark.parametrize(("header", "status", "start", "stop"), RANGE_TABLE)
def test_ranges(running: Running, header: str, status: int, start: int, stop: int) -> None:
    response = requests.get(running.address(), headers={"Range": header}, timeout=30)
    assert response.status_code == status
    if status == 416:
        assert response.headers["Content-Range"] == f"bytes */{SIZE}"
        assert response.json() == {"error": "Requested range not satisfiable."}
        return
    assert response.content == CONTENT[start:stop]
    assert response.headers["Content-Length"] == str(stop - start)
    if status == 206:
        assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{SIZE}"


def test_whole_item_headers(running: Running) -> None:
    address = running.address(file_name="report é.csv", mime_type="text/csv")
    response = requests.get(address + "&download=true", timeout=30)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert contract_headers(response) == {
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
        "Content-Type": "text/csv",
        "Content-Length": str(SIZE),
        "Content-Disposition": 'attachment; filename="report e.csv"; '
        "filename*=UTF-8''report%20%C3%A9.csv",
        "Content-Security-Policy": "sandbox allow-scripts allow-downloads allow-popups "
        "allow-popups-to-escape-sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Referrer-Policy": "no-referrer",
    }
    renamed = requests.get(address + "&file_name=other.bin", timeout=30)
    assert renamed.headers["Content-Disposition"] == "inline; filename=other.bin"


def test_conditionals_and_head(running: Running) -> None:
    address = running.address()
    head = requests.head(address, timeout=30)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == str(SIZE)
    etag, modified = head.headers["ETag"], head.headers["Last-Modified"]
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        response = requests.get(address, headers=headers, timeout=30)
        assert response.status_code == 304
        assert response.content == b""
        assert "Content-Type" not in response.headers
        assert response.headers["ETag"] == etag
    stale = requests.get(address, headers={"Range": "bytes=0-9", "If-Range": '"other"'}, timeout=30)
    assert (stale.status_code, len(stale.content)) == (200, SIZE)
    fresh = requests.get(address, headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=30)
    assert (fresh.status_code, fresh.content) == (206, CONTENT[:10])


def test_one_time_claim_and_race(running: Running) -> None:
    address = running.address(one_time_service=True)
    assert requests.head(address, timeout=30).status_code == 200  # HEAD does not claim
    first = requests.get(address, timeout=30)
    assert (first.status_code, first.content) == (200, CONTENT)
    assert first.headers["Cache-Control"] == "private, no-store"
    again = requests.get(address, timeout=30)
    assert again.status_code == 404
    # The race: of 8 simultaneous GETs of one one-time item, exactly one wins.
    raced = running.address(one_time_service=True)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: requests.get(raced, timeout=30).status_code, range(8)))
    assert statuses == [200] + [404] * 7


def test_errors_json_and_html(running: Running) -> None:
    url = running.url + "/cached-data"
    cases = [
        ("GET", "", 400, "Exactly one 'uid' query parameter is required."),
        ("GET", "?uid=../../etc/passwd", 400, "Malformed 'uid'."),
        ("GET", "?uid=" + "a" * 32 + "&download=maybe", 400,
         "'download' must be true/false or 1/0."),
        ("POST", "?uid=" + "a" * 32, 405, "Method POST is not allowed."),
        ("GET", "?uid=" + "a" * 32, 404, "No such file: its address expired or never existed."),
    ]  # fmt: skip
    for method, query, status, message in cases:
        response = requests.request(method, url + query, timeout=30)
        assert response.status_code == status, (method, query)
        assert response.json() == {"error": message}
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.post(url, timeout=30).headers["Allow"] == "GET, HEAD, OPTIONS"
    # A person opening an expired link gets a page; fetch/XHR keep JSON.
    gone = url + "?uid=" + "b" * 32 + "&file_name=%3Cscript%3E"
    page = requests.get(gone, headers={"Accept": HTML_ACCEPT}, timeout=30)
    assert page.status_code == 404
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "private, no-store"
    assert "expired" in page.text and "make the file again" in page.text
    assert "script" not in page.text and "b" * 32 not in page.text
    for accept in ("*/*", "application/json", "application/json, text/plain, */*"):
        data = requests.get(gone, headers={"Accept": accept}, timeout=30)
        assert data.json() == {"error": "No such file: its address expired or never existed."}


def test_same_answers_everywhere(running: Running, tmp_path: Path) -> None:
    """Headers of a fixed set of requests, compared with the Flask server's answers.

    The first backend run records; the others must answer identically.
    """
    address = running.address(file_name="a.bin")
    requests_to_make = [
        ("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=3-8"}),
        ("GET", {"Range": "bytes=99999-"}), ("POST", {}), ("OPTIONS", {}),
    ]  # fmt: skip
    seen = []
    for method, headers in requests_to_make:
        response = requests.request(method, address, headers=headers, timeout=30)
        seen.append((response.status_code, contract_headers(response), response.content))
    _RECORDED.setdefault("answers", seen)
    assert seen == _RECORDED["answers"], running.name


_RECORDED: Dict[str, object] = {}


# -- big files, the event loop, aborts -------------------------------------------
@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    with open(path, "wb") as f:
        f.truncate(1 << 30)  # sparse 1 GiB
        f.seek((1 << 30) - 16)
        f.write(b"0123456789abcdef")
    return path


def test_last_mib_of_1gib(running: Running, big_file: Path) -> None:
    address = running.address(str(big_file))
    last = (1 << 30) - (1 << 20)
    response = requests.get(address, headers={"Range": f"bytes={last}-"}, timeout=60)
    assert response.status_code == 206
    assert len(response.content) == 1 << 20
    assert response.content.endswith(b"0123456789abcdef")


def test_whole_1gib_streams(running: Running, big_file: Path) -> None:
    address = running.address(str(big_file))
    total, tail = 0, b""
    with requests.get(address, stream=True, timeout=60) as response:
        assert response.headers["Content-Length"] == str(1 << 30)
        for piece in response.iter_content(1 << 20):
            total += len(piece)
            tail = (tail + piece)[-16:]
    assert (total, tail) == (1 << 30, b"0123456789abcdef")


def open_files(pid: int) -> List[str]:
    """What the process's descriptors point to."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            pass
    return targets


def serving_pid(proc: subprocess.Popen) -> int:
    """The process that answers (gunicorn/hypercorn/granian run a worker child)."""
    import psutil

    children = psutil.Process(proc.pid).children(recursive=True)
    return children[-1].pid if children else proc.pid


def test_abort_mid_download_releases_the_file(running: Running, big_file: Path) -> None:
    """Clients that go away mid-body: the server closes the file and keeps serving."""
    address = running.address(str(big_file))
    requests.get(running.address(), timeout=30)  # warm up
    pid = serving_pid(running.proc)
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", int(running.url.split(":")[2].split("/")[0])))
        path = address.split("/", 3)[3]
        sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.recv(1 << 16)
        sock.close()  # the client goes away with ~1 GiB unsent
    deadline = time.monotonic() + 20
    while str(big_file) in open_files(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert str(big_file) not in open_files(pid)
    assert requests.get(running.address(), timeout=30).status_code == 200


def small_request_delay(url: str, slow: str, big: str) -> float:
    """Seconds a small request takes while a 1 GiB download and a slow look-up run."""
    started = threading.Event()

    def download() -> None:
        with requests.get(big, stream=True, timeout=60) as response:
            started.set()
            for _ in response.iter_content(1 << 16):
                time.sleep(0.001)  # a slow client: the body stays in flight

    def slow_call() -> None:
        requests.get(slow, timeout=60)

    threads = [threading.Thread(target=download, daemon=True)]
    threads[0].start()
    started.wait(30)
    threads.append(threading.Thread(target=slow_call, daemon=True))
    threads[1].start()
    time.sleep(0.3)  # the slow look-up is now under way
    begin = time.monotonic()
    response = requests.get(url, timeout=60)
    delay = time.monotonic() - begin
    assert response.status_code == 200
    threads[1].join(30)
    return delay


@pytest.mark.parametrize("name", ASGI_SERVERS)
def test_event_loop_never_blocks(name: str, tmp_path: Path, big_file: Path) -> None:
    """A small request on the same worker is answered while the big and slow ones run.

    Compared side by side with a variant that does the blocking work on the
    loop: there the small request waits for the slow look-up.
    """
    delays = {}
    for variant, env in (("real", {}), ("blocking", {"DFC_BLOCKING": "1"})):
        cache_dir = tmp_path / variant
        service = dfc.ServiceData(dfc.CacheFile(cache_dir))
        proc = start_server(name, cache_dir, **env)
        try:
            base = proc.url  # type: ignore[attr-defined]
            small = base + service.register(io.BytesIO(b"small"))
            slow = base + service.register(io.BytesIO(b"slow"), file_name="slow-item")
            big = base + service.register(str(big_file))
            delays[variant] = small_request_delay(small, slow, big)
        finally:
            stop_processes([proc])
    assert delays["blocking"] > 0.5  # the comparison is meaningful: blocking shows
    assert delays["real"] < delays["blocking"] / 3, delays


# -- background callbacks ----------------------------------------------------------
def test_background_callback_registers(running: Running) -> None:
    """A real DiskcacheManager job registers into CacheFile; the server serves it."""
    body: Dict[str, Any] = {
        "output": "address.children",
        "outputs": {"id": "address", "property": "children"},
        "inputs": [{"id": "make", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["make.n_clicks"],
        "state": [],
    }
    url = running.url + "/_dash-update-component"
    job_query = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = requests.post(url + job_query, json=body, timeout=30)
        assert response.status_code in (200, 202, 204), response.text
        if response.status_code == 202 or "cacheKey" in response.text:
            data = response.json()
            job_query = f"?cacheKey={data['cacheKey']}&job={data['job']}"
            time.sleep(0.3)
            continue
        if response.status_code == 200 and "response" in response.text:
            address = json.loads(response.text)["response"]["address"]["children"]
            break
        time.sleep(0.3)
    else:
        pytest.fail("the background job did not finish")
    assert address.startswith("/app/cached-data?uid=")
    served = requests.get(running.url[: -len("/app")] + address, timeout=30)
    assert served.status_code == 200
    assert served.content.startswith(b"made in a background job")


# -- remote items (register_request) on each production server ----------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


def test_remote_items(running: Running, upstream: Upstream) -> None:
    """A remote item registered into the server's CacheFile streams the remote through
    the server: whole, ranged (also from a remote that ignores Range), HEAD, JSON errors."""
    register = running.service.register_request
    address = running.url + register(upstream.url + "/files/data.bin", headers={"X-A": "1"})
    whole = requests.get(address, timeout=30)
    assert (whole.status_code, whole.content) == (200, UPSTREAM_BODY)
    assert whole.headers["Content-Disposition"] == "attachment; filename=data.bin"
    for path in ("/files/data.bin", "/norange/data.bin"):
        ranged = requests.get(
            running.url + register(upstream.url + path), headers={"Range": "bytes=5-9"}, timeout=30
        )
        assert (ranged.status_code, ranged.content) == (206, UPSTREAM_BODY[5:10])
    head = requests.head(address, timeout=30)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == str(len(UPSTREAM_BODY))
    missing = requests.get(running.url + register(upstream.url + "/nothing"), timeout=30)
    assert (missing.status_code, missing.json()["error"]) == (
        404,
        "The remote file does not exist.",
    )
    failing = requests.get(running.url + register(upstream.url + "/status/503"), timeout=30)
    assert failing.status_code == 502 and "error" in failing.json()
