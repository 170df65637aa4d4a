"""The HTTP contract of the served address, on every cache and backend.

Status codes, headers, file names, content types, one-time items and JSON
errors, through each backend's test client. Ranges and conditional requests
are in ``test_ranges_conditionals.py``, bad input in ``test_hostile_input.py``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app, make_client
from tests.support.caches import DATA, copies_paths
from tests.support.http import assert_json_error, uid_of


def test_get_whole(client, address: str) -> None:
    response = client.get(address)
    assert response.status_code == 200
    assert response.data == DATA
    headers = response.headers
    assert headers["Content-Length"] == str(len(DATA))
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "private, no-cache"
    assert headers["Content-Disposition"] == "inline; filename=data.bin"
    assert headers["ETag"].startswith('"')
    assert "Last-Modified" in headers


def test_head(client, address: str) -> None:
    response = client.head(address)
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str(len(DATA))
    assert client.get(address).data == DATA  # HEAD did not consume anything


@pytest.mark.parametrize("value", ["true", "1", "True", "yes"])
def test_download_flag(client, address: str, value: str) -> None:
    response = client.get(f"{address}&download={value}")
    assert response.headers["Content-Disposition"] == "attachment; filename=data.bin"
    assert response.data == DATA


@pytest.mark.parametrize("value", ["false", "0", ""])
def test_inline_flag(client, address: str, value: str) -> None:
    response = client.get(f"{address}&download={value}")
    assert response.headers["Content-Disposition"].startswith("inline")


def test_register_download_address(client, service: dfc.ServiceData) -> None:
    address = service.register(b"csv", file_name="t.csv", mime_type="text/csv", download=True)
    response = client.get(address)
    assert response.headers["Content-Disposition"] == "attachment; filename=t.csv"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report 2024.csv", 'attachment; filename="report 2024.csv"'),
        ('quo"te.txt', 'attachment; filename="quo\\"te.txt"'),
        (
            "données été.csv",
            'attachment; filename="donnees ete.csv"; '
            "filename*=UTF-8''donn%C3%A9es%20%C3%A9t%C3%A9.csv",
        ),
        ("报告.pdf", "attachment; filename=.pdf; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf"),
        ("a\r\nSet-Cookie: x=1.txt", 'attachment; filename="a__Set-Cookie: x=1.txt"'),
        ("../../etc/passwd", "attachment; filename=.._.._etc_passwd"),
    ],
)
def test_content_disposition_encoding(client, service, name: str, expected: str) -> None:
    response = client.get(service.register(b"x", file_name=name, download=True))
    assert response.headers["Content-Disposition"] == expected
    assert "Set-Cookie" not in response.headers


def test_file_name_defaults(client, service, data_path: Path) -> None:
    by_path = client.get(service.register(data_path, download=True))
    assert by_path.headers["Content-Disposition"] == "attachment; filename=data.bin"
    generated = client.get(service.register(b"<svg/>", mime_type="image/svg+xml", download=True))
    disposition = generated.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=file-") and disposition.endswith(".svg")
    long = client.get(service.register(b"x", file_name="n" * 400 + ".csv", download=True))
    assert long.headers["Content-Disposition"].endswith("n.csv")
    assert len(long.headers["Content-Disposition"]) < 300


def test_content_type_rules(client, service) -> None:
    text = client.get(service.register(io.StringIO("héllo"), mime_type="text/plain"))
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.data == "héllo".encode()
    explicit = client.get(
        service.register(b"x", content_type="text/csv; charset=latin-1", mime_type="text/csv")
    )
    assert explicit.headers["Content-Type"] == "text/csv; charset=latin-1"
    default = client.get(service.register(b"x"))
    assert default.headers["Content-Type"] == "image/jpeg"


def test_empty_file(client, service, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for source in (io.BytesIO(), empty):
        response = client.get(service.register(source))
        assert response.status_code == 200
        assert response.data == b""
        assert response.headers["Content-Length"] == "0"


def test_register_copies_content(client, service) -> None:
    buffer = io.BytesIO(b"original")
    address = service.register(buffer)
    buffer.seek(0)
    buffer.write(b"CHANGED!")
    buffer.close()
    assert client.get(address).data == b"original"


def test_unknown_uid_is_404(client) -> None:
    assert_json_error(client.get("/cached-data?uid=" + "a" * 32), 404)
    head = client.head("/cached-data?uid=" + "a" * 32)
    assert (head.status_code, head.mimetype, head.data) == (404, "application/json", b"")


def test_removed_path_is_404(client, service, tmp_path: Path) -> None:
    """A path kept by reference that disappears is 404; a copied one is still served."""
    path = tmp_path / "gone.txt"
    path.write_bytes(b"soon gone")
    address = service.register(path)
    os.remove(path)
    if copies_paths(service.cache):
        assert client.get(address).data == b"soon gone"
    else:
        assert_json_error(client.get(address), 404)


@pytest.mark.parametrize(
    "query",
    ["", "?", "?uid=", "?uid=xyz", "?uid=" + "A" * 32, "?uid=" + "a" * 33, "?uid=a&uid=b"],
)
def test_bad_uid_is_400(client, query: str) -> None:
    assert_json_error(client.get("/cached-data" + query), 400)


def test_bad_download_is_400(client, address: str) -> None:
    assert_json_error(client.get(address + "&download=maybe"), 400)
    assert_json_error(client.get(address + "&download=1&download=0"), 400)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(client, address: str, method: str) -> None:
    response = client.open(address, method=method)
    assert_json_error(response, 405)
    assert "GET" in response.headers["Allow"]
    assert client.get(address).data == DATA  # unharmed


def test_unrelated_query_parameters_ignored(client, address: str) -> None:
    assert client.get(address + "&t=12345").data == DATA


def test_one_time_service(client, service) -> None:
    address = service.register(b"once", one_time_service=True)
    assert client.head(address).status_code == 200  # HEAD does not claim
    response = client.get(address)
    assert (response.status_code, response.data) == (200, b"once")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert_json_error(client.get(address), 404)
    assert not service.cache.is_in(uid_of(address))


def test_one_time_path_keeps_user_file(client, service, data_path: Path) -> None:
    address = service.register(data_path, one_time_service=True)
    assert client.get(address).data == DATA
    assert data_path.read_bytes() == DATA  # only the cache entry is removed


def test_eviction_gives_404(new_cache: Callable[..., dfc.CacheAbstract], backend: str) -> None:
    """Past its bound (8 items, or about 6 items' bytes) a cache evicts the oldest: 404."""
    service = dfc.ServiceData(new_cache(size_limit=200_000))  # ~6 items (+ CacheFile's index)
    client = make_client(build_app(service, backend), backend)
    first = service.register(bytes(20_000))
    for _ in range(12):
        last = service.register(bytes(20_000))
    assert_json_error(client.get(first), 404)
    assert client.get(last).status_code == 200


def test_unavailable_cache_is_503(client, service: dfc.ServiceData, monkeypatch) -> None:
    """A cache that cannot be reached (``CacheUnavailableError``) answers 503 JSON, not 500."""
    address = service.register(b"x")

    def unavailable(key: str) -> None:
        raise dfc.CacheUnavailableError("storage is down")

    monkeypatch.setattr(service.cache, "load", unavailable)
    monkeypatch.setattr(service.cache, "is_in", unavailable)
    assert_json_error(client.get(address), 503)


def test_file_name_query_override(client, address: str) -> None:
    """`&file_name=` renames the download (CachedDownload's `file_name` prop uses it)."""
    renamed = client.get(address + "&download=true&file_name=r%C3%A9sum%C3%A9.csv")
    assert renamed.headers["Content-Disposition"] == (
        "attachment; filename=resume.csv; filename*=UTF-8''r%C3%A9sum%C3%A9.csv"
    )
    evil = client.get(address + "&download=1&file_name=..%2F..%2Fx%0D%0ASet-Cookie:%20a")
    expected = 'attachment; filename=".._.._x__Set-Cookie: a"'
    assert evil.headers["Content-Disposition"] == expected
    assert_json_error(client.get(address + "&file_name=a&file_name=b"), 400)
    assert client.get(address + "&file_name=").headers["Content-Disposition"].endswith("data.bin")
    # A name that sanitises to nothing keeps the registered one (not a made-up "file-<uid>").
    assert client.get(address + "&file_name=..").headers["Content-Disposition"].endswith("data.bin")


def test_server_side_open_failure_is_503_not_404(
    new_cache: Callable[..., dfc.CacheAbstract], backend: str, data_path: Path, monkeypatch
) -> None:
    """Running out of descriptors is the server's problem, not an expired address."""
    import builtins
    import errno

    service = dfc.ServiceData(new_cache(by_reference=True))  # serving opens the path
    client = make_client(build_app(service, backend), backend)
    address = service.register(data_path)
    real_open = builtins.open

    def failing_open(file, mode="r", *args, **kwargs):
        if str(file) == str(data_path) and "b" in mode:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", failing_open)
    assert_json_error(client.get(address), 503)
    monkeypatch.undo()
    assert client.get(address).data == DATA


# -- on a real server ------------------------------------------------------------------


def test_errors_on_real_server(live_server: str) -> None:
    missing = requests.get(live_server + "/cached-data?uid=" + "0" * 32, timeout=10)
    assert (missing.status_code, missing.json()["error"] != "") == (404, True)
    assert requests.get(live_server + "/cached-data?uid=../x", timeout=10).status_code == 400
    posted = requests.post(live_server + "/cached-data?uid=" + "0" * 32, timeout=10)
    assert posted.status_code == 405


def test_one_time_not_claimed_by_head_or_416(live_server: str, service: dfc.ServiceData) -> None:
    """HEAD and an unsatisfiable Range send no bytes, so they leave a one-time item in place."""
    address = live_server + service.register(io.BytesIO(DATA), one_time_service=True)
    assert requests.head(address, timeout=10).status_code == 200
    range_416 = requests.get(address, headers={"Range": f"bytes={len(DATA)}-"}, timeout=10)
    assert range_416.status_code == 416
    assert requests.get(address, timeout=10).content == DATA  # the one real download
    assert requests.get(address, timeout=10).status_code == 404
