"""CacheS3 with ``redirect=True``: passive items answered with a 307 to a presigned URL.

On the real radosgw. Two services share one bucket: one redirects, the other
streams (``redirect=False``), so every redirected answer is compared with
the app's own streamed answer for the same item: following the ``Location``
(with ``requests``, as a browser would) gives the same bytes, type and
``Content-Disposition``, ranges included. What the app keeps answering
itself is checked too: types that can run script (with the sandbox CSP),
``HEAD``, 304, one-time items and CORS requests. Which request is redirected
is decided by ``services/redirect.py``, tested as a table in ``test_redirect.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional

import pytest
import requests

import dash_file_cache as dfc
from dash_file_cache.services import security
from tests.apps.app import build_app, make_client
from tests.support.servers import BACKENDS, serve_in_thread
from tests.test_cache_s3 import bucket, credentials, make_cache, s3

if TYPE_CHECKING:
    from tests.support.radosgw import RadosGateway

pytest_plugins = ("tests.support.radosgw",)
pytestmark = pytest.mark.xdist_group("radosgw")

__all__ = ["bucket", "credentials", "s3"]

SANDBOX = security.DEFAULT_ACTIVE_CONTENT_POLICY
DATA = os.urandom(300_000)
#: ``(file name, type)`` of passive items: redirected.
PASSIVE = [
    ("picture.png", "image/png"),
    ("table.csv", "text/csv"),
    ("clip.mp4", "video/mp4"),
    ("data.bin", "application/octet-stream"),
    ("résumé ✓ 2024.csv", "text/csv; charset=utf-8"),
]
#: Types that can run script: always streamed by the app, with the sandbox CSP.
ACTIVE = [
    ("drawing.svg", "image/svg+xml"),
    ("page.html", "text/html; charset=utf-8"),
    ("feed.xml", "application/xml"),
    ("mystery.thing", "application/x-unknown-thing"),
]


@pytest.fixture
def redirecting(radosgw: RadosGateway, bucket: str, credentials: None) -> dfc.ServiceData:
    return dfc.ServiceData(make_cache(radosgw, bucket, redirect=True))


@pytest.fixture
def streaming(radosgw: RadosGateway, bucket: str, credentials: None) -> dfc.ServiceData:
    """A service on the same bucket that streams everything: the answers to compare with."""
    return dfc.ServiceData(make_cache(radosgw, bucket, redirect=False))


def client_of(service: dfc.ServiceData, backend: str = "flask") -> Any:
    return make_client(build_app(service, backend), backend)


def get(client: Any, address: str, headers: Optional[Dict[str, str]] = None) -> Any:
    return client.get(address, headers=headers or {})


def location_of(answer: Any, radosgw: RadosGateway) -> str:
    """The presigned URL of a redirect, after checking the redirect's own headers."""
    assert answer.status_code == 307, (answer.status_code, answer.data[:200])
    assert answer.data == b""
    headers = answer.headers
    assert headers["Content-Length"] == "0"
    assert "no-store" in headers["Cache-Control"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Content-Security-Policy" not in headers and "ETag" not in headers
    location = str(headers["Location"])
    assert location.startswith(radosgw.endpoint_url + "/")
    return location


# -- redirected: the store gives what the app would have streamed -------------------------------
@pytest.mark.parametrize(("file_name", "content_type"), PASSIVE, ids=[p[1] for p in PASSIVE])
@pytest.mark.parametrize("download", [False, True], ids=["inline", "download"])
def test_passive_item_is_redirected(
    radosgw: RadosGateway,
    redirecting: dfc.ServiceData,
    streaming: dfc.ServiceData,
    file_name: str,
    content_type: str,
    download: bool,
) -> None:
    address = redirecting.register(DATA, file_name=file_name, mime_type=content_type)
    if download:
        address += "&download=true"
    streamed = get(client_of(streaming), address)
    assert streamed.status_code == 200 and streamed.data == DATA
    location = location_of(get(client_of(redirecting), address), radosgw)
    fetched = requests.get(location, timeout=30, allow_redirects=False)
    assert fetched.status_code == 200
    assert fetched.content == DATA
    for name in ("Content-Type", "Content-Disposition", "Content-Length"):
        assert fetched.headers[name] == streamed.headers[name], name
    kind = "attachment" if download else "inline"
    assert fetched.headers["Content-Disposition"].startswith(kind)
    if not file_name.isascii():
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9" in fetched.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=0-0", 0, 1), ("bytes=1000-199999", 1000, 200000), ("bytes=-10", len(DATA) - 10, None)],
)
def test_range_is_the_stores(
    radosgw: RadosGateway,
    redirecting: dfc.ServiceData,
    streaming: dfc.ServiceData,
    header: str,
    start: int,
    stop: Optional[int],
) -> None:
    """A ranged GET is redirected; the store answers the range sent to it as the app would."""
    address = redirecting.register(DATA, file_name="clip.mp4", mime_type="video/mp4")
    streamed = get(client_of(streaming), address, {"Range": header})
    assert streamed.status_code == 206
    location = location_of(get(client_of(redirecting), address, {"Range": header}), radosgw)
    fetched = requests.get(location, headers={"Range": header}, timeout=30)
    assert fetched.status_code == 206
    assert fetched.content == DATA[start:stop] == streamed.data
    assert fetched.headers["Content-Range"] == streamed.headers["Content-Range"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_redirect_on_every_backend(
    radosgw: RadosGateway, redirecting: dfc.ServiceData, backend: str
) -> None:
    address = redirecting.register(DATA, file_name="picture.png", mime_type="image/png")
    client = client_of(redirecting, backend)
    navigation = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,*/*;q=0.8"}
    for headers in ({}, navigation, {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}):
        location = location_of(get(client, address, headers), radosgw)
        fetched = requests.get(location, timeout=30)
        assert (fetched.status_code, fetched.content) == (200, DATA)
        assert fetched.headers["Content-Type"] == "image/png"
    ranged = location_of(get(client, address, {"Range": "bytes=5-9"}), radosgw)
    assert requests.get(ranged, headers={"Range": "bytes=5-9"}, timeout=30).content == DATA[5:10]
    assert get(client, address, {"Sec-Fetch-Mode": "cors"}).data == DATA  # streamed


def test_url_expires(radosgw: RadosGateway, bucket: str, credentials: None) -> None:
    service = dfc.ServiceData(make_cache(radosgw, bucket, redirect=True, url_expires=2))
    address = service.register(DATA, file_name="data.bin")
    location = location_of(get(client_of(service), address), radosgw)
    assert requests.get(location, timeout=30).content == DATA
    time.sleep(3.2)
    late = requests.get(location, timeout=30)
    assert late.status_code == 403
    # The app's address still works: a new request gets a new URL.
    fresh = location_of(get(client_of(service), address), radosgw)
    assert fresh != location
    assert requests.get(fresh, timeout=30).content == DATA


def test_requests_follow_the_redirect(redirecting: dfc.ServiceData) -> None:
    """A client that follows redirects (``requests`` on a real server) just gets the file."""
    address = redirecting.register(DATA, file_name="table.csv", mime_type="text/csv")
    with serve_in_thread(build_app(redirecting, "flask"), "flask") as url:
        answer = requests.get(url + address + "&download=1", timeout=30)
    assert answer.status_code == 200 and answer.content == DATA
    assert [r.status_code for r in answer.history] == [307]
    assert answer.headers["Content-Disposition"] == "attachment; filename=table.csv"


# -- kept by the app ------------------------------------------------------------------------------
@pytest.mark.parametrize(("file_name", "content_type"), ACTIVE, ids=[a[1] for a in ACTIVE])
def test_types_that_can_run_script_are_streamed(
    redirecting: dfc.ServiceData, file_name: str, content_type: str
) -> None:
    address = redirecting.register(DATA, file_name=file_name, mime_type=content_type)
    navigation = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,*/*;q=0.8"}
    for headers in ({}, navigation, {"Range": "bytes=0-9"}):
        answer = get(client_of(redirecting), address, headers)
        assert answer.status_code in (200, 206) and "Location" not in answer.headers
        assert answer.headers["Content-Security-Policy"] == SANDBOX
        assert answer.data == (DATA[:10] if answer.status_code == 206 else DATA)


def test_head_and_304_are_the_apps(redirecting: dfc.ServiceData) -> None:
    address = redirecting.register(DATA, file_name="picture.png", mime_type="image/png")
    client = client_of(redirecting)
    head = client.head(address)
    assert head.status_code == 200 and "Location" not in head.headers
    assert head.headers["Content-Length"] == str(len(DATA))
    assert head.headers["Content-Type"] == "image/png"
    not_modified = get(client, address, {"If-None-Match": head.headers["ETag"]})
    assert not_modified.status_code == 304 and "Location" not in not_modified.headers
    changed = get(client, address, {"If-None-Match": '"other"'})
    assert changed.status_code == 200 and changed.data == DATA  # our validators: streamed


def test_one_time_item_is_streamed_once(redirecting: dfc.ServiceData) -> None:
    address = redirecting.register(
        DATA, file_name="picture.png", mime_type="image/png", one_time_service=True
    )
    client = client_of(redirecting)
    first = get(client, address)
    assert (first.status_code, first.data) == (200, DATA)
    assert "Location" not in first.headers
    assert get(client, address).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
        {"Sec-Fetch-Mode": "same-origin", "Sec-Fetch-Dest": "empty"},
        {"Origin": "http://elsewhere.example"},
    ],
)
def test_cors_requests_are_streamed(redirecting: dfc.ServiceData, headers: Dict[str, str]) -> None:
    address = redirecting.register(DATA, file_name="picture.png", mime_type="image/png")
    answer = get(client_of(redirecting), address, headers)
    assert (answer.status_code, answer.data) == (200, DATA)
    assert "Location" not in answer.headers


def test_offload_never_applies_to_s3_items(
    radosgw: RadosGateway, bucket: str, credentials: None, tmp_path: Path
) -> None:
    """S3 content is no file: with an offload mode too, items redirect or stream from Python."""
    locations = {str(tmp_path): "/_dfc/"}
    for redirect in (True, False):
        service = dfc.ServiceData(
            make_cache(radosgw, bucket, redirect=redirect),
            offload="x-accel-redirect",
            offload_locations=locations,
        )
        address = service.register(DATA, file_name="data.bin")
        answer = get(client_of(service), address)
        assert "X-Accel-Redirect" not in answer.headers
        if redirect:
            location_of(answer, radosgw)
        else:
            assert (answer.status_code, answer.data) == (200, DATA)


def test_service_read_never_redirects(redirecting: dfc.ServiceData) -> None:
    address = redirecting.register(DATA, file_name="picture.png", mime_type="image/png")
    with redirecting.read(address) as stream:
        assert stream.read() == DATA


def test_cors_service_redirects_navigations_only(
    radosgw: RadosGateway, bucket: str, credentials: None
) -> None:
    """With CORS on, a navigation still redirects (the answer varies by ``Origin``); a
    cross-origin read from an allowed origin is streamed with its CORS headers."""
    service = dfc.ServiceData(
        make_cache(radosgw, bucket, redirect=True), allowed_cross_origin="http://app.example"
    )
    address = service.register(DATA, file_name="picture.png", mime_type="image/png")
    client = client_of(service)
    navigation = get(client, address, {"Sec-Fetch-Mode": "navigate"})
    location_of(navigation, radosgw)
    assert "Origin" in navigation.headers["Vary"]
    read = get(client, address, {"Sec-Fetch-Mode": "cors", "Origin": "http://app.example"})
    assert (read.status_code, read.data) == (200, DATA)
    assert read.headers["Access-Control-Allow-Origin"] == "http://app.example"
