"""Remote items (``ServiceData.register_request``) against real HTTP servers on 127.0.0.1.

The remote is :mod:`tests.apps.upstream`. Each test runs on every backend's
real in-process server (and the cache axis through the test clients): only
the request is stored, and each request to the address is streamed from the
remote with the registered headers.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
from typing import Iterator, Tuple

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app
from tests.apps.upstream import BODY, Upstream
from tests.support.http import assert_json_error
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture
def remote_server(backend: str) -> Iterator[Tuple[str, dfc.ServiceData]]:
    """``(base URL, service)``: a service on a real server of ``backend``."""
    service = dfc.ServiceData(dfc.CachePlain(16))
    service.remote_timeout = (2.0, 1.0)
    with serve_in_thread(build_app(service, backend), backend) as url:
        yield url, service


UNICODE_DISPOSITION = "attachment; filename=resume.pdf; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=20)


# -- registering ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://host/file", "file:///etc/passwd", "/relative", "http://"])
def test_only_http_and_https(url: str) -> None:
    service = dfc.ServiceData(dfc.CachePlain(2))
    with pytest.raises(ValueError, match="url"):
        service.register_request(url)


def test_bad_headers_and_types() -> None:
    service = dfc.ServiceData(dfc.CachePlain(2))
    with pytest.raises(ValueError, match="headers"):
        service.register_request("http://a.test/x", headers={"X-A": "1\r\nX-B: 2"})
    with pytest.raises(TypeError, match="headers"):
        service.register_request("http://a.test/x", headers=[("X-A", "1")])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="url"):
        service.register_request(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="file_name_fallback"):
        service.register_request("http://a.test/x", file_name_fallback=3)  # type: ignore[arg-type]


def test_address_form_and_parse_result() -> None:
    service = dfc.ServiceData(dfc.CachePlain(2))
    address = service.register_request(urllib.parse.urlparse("https://a.test/x.bin"))
    assert address.startswith("/cached-data?uid=") and address.endswith("&download=true")
    assert "&download" not in service.register_request("https://a.test/x", download=False)


def test_every_cache_stores_the_request_not_the_content(client, service, upstream) -> None:
    """On each cache kind and backend (test clients): the item is the description only."""
    address = service.register_request(upstream.url + "/files/data.bin", download=False)
    uid = address.split("uid=")[1]
    info, loader = service.cache.load(uid)
    stored = loader()
    stored = stored.read() if not isinstance(stored, str) else stored.encode()
    assert len(stored) < 1000 and info.get("remote") is True
    response = client.get(address)
    assert response.status_code == 200
    assert response.data == BODY
    assert response.headers["Content-Type"] == "application/x-test"
    assert response.headers["Content-Disposition"] == "inline; filename=data.bin"


# -- serving, on real servers ---------------------------------------------------------


def test_streams_with_headers(remote_server, upstream) -> None:
    url, service = remote_server
    address = service.register_request(upstream.url + "/echo", headers={"X-Token": "s3cret"})
    response = _get(url + address)
    assert response.status_code == 200
    assert response.json()["X-Token"] == "s3cret"
    assert response.headers["Content-Disposition"] == "attachment; filename=echo"


def test_range_passes_through(remote_server, upstream) -> None:
    url, service = remote_server
    address = url + service.register_request(upstream.url + "/files/data.bin")
    part = _get(address, Range="bytes=100-199")
    assert part.status_code == 206
    assert part.content == BODY[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(BODY)}"
    assert part.headers["Content-Length"] == "100"
    suffix = _get(address, Range="bytes=-4")
    assert (suffix.status_code, suffix.content) == (206, b"tail")
    beyond = _get(address, Range=f"bytes={len(BODY) + 10}-")
    assert beyond.status_code == 416
    assert_json_error(beyond, 416)


def test_range_served_when_remote_ignores_it(remote_server, upstream) -> None:
    url, service = remote_server
    address = url + service.register_request(upstream.url + "/norange/data.bin")
    part = _get(address, Range="bytes=1048570-")
    assert part.status_code == 206
    assert part.content == BODY[1048570:]
    assert part.headers["Content-Range"] == f"bytes 1048570-{len(BODY) - 1}/{len(BODY)}"
    whole = _get(address)
    assert (whole.status_code, whole.content) == (200, BODY)
    beyond = _get(address, Range=f"bytes={len(BODY)}-")
    assert beyond.status_code == 416


def test_head_passes_through(remote_server, upstream) -> None:
    url, service = remote_server
    for path in ("/files/data.bin", "/nohead/data.bin"):
        address = url + service.register_request(upstream.url + path)
        head = requests.head(address, timeout=20)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["Content-Length"] == str(len(BODY))
        assert head.headers["Content-Type"] == "application/x-test"


def test_unknown_length(remote_server, upstream) -> None:
    url, service = remote_server
    response = _get(url + service.register_request(upstream.url + "/nolength"))
    assert response.status_code == 200
    assert response.content == BODY


@pytest.mark.parametrize(("code", "expected"), [(404, 404), (410, 404), (403, 502), (500, 502)])
def test_remote_failures_are_json_errors(remote_server, upstream, code: int, expected: int) -> None:
    url, service = remote_server
    response = _get(url + service.register_request(f"{upstream.url}/status/{code}"))
    assert_json_error(response, expected)
    assert b"remote says no" not in response.content


def test_unreachable_is_502(remote_server) -> None:
    url, service = remote_server
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert_json_error(_get(url + service.register_request(f"http://127.0.0.1:{port}/x")), 502)


def test_slow_remote_is_504(remote_server, upstream) -> None:
    url, service = remote_server
    upstream.slow_seconds = 5.0
    started = time.monotonic()
    response = _get(url + service.register_request(upstream.url + "/slow"))
    assert_json_error(response, 504)
    assert time.monotonic() - started < upstream.slow_seconds  # the read timeout cut it


def test_stalled_body_ends_short(remote_server, upstream) -> None:
    """A remote that stops mid-body: the client gets a short body, never a hang."""
    url, service = remote_server
    upstream.slow_seconds = 5.0
    address = url + service.register_request(upstream.url + "/stall")
    received = b""
    with requests.get(address, stream=True, timeout=20) as response:
        assert response.status_code == 200
        try:
            for piece in response.iter_content(65536):
                received += piece
        except requests.exceptions.RequestException:
            pass  # the server cut the connection: the body is visibly incomplete
    assert received == BODY[: len(received)]
    assert len(received) < len(BODY)


@pytest.mark.parametrize(
    ("path", "fallback", "expected"),
    [
        ("/files/data.bin?name=résumé.pdf", "", UNICODE_DISPOSITION),
        ("/files/data.bin", "fb.bin", "attachment; filename=data.bin"),
        ("/echo/", "fb.json", "attachment; filename=fb.json"),
    ],
)  # fmt: skip
def test_file_name(remote_server, upstream, path: str, fallback: str, expected: str) -> None:
    url, service = remote_server
    address = service.register_request(upstream.url + path, file_name_fallback=fallback)
    head = requests.head(url + address, timeout=20)
    assert head.headers["Content-Disposition"] == expected
    renamed = requests.head(url + address + "&file_name=mine.bin", timeout=20)
    assert renamed.headers["Content-Disposition"] == "attachment; filename=mine.bin"


def test_one_time_remote_is_claimed_once(remote_server, upstream) -> None:
    url, service = remote_server
    address = url + service.register_request(
        upstream.url + "/files/data.bin", one_time_service=True
    )
    assert requests.head(address, timeout=20).status_code == 200  # HEAD does not claim
    first = _get(address)
    assert (first.status_code, first.content) == (200, BODY)
    assert first.headers["Cache-Control"] == "private, no-store"
    assert_json_error(_get(address), 404)


def test_failed_remote_does_not_claim(remote_server, upstream) -> None:
    url, service = remote_server
    address = url + service.register_request(upstream.url + "/status/500", one_time_service=True)
    assert_json_error(_get(address), 502)
    assert_json_error(_get(address), 502)  # still there: the remote may come back


def test_streamed_and_aborted_client_closes_upstream(remote_server, upstream) -> None:
    """The body is relayed as it comes (never whole in memory), and a client that goes
    away closes the upstream connection (the remote's writes fail)."""
    url, service = remote_server
    upstream.endless_closed.clear()
    address = url + service.register_request(upstream.url + "/endless")
    with requests.get(address, stream=True, timeout=20) as response:
        assert response.status_code == 200
        first = next(response.iter_content(65536))
        assert first
        assert upstream.endless_sent < 512 << 20  # relayed long before the remote ends
    assert upstream.endless_closed.wait(30)


# -- every cache kind on every backend's real server --------------------------------------


def test_every_cache_on_a_real_server(service, live_server, upstream) -> None:
    """Each cache kind (plain, queue, file, redis) on each backend's real server: the
    remote streams whole and ranged (also when the remote ignores ``Range``), a failing
    remote is a JSON 502, a one-time item is claimed once, and a client that goes away
    closes the upstream connection."""
    register = service.register_request
    whole = _get(live_server + register(upstream.url + "/files/data.bin"))
    assert (whole.status_code, whole.content) == (200, BODY)
    for path in ("/files/data.bin", "/norange/data.bin"):
        part = _get(live_server + register(upstream.url + path), Range="bytes=10-19")
        assert (part.status_code, part.content) == (206, BODY[10:20])
    assert_json_error(_get(live_server + register(upstream.url + "/status/500")), 502)

    once = live_server + register(upstream.url + "/files/data.bin", one_time_service=True)
    assert requests.head(once, timeout=20).status_code == 200  # HEAD does not claim
    assert _get(once).content == BODY
    assert_json_error(_get(once), 404)

    upstream.endless_closed.clear()
    with requests.get(
        live_server + register(upstream.url + "/endless"), stream=True, timeout=20
    ) as r:
        assert r.status_code == 200
        assert next(r.iter_content(65536))
    assert upstream.endless_closed.wait(30)
