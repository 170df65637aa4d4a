"""Bad input: never a 5xx, never bytes from outside the cache, headers always well-formed."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

import dash_file_cache as dfc

SECRET = b"TOP-SECRET-CONTENT-OUTSIDE-THE-CACHE"

HOSTILE_UIDS = [
    "../secret.txt",
    "..%2Fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "....//....//secret.txt",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "a" * 31,
    "a" * 33,
    "A" * 32,
    "g" * 32,
    "0" * 31 + "\x00",
    "0" * 32 + "\x00",
    "%00" * 11,
    "0" * 32 + "/../secret.txt",
    "*",
    "%",
    "uid with spaces",
    "ü" * 32,
    "x" * 100_000,
    "' OR 1=1 --",
]


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_bytes(SECRET)
    return path


def assert_safe(response) -> None:
    assert 200 <= response.status_code < 500, response.status_code
    assert SECRET not in response.data
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, (name, value)


@pytest.mark.parametrize("uid", HOSTILE_UIDS)
def test_hostile_uids(client, service, secret: Path, uid: str) -> None:
    service.register(io.BytesIO(b"legit"))
    response = client.get("/cached-data", query_string={"uid": uid})
    assert_safe(response)
    assert response.status_code == 400
    raw = client.get("/cached-data?uid=" + uid.replace(" ", "%20").replace("\x00", "%00"))
    assert_safe(raw)
    assert raw.status_code in (400, 404)


def test_uid_of_cache_internal_file_names(client, service, tmp_path: Path) -> None:
    """Names of the files a CacheFile keeps on disk are not addresses."""
    service.register(io.BytesIO(SECRET))
    if isinstance(service.cache, dfc.CacheFile):
        names = [p.name for p in Path(service.cache.cache_dir).rglob("*") if p.is_file()]
        names += [
            str(p.relative_to(service.cache.cache_dir))
            for p in Path(service.cache.cache_dir).rglob("*")
        ]
    else:
        names = ["cache.db", "00/00/x.val"]
    for name in names:
        response = client.get("/cached-data", query_string={"uid": name})
        assert response.status_code == 400
        assert SECRET not in response.data


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        "bytes=-0",
        "bytes=5-1",
        "bytes=999999999999999999999999999-",
        "bytes=-999999999999999999999999999",
        "bytes=0-1," * 1000 + "0-1",
        "bytes= 0 - 1",
        "bytes=0-1\r\nX: y",
        "bytes=\x00",
        "items=0-1",
        "bytes=" + "9" * 5000,
    ],
)
def test_hostile_ranges(client, service, header: str) -> None:
    address = service.register(io.BytesIO(b"0123456789"))
    response = client.get(address, headers={"Range": header.replace("\r\n", " ")})
    assert_safe(response)
    assert response.status_code in (200, 206, 416)
    if response.status_code == 200:
        assert response.data == b"0123456789"


@pytest.mark.parametrize(
    "header", ['"', "W/", "*", '"x", ' * 500, "Mon, 99 Foo 2000", "\x00", "a" * 10000]
)
def test_hostile_conditionals(client, service, header: str) -> None:
    address = service.register(io.BytesIO(b"data"))
    for name in ("If-None-Match", "If-Modified-Since", "If-Range"):
        response = client.get(address, headers={name: header, "Range": "bytes=0-1"})
        assert_safe(response)


@pytest.mark.parametrize(
    "query",
    [
        "download=%00",
        "download=" + "1" * 10000,
        "uid=%ZZ",
        "uid[]=a",
        "&&&&",
        "uid=" + "0" * 32 + "&download=true&download=true",
    ],
)
def test_hostile_query_strings(client, query: str) -> None:
    response = client.get("/cached-data?" + query)
    assert_safe(response)
    assert response.status_code in (400, 404)


@pytest.mark.parametrize(
    "name",
    [
        "evil\r\nSet-Cookie: session=stolen",
        "a\"; filename*=UTF-8''evil.exe",
        "\x00\x01\x1f\x7f",
        "../../" * 50 + "etc/passwd",
        "名前" * 300,
        "\u202etxt.exe",
        "  ",
        "...",
    ],
)
def test_hostile_file_names(client, service, name: str) -> None:
    address = service.register(io.BytesIO(b"x"), file_name=name, download=True)
    response = client.get(address)
    assert_safe(response)
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename")
    assert "Set-Cookie" not in response.headers
    assert "/" not in disposition.split("filename*")[0]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "PROPFIND", "TRACE"])
def test_hostile_methods(client, service, method: str) -> None:
    address = service.register(io.BytesIO(b"keep"))
    response = client.open(address, method=method)
    assert_safe(response)
    assert response.status_code == 405
    assert client.get(address).data == b"keep"  # the item is unchanged


def test_failed_requests_leave_cache_unchanged(client, service) -> None:
    address = service.register(io.BytesIO(b"stay"), one_time_service=True)
    for bad in ("&download=maybe", "&uid=" + "0" * 32):
        assert client.get(address + bad).status_code == 400
    assert client.get(address, headers={"Range": "bytes=100-"}).status_code == 416
    assert client.head(address).status_code == 200
    assert client.get(address).data == b"stay"  # still there for its one real GET


def test_client_cannot_name_a_path(client, service, tmp_path: Path, secret: Path) -> None:
    """A path item is the app's own choice; the client can never pick another path."""
    own = tmp_path / "own.txt"
    own.write_bytes(b"own")
    address = service.register(own)
    assert client.get(address).data == b"own"
    for attempt in (str(secret), os.fspath(secret.relative_to(tmp_path))):
        response = client.get(address.split("?")[0], query_string={"uid": attempt})
        assert response.status_code == 400 and SECRET not in response.data
