"""The upload endpoint's I/O rules on every backend, against real servers.

A client gone mid-``PATCH`` keeps what arrived; a chunked body longer than
the upload stores nothing past it; expired uploads answer 410, then are
swept; an id held by another process gets the items' clear 404.
"""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path
from typing import Any, Tuple
from urllib.parse import urlsplit

import pytest
import requests

import dash_file_cache as dfc
from dash_file_cache._runtime import TOKEN_HEX
from dash_file_cache.services import upload_endpoint
from dash_file_cache.services.uid import new_uid
from tests.apps.app import build_app
from tests.support import BACKENDS, make_cache, serve_in_thread

TUS = {"Tus-Resumable": "1.0.0"}
PATCH = {**TUS, "Content-Type": "application/offset+octet-stream"}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _serve(
    backend: str, tmp_path: Path, policy: dfc.UploadPolicy, kind: str = "file"
) -> Tuple[dfc.ServiceData, Any]:
    cache = make_cache(kind, tmp_path / "cache")
    service = dfc.ServiceData(cache, uploads=policy)
    return service, build_app(service, backend)


def _create(url: str, length: int) -> str:
    created = requests.post(url, headers={**TUS, "Upload-Length": str(length)}, timeout=10)
    assert created.status_code == 201
    return str(requests.compat.urljoin(url, created.headers["Location"]))


def _offset(location: str) -> int:
    return int(requests.head(location, headers=TUS, timeout=10).headers["Upload-Offset"])


def test_a_late_patch_to_a_finished_upload(backend: str, tmp_path: Path) -> None:
    """A finished upload still exists for tus: a racing or repeated PATCH gets 409 at
    another offset, 204 and the address for an empty body at the end, 413 for bytes."""
    service, app = _serve(backend, tmp_path, dfc.UploadPolicy())
    with serve_in_thread(app, backend) as base:
        location = _create(base + service.upload_address, 10)

        def patch(offset: int, data: bytes) -> requests.Response:
            headers = {**PATCH, "Upload-Offset": str(offset)}
            return requests.patch(location, data=data, headers=headers, timeout=10)

        done = patch(0, b"0123456789")
        assert done.status_code == 204
        late = patch(0, b"0123456789")
        assert late.status_code == 409 and "offset 10" in late.json()["error"]
        again = patch(10, b"")
        assert again.status_code == 204 and again.headers["Upload-Offset"] == "10"
        assert again.headers["Cached-Address"] == done.headers["Cached-Address"]
        assert patch(10, b"more").status_code == 413
        item = requests.get(base + done.headers["Cached-Address"], timeout=10)
        assert item.content == b"0123456789"


def test_delete_a_finished_upload_removes_its_item(backend: str, tmp_path: Path) -> None:
    """Termination of a finished upload (it still exists for tus): 204, and the item it
    became is gone (404 by its address); a second DELETE, and a HEAD, then get 404. Without
    ``Tus-Resumable`` it is refused (412) and the item stays."""
    service, app = _serve(backend, tmp_path, dfc.UploadPolicy())
    with serve_in_thread(app, backend) as base:
        location = _create(base + service.upload_address, 4)
        done = requests.patch(
            location, data=b"abcd", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        address = base + done.headers["Cached-Address"]
        assert requests.get(address, timeout=10).content == b"abcd"
        unversioned = requests.delete(location, timeout=10)
        assert unversioned.status_code == 412
        assert requests.get(address, timeout=10).content == b"abcd"
        deleted = requests.delete(location, headers=TUS, timeout=10)
        assert deleted.status_code == 204 and deleted.headers["Tus-Resumable"] == "1.0.0"
        assert requests.get(address, timeout=10).status_code == 404
        assert requests.delete(location, headers=TUS, timeout=10).status_code == 404
        assert requests.head(location, headers=TUS, timeout=10).status_code == 404


def test_client_gone_mid_patch_keeps_what_arrived(backend: str, tmp_path: Path) -> None:
    service, app = _serve(backend, tmp_path, dfc.UploadPolicy())
    with serve_in_thread(app, backend) as base:
        url = base + service.upload_address
        location = _create(url, 100_000)
        parts = urlsplit(location)
        head = (
            f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
            "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            "Content-Length: 100000\r\n\r\n"
        ).encode()
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(head + b"k" * 40_000)
            time.sleep(0.3)
        deadline = time.monotonic() + 10
        while _offset(location) != 40_000 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _offset(location) == 40_000
        rest = requests.patch(
            location, data=b"k" * 60_000, headers={**PATCH, "Upload-Offset": "40000"}, timeout=10
        )
        assert rest.status_code == 204
        with service.read(rest.headers["Cached-Address"]) as stream:
            assert stream.read() == b"k" * 100_000


def test_chunked_body_past_the_length_stores_nothing(backend: str, tmp_path: Path) -> None:
    service, app = _serve(backend, tmp_path, dfc.UploadPolicy())
    with serve_in_thread(app, backend) as base:
        location = _create(base + service.upload_address, 10)
        # A generator makes requests send the body chunked: no declared length.
        answer = requests.patch(
            location,
            data=iter([b"0123", b"456789", b"extra"]),
            headers={**PATCH, "Upload-Offset": "0"},
            timeout=10,
        )
        assert answer.status_code == 413
        assert _offset(location) == 0
        whole = requests.patch(
            location,
            data=iter([b"0123", b"456789"]),
            headers={**PATCH, "Upload-Offset": "0"},
            timeout=10,
        )
        assert whole.status_code == 204
        with service.read(whole.headers["Cached-Address"]) as stream:
            assert stream.read() == b"0123456789"


def test_expired_uploads_answer_410_then_are_swept(backend: str, tmp_path: Path) -> None:
    service, app = _serve(backend, tmp_path, dfc.UploadPolicy(expires=1))
    with serve_in_thread(app, backend) as base:
        url = base + service.upload_address
        created = requests.post(url, headers={**TUS, "Upload-Length": "10"}, timeout=10)
        assert "Upload-Expires" in created.headers
        location = str(requests.compat.urljoin(url, created.headers["Location"]))
        time.sleep(1.2)
        assert requests.head(location, headers=TUS, timeout=10).status_code == 410
        late = requests.patch(
            location, data=b"0123456789", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert late.status_code == 410
        _create(url, 10)  # a creation sweeps expired uploads
        assert requests.head(location, headers=TUS, timeout=10).status_code == 404
        assert location.rsplit("/", 1)[1] not in service.cache.uploads().ids()


def test_an_abandoned_upload_leaves_the_disk_without_a_request_to_it(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any request to the service (an OPTIONS, a download) sweeps, at most once per
    SWEEP_EVERY: an expired upload's bytes and record leave the disk, a live one stays."""
    monkeypatch.setattr(upload_endpoint, "SWEEP_EVERY", 0.3)
    service, app = _serve(backend, tmp_path, dfc.UploadPolicy(expires=0.6))
    store: Any = service.cache.uploads()

    def files_of(location: str) -> Tuple[Path, Path]:
        uid = location.rsplit("/", 1)[1]
        return Path(store.part_path(uid)), Path(store.record_path(uid))

    def started(url: str) -> str:
        location = _create(url, 100_000)
        sent = requests.patch(
            location, data=b"a" * 40_000, headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert sent.status_code == 204
        part, record = files_of(location)
        assert part.stat().st_size == 40_000 and record.exists()
        return location

    with serve_in_thread(app, backend) as base:
        url = base + service.upload_address
        abandoned = started(url)
        time.sleep(0.8)  # expired; no request names it from now on
        assert requests.options(url, timeout=10).status_code == 204
        assert not any(path.exists() for path in files_of(abandoned))
        assert abandoned.rsplit("/", 1)[1] not in store.ids()

        live = started(url)
        time.sleep(0.35)  # a sweep is due, the upload is not expired
        assert requests.options(url, timeout=10).status_code == 204
        assert all(path.exists() for path in files_of(live)) and _offset(live) == 40_000

        time.sleep(0.8)  # now expired too; a download (no upload request) sweeps it
        item = service.register(io.BytesIO(b"served"))
        assert requests.get(base + item, timeout=10).content == b"served"
        assert not any(path.exists() for path in files_of(live))


def test_upload_of_another_process_is_a_clear_404(backend: str, tmp_path: Path) -> None:
    service, app = _serve(backend, tmp_path, dfc.UploadPolicy(), kind="plain")
    with serve_in_thread(app, backend) as base:
        elsewhere = f"{base}{service.upload_address}/{new_uid()}-{'0' * TOKEN_HEX}"
        answer = requests.patch(
            elsewhere, data=b"x", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert answer.status_code == 404
        assert answer.headers["Tus-Resumable"] == "1.0.0"
        assert "process" in answer.json()["error"]
        assert requests.head(elsewhere, headers=TUS, timeout=10).status_code == 404


def test_uploads_off_by_default(backend: str, tmp_path: Path) -> None:
    service = dfc.ServiceData(make_cache("plain"))
    app = build_app(service, backend)
    with serve_in_thread(app, backend) as base:
        answer = requests.post(
            base + "/cached-data/uploads", headers={**TUS, "Upload-Length": "3"}, timeout=10
        )
        assert answer.status_code in (404, 405)


def test_dash_prefix_and_pickling(tmp_path: Path) -> None:
    """Under ``url_base_pathname`` the endpoint and the addresses carry the prefix;
    the service still pickles (background callbacks)."""
    import pickle

    import dash
    from dash import html

    service = dfc.ServiceData(make_cache("file", tmp_path / "cache"), uploads=dfc.UploadPolicy())
    app = dash.Dash(__name__, url_base_pathname="/app/")
    app.layout = html.Div()
    service.serve(app)
    assert service.upload_address == "/app/cached-data/uploads"
    with serve_in_thread(app.server, "flask") as base:
        location = _create(base + service.upload_address, 3)
        assert urlsplit(location).path.startswith("/app/cached-data/uploads/")
        done = requests.patch(
            location, data=b"abc", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert done.headers["Cached-Address"].startswith("/app/cached-data?uid=")
        assert requests.get(base + done.headers["Cached-Address"], timeout=10).content == b"abc"
    copy = pickle.loads(pickle.dumps(service))
    assert copy.upload_address == service.upload_address
    with copy.read(done.headers["Cached-Address"]) as stream:
        assert stream.read() == b"abc"


@pytest.mark.parametrize("dash_backend", ["fastapi", "quart"])
def test_dash_asgi_backends_take_uploads(dash_backend: str, tmp_path: Path) -> None:
    """A Dash app on an ASGI backend, with its own catch-all routes, under a prefix."""
    import dash
    from dash import html

    service = dfc.ServiceData(make_cache("file", tmp_path / "cache"), uploads=dfc.UploadPolicy())
    app = dash.Dash(f"uploads-{dash_backend}", backend=dash_backend, url_base_pathname="/p/")
    app.layout = html.Div()
    service.serve(app)
    with serve_in_thread(app.server, dash_backend) as base:
        location = _create(base + service.upload_address, 4)
        done = requests.patch(
            location, data=b"dash", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert done.status_code == 204
        assert requests.get(base + done.headers["Cached-Address"], timeout=10).content == b"dash"
        assert requests.get(base + "/p/", timeout=10).status_code == 200  # Dash still answers


def test_cache_full_is_507_and_nothing_servable(backend: str, tmp_path: Path) -> None:
    cache = make_cache("file", tmp_path / "cache", size_limit=1000)
    service = dfc.ServiceData(cache, uploads=dfc.UploadPolicy())
    with serve_in_thread(build_app(service, backend), backend) as base:
        location = _create(base + service.upload_address, 2000)
        full = requests.patch(
            location, data=b"z" * 2000, headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert full.status_code == 507
        assert "Cached-Address" not in full.headers
        assert _offset(location) == 0
        with pytest.raises(FileNotFoundError):
            service.read(location.rsplit("/", 1)[1])


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_server_restart_mid_upload_then_resume(
    backend: str, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The state and bytes live in the cache: a new server (and service) resumes the upload."""
    redis_url = ""
    if kind == "redis":
        server = request.getfixturevalue("redis_session")
        server.flush()
        redis_url = server.url
    data = bytes(range(256)) * 40

    def serve_new() -> Tuple[dfc.ServiceData, Any]:
        cache = make_cache(kind, tmp_path / "cache", redis_url=redis_url)
        service = dfc.ServiceData(cache, uploads=dfc.UploadPolicy())
        return service, build_app(service, backend)

    first, app = serve_new()
    with serve_in_thread(app, backend) as base:
        location = _create(base + first.upload_address, len(data))
        half = requests.patch(
            location, data=data[:4000], headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert half.status_code == 204
    path = urlsplit(location).path
    second, app = serve_new()
    with serve_in_thread(app, backend) as base:
        assert _offset(base + path) == 4000
        rest = requests.patch(
            base + path, data=data[4000:], headers={**PATCH, "Upload-Offset": "4000"}, timeout=10
        )
        assert rest.status_code == 204
        assert requests.get(base + rest.headers["Cached-Address"], timeout=10).content == data
        with second.read(rest.headers["Cached-Address"]) as stream:
            assert stream.read() == data


def test_untrusted_type_and_method_override(backend: str, tmp_path: Path) -> None:
    """``filetype`` is a label: active content is sandboxed as any item; the tus
    ``X-HTTP-Method-Override`` lets a POST act as a PATCH; HEAD is never stored."""
    service, app = _serve(backend, tmp_path, dfc.UploadPolicy())
    page = b"<script>alert(document.cookie)</script>"
    with serve_in_thread(app, backend) as base:
        url = base + service.upload_address
        created = requests.post(
            url,
            headers={
                **TUS,
                "Upload-Length": str(len(page)),
                "Upload-Metadata": "filename eC5odG1s,filetype dGV4dC9odG1s",  # x.html, text/html
            },
            timeout=10,
        )
        location = str(requests.compat.urljoin(url, created.headers["Location"]))
        head = requests.head(location, headers=TUS, timeout=10)
        assert head.headers["Cache-Control"] == "no-store"
        assert "filename eC5odG1s" in head.headers["Upload-Metadata"]
        done = requests.post(
            location,
            data=page,
            headers={**PATCH, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"},
            timeout=10,
        )
        assert done.status_code == 204
        item = requests.get(base + done.headers["Cached-Address"], timeout=10)
        assert item.content == page
        assert item.headers["Content-Type"].startswith("text/html")
        assert item.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in item.headers["Content-Security-Policy"]
        assert item.headers["Content-Disposition"] == "inline; filename=x.html"


def test_concatenation_of_a_busy_partial_leaves_nothing(tmp_path: Path) -> None:
    import flask

    service = dfc.ServiceData(make_cache("file", tmp_path / "cache"), uploads=dfc.UploadPolicy())
    app = flask.Flask("concat")
    service.serve(app)
    client = app.test_client()
    created = client.post(
        service.upload_address,
        data=b"part",
        headers={**PATCH, "Upload-Length": "4", "Upload-Concat": "partial"},
    )
    assert created.status_code == 201
    partial_id = created.headers["Location"].rsplit("/", 1)[1]
    final = {**TUS, "Upload-Concat": "final;" + created.headers["Location"]}
    with service.cache.uploads().lock(partial_id):  # another request holds it
        busy = client.post(service.upload_address, headers=final)
    assert busy.status_code == 423
    assert service.cache.uploads().ids() == [partial_id]
    joined = client.post(service.upload_address, headers=final)
    assert joined.status_code == 201
    assert client.get(joined.headers["Cached-Address"]).data == b"part"
    assert service.cache.uploads().ids() == []


def test_read_any_item_registered_written_or_remote(tmp_path: Path) -> None:
    service = dfc.ServiceData(make_cache("file", tmp_path / "cache"))
    with serve_in_thread(build_app(service, "flask"), "flask") as base:
        shared = service.register(b"shared bytes", file_name="s.bin")
        registered = service.register(b"registered bytes", file_name="r.bin", one_time_service=True)
        with service.open(file_name="w.txt") as out:
            out.write("written")
        remote = service.register_request(base + shared, one_time_service=True)
        for _ in range(2):  # streamed from its remote, never claimed
            with service.read(remote) as stream:
                assert stream.read() == b"shared bytes"
        with service.read(out.address) as stream:
            assert stream.read() == b"written"
        uid = urlsplit(registered).query.split("uid=")[1]
        with service.read(uid) as stream:  # reading does not claim a one-time item
            assert stream.read() == b"registered bytes"
        assert requests.get(base + registered, timeout=10).content == b"registered bytes"
        with pytest.raises(FileNotFoundError):
            service.read(registered)  # claimed by the GET
        with pytest.raises(TypeError, match="address_or_uid"):
            service.read(b"abc")  # type: ignore[arg-type]
