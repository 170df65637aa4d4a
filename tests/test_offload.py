"""``ServiceData(offload=...)``: which answers hand the file to the front server, and how.

In-process, on every backend: the decision (header-only answer naming the
file, or bytes from Python) and the argument checks. The answers through a
real nginx are in ``test_nginx_deploy.py``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, cast

import pytest

import dash_file_cache as dfc
from dash_file_cache.services.offload import make_offload
from tests.apps.app import build_app, make_client
from tests.support.caches import PAYLOAD
from tests.support.http import uid_of
from tests.support.servers import BACKENDS


@pytest.fixture()
def dirs(tmp_path: Path) -> Dict[str, Path]:
    result = {name: tmp_path / name for name in ("cache", "files", "outside")}
    for path in result.values():
        path.mkdir()
    return result


def _service(dirs: Dict[str, Path], mode: str) -> dfc.ServiceData:
    if mode == "x-sendfile":
        locations = {str(dirs["cache"]): "/front/cache", str(dirs["files"]): "/front/files"}
    else:
        locations = {str(dirs["cache"]): "/_dfc/cache/", str(dirs["files"]): "/_dfc/files/"}
    cache = dfc.CacheFile(cache_dir=str(dirs["cache"]))
    return dfc.ServiceData(cache, offload=mode, offload_locations=locations)


def _get(client: Any, address: str, headers: Optional[Dict[str, str]] = None, method: str = "GET"):
    return client.open(address, method=method, headers=headers or {})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["x-accel-redirect", "x-sendfile"])
def test_file_backed_get_names_the_file(dirs: Dict[str, Path], backend: str, mode: str) -> None:
    service = _service(dirs, mode)
    client = make_client(build_app(service, backend), backend)
    (dirs["files"] / "a b%é?.bin").write_bytes(b"x" * 1000)
    path_item = service.register(str(dirs["files"] / "a b%é?.bin"), file_name="r.bin")
    content = service.register(PAYLOAD)
    header = "X-Accel-Redirect" if mode == "x-accel-redirect" else "X-Sendfile"
    response = _get(client, path_item)
    assert response.status_code == 200
    if mode == "x-accel-redirect":
        assert response.headers[header] == "/_dfc/files/a%20b%25%C3%A9%3F.bin"
        assert response.headers["Content-Length"] == "0" and response.data == b""
    else:
        # Only a plain ASCII path is named in X-Sendfile: this one streams.
        assert header not in response.headers and response.data == b"x" * 1000
        (dirs["files"] / "plain name.bin").write_bytes(b"y")
        plain = _get(client, service.register(str(dirs["files"] / "plain name.bin")))
        assert plain.headers[header] == "/front/files/plain name.bin" and plain.data == b""
    assert response.headers["Content-Disposition"] == "inline; filename=r.bin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "ETag" in response.headers
    response = _get(client, content, {"Range": "bytes=5-9"})
    assert response.status_code == 206 and response.data == b""
    target = response.headers[header]
    prefix = "/_dfc/cache/" if mode == "x-accel-redirect" else "/front/cache/"
    relative = target[len(prefix) :]
    assert target.startswith(prefix) and ".." not in relative
    assert (dirs["cache"] / relative).read_bytes() == PAYLOAD
    assert response.headers["Accept-Ranges"] == "bytes" and "Content-Range" not in response.headers


@pytest.mark.parametrize(
    "headers, method",
    [
        ({"If-None-Match": '"x"'}, "GET"),
        ({"If-Match": "*"}, "GET"),
        ({"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"}, "GET"),
        ({"If-Unmodified-Since": "Sun, 06 Nov 2094 08:49:37 GMT"}, "GET"),
        ({"If-Range": '"x"', "Range": "bytes=0-1"}, "GET"),
        ({"Range": "bytes=0-1,4-5"}, "GET"),
        ({"Range": "bytes=9-1"}, "GET"),
        ({"Range": "lines=1-2"}, "GET"),
        ({}, "HEAD"),
    ],
)
def test_app_answers_what_nginx_would_decide_differently(
    dirs: Dict[str, Path], headers: Dict[str, str], method: str
) -> None:
    """Conditionals, several or bad ranges and HEAD: the app answers, with the bytes."""
    service = _service(dirs, "x-accel-redirect")
    client = make_client(build_app(service))
    address = service.register(PAYLOAD)
    response = _get(client, address, headers, method)
    assert "X-Accel-Redirect" not in response.headers
    if method == "GET" and response.status_code == 200:
        assert response.data == PAYLOAD


def test_what_is_not_under_a_mapped_directory_streams(dirs: Dict[str, Path]) -> None:
    service = _service(dirs, "x-accel-redirect")
    client = make_client(build_app(service))
    (dirs["outside"] / "f.bin").write_bytes(b"outside")
    os.symlink(dirs["outside"] / "f.bin", dirs["files"] / "link.bin")
    for path in (dirs["outside"] / "f.bin", dirs["files"] / "link.bin"):
        response = _get(client, service.register(str(path)))
        assert "X-Accel-Redirect" not in response.headers and response.data == b"outside"


def test_one_time_content_streams_and_one_time_path_offloads_once(dirs: Dict[str, Path]) -> None:
    """The claim removes cache content's file: it streams from the open descriptor."""
    service = _service(dirs, "x-accel-redirect")
    client = make_client(build_app(service))
    content = service.register(PAYLOAD, one_time_service=True)
    response = _get(client, content)
    assert "X-Accel-Redirect" not in response.headers and response.data == PAYLOAD
    assert _get(client, content).status_code == 404
    (dirs["files"] / "once.bin").write_bytes(b"once")
    path_item = service.register(str(dirs["files"] / "once.bin"), one_time_service=True)
    assert _get(client, path_item, method="HEAD").status_code == 200  # HEAD does not claim
    response = _get(client, path_item)
    assert response.headers["X-Accel-Redirect"] == "/_dfc/files/once.bin"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert _get(client, path_item).status_code == 404
    assert not service.cache.is_in(uid_of(path_item))


def test_in_memory_items_and_no_offload_stream(dirs: Dict[str, Path]) -> None:
    memory = dfc.ServiceData(
        dfc.CachePlain(4), offload="x-accel-redirect", offload_locations={"/": "/_dfc/all/"}
    )
    client = make_client(build_app(memory))
    response = _get(client, memory.register(PAYLOAD))
    assert "X-Accel-Redirect" not in response.headers and response.data == PAYLOAD
    plain = dfc.ServiceData(dfc.CacheFile(cache_dir=str(dirs["cache"])))
    response = _get(make_client(build_app(plain)), plain.register(PAYLOAD))
    assert "X-Accel-Redirect" not in response.headers and response.data == PAYLOAD
    assert plain.offload is None


def test_outside_a_request_streams(dirs: Dict[str, Path]) -> None:
    service = _service(dirs, "x-accel-redirect")
    build_app(service)
    response = service.stream(uid_of(service.register(PAYLOAD)))
    assert "X-Accel-Redirect" not in response.headers
    # werkzeug types a body as str or bytes chunks; the service's are bytes
    assert b"".join(cast(Iterable[bytes], response.response)) == PAYLOAD
    response.close()


def test_offload_pickles(dirs: Dict[str, Path]) -> None:
    service = _service(dirs, "x-sendfile")
    assert pickle.loads(pickle.dumps(service)).offload == service.offload


@pytest.mark.parametrize(
    "mode, locations, exc, words",
    [
        ("nginx", {"/a": "/b/"}, ValueError, "offload must be"),
        (1, {"/a": "/b/"}, TypeError, "offload must be"),
        ("x-accel-redirect", None, TypeError, "offload_locations"),
        ("x-accel-redirect", {}, ValueError, "offload_locations"),
        ("x-accel-redirect", {"rel": "/b/"}, ValueError, "not absolute"),
        ("x-accel-redirect", {"/a": "b/"}, ValueError, "internal nginx location"),
        ("x-accel-redirect", {"/a": "/b"}, ValueError, "internal nginx location"),
        ("x-accel-redirect", {"/a": "/b/?x=1/"}, ValueError, "'?'"),
        ("x-accel-redirect", {"/a": "/b/\n/"}, ValueError, "control"),
        ("x-sendfile", {"/a": "relative"}, ValueError, "absolute path"),
        ("x-sendfile", {"/a": 3}, TypeError, "offload_locations"),
        (None, {"/a": "/b/"}, ValueError, "offload is None"),
    ],
)
def test_arguments_are_checked(mode: Any, locations: Any, exc: type, words: str) -> None:
    with pytest.raises(exc, match=words.replace("?", r"\?")):
        dfc.ServiceData(dfc.CachePlain(2), offload=mode, offload_locations=locations)
    assert make_offload(None, None) is None


def test_offload_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        dfc.ServiceData(dfc.CachePlain(2), "/x", 1, None, "x-sendfile")  # type: ignore[misc]
