"""Uploads through the shipped nginx site (``docs/deploy/``) to real gunicorn ``-w 2``.

nginx runs the site config templated only for ports and paths; the app takes
uploads (``tests.apps.uploads_app``) into a ``CacheFile`` and serves items with
``offload="x-accel-redirect"``. tuspy sends a 20 MiB file in 4 MiB ``PATCH``es
through nginx: the item is byte-identical at its address (sent by nginx
itself: the answer lacks the app's ``X-Worker-Pid``; ranges too) and through
``service.read``. A ``PATCH``
announcing more than the location's ``client_max_body_size`` gets nginx's
413 and leaves the upload as it was.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterator, Tuple

import pytest
import requests

import dash_file_cache as dfc
from tests.support.http import open_patch
from tests.support.nginx import DEPLOY, NGINX, Nginx, nginx_site, running_nginx
from tests.support.processes import free_port
from tests.support.servers import Server, app_env, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed"),
]
tusclient = pytest.importorskip("tusclient.client", reason="tuspy is not installed")

TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1 << 20
UPLOADS = "/cached-data/uploads"


def body_limit() -> int:
    """The shipped upload location's ``client_max_body_size``, in bytes."""
    site = (DEPLOY / "nginx-dash-file-cache.conf").read_text()
    location = site.split(f"location {UPLOADS} ", 1)[1].split("}", 1)[0]
    found = re.search(r"client_max_body_size (\d+)m;", location)
    assert found, "the upload location has no client_max_body_size in MiB"
    return int(found.group(1)) * MIB


Stack = Tuple[Nginx, Server, Path]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("nginx-uploads")
    cache_dir, files = root / "cache", root / "files"
    files.mkdir()
    locations = {str(cache_dir): "/_dfc/cache/", str(files): "/_dfc/files/"}
    env = app_env(
        "file", "flask", cache_dir, offload="x-accel-redirect", offload_locations=locations
    )
    with running_server(
        "tests.apps.uploads_app:create_app()", workers=2, env=env, log_dir=root
    ) as app:
        port = free_port()
        site = nginx_site(app.url.split("//", 1)[1], port, cache_dir, files)
        with running_nginx(site, port, workers=2) as nginx:
            yield nginx, app, cache_dir


def test_tuspy_through_nginx_is_byte_identical(stack: Stack, tmp_path: Path) -> None:
    nginx, _, cache_dir = stack
    assert body_limit() > 4 * MIB
    data = (hashlib.sha256(b"nginx").digest() * (20 * MIB // 32))[: 20 * MIB]
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    client = tusclient.TusClient(nginx.url + UPLOADS)
    uploader = client.uploader(
        file_path=str(path), chunk_size=4 * MIB, metadata={"filename": "big.bin"}
    )
    uploader.upload()
    assert str(uploader.url).startswith(nginx.url + UPLOADS + "/")
    head = requests.head(str(uploader.url), headers=TUS, timeout=10)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(len(data))
    address = head.headers["Cached-Address"]
    got = requests.get(nginx.url + address, timeout=60)
    assert got.status_code == 200 and got.content == data
    assert "X-Worker-Pid" not in got.headers  # nginx sent the bytes (offload)
    part = requests.get(nginx.url + address, headers={"Range": "bytes=-100"}, timeout=10)
    assert part.status_code == 206 and part.content == data[-100:]
    service = dfc.ServiceData(dfc.CacheFile(cache_dir))
    with service.read(address) as stream:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(data).digest()


def test_patch_over_the_body_limit_gets_413(stack: Stack) -> None:
    nginx, _, _ = stack
    data = b"0123456789" * 1000
    created = requests.post(
        nginx.url + UPLOADS, headers={**TUS, "Upload-Length": str(len(data))}, timeout=10
    )
    assert created.status_code == 201
    url = requests.compat.urljoin(nginx.url + UPLOADS, created.headers["Location"])
    first = requests.patch(
        url,
        data=data[:4000],
        headers={**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
        timeout=10,
    )
    assert first.status_code == 204
    status, server = _oversized_patch(url, 4000, body_limit() + 1)
    assert status == 413 and server.startswith("nginx")
    assert requests.head(url, headers=TUS, timeout=10).headers["Upload-Offset"] == "4000"
    last = requests.patch(
        url,
        data=data[4000:],
        headers={**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "4000"},
        timeout=10,
    )
    assert last.status_code == 204
    assert requests.get(nginx.url + last.headers["Cached-Address"], timeout=10).content == data


def _oversized_patch(url: str, offset: int, length: int) -> Tuple[int, str]:
    """Announce a ``length``-byte PATCH and send none of it: nginx answers from the
    headers. The status and the ``Server`` header of the answer."""
    with open_patch(url, offset, length) as sock:
        answer = b""
        while b"\r\n\r\n" not in answer:
            block = sock.recv(65536)
            if not block:
                break
            answer += block
    lines = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), fields.get("Server", "")
