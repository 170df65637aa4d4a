"""The tus upload endpoint against real servers: ``tuspy`` and raw requests.

Every backend (werkzeug for Flask, uvicorn for FastAPI and Quart, in this
process) with CachePlain, CacheQueue (fed by a manager's queue, as with Dash's
background callbacks), CacheFile and CacheRedis (when a redis-server is
installed): an upload becomes an item, byte-identical at its
``Cached-Address`` (``Range`` too) and through ``service.read``.
"""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple, cast

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app
from tests.support import BACKENDS, close_cache, make_cache, serve_in_thread

tusclient = pytest.importorskip("tusclient.client", reason="tuspy is not installed")

TUS = {"Tus-Resumable": "1.0.0"}
PATCH = {**TUS, "Content-Type": "application/offset+octet-stream"}
UPLOAD_CACHES = ["plain", "queue", "file", "redis"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def manager() -> Iterator[Any]:
    """A queue manager process, as a CacheQueue's children use (``multiprocess``, as Dash)."""
    multiprocess = pytest.importorskip("multiprocess")
    with multiprocess.Manager() as running:
        yield running


@pytest.fixture(params=UPLOAD_CACHES)
def upload_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dfc.CacheAbstract]:
    kind = str(request.param)
    redis_url = ""
    queue_obj = None
    if kind == "redis":
        server = request.getfixturevalue("redis_session")
        server.flush()
        redis_url = server.url
    if kind == "queue":
        queue_obj = request.getfixturevalue("manager").Queue()
    cache = make_cache(kind, tmp_path / "cache", items=64, redis_url=redis_url, queue_obj=queue_obj)
    yield cache
    close_cache(cache)


Served = Tuple[dfc.ServiceData, str]


@pytest.fixture
def served(backend: str, upload_cache: dfc.CacheAbstract) -> Iterator[Served]:
    """A service taking uploads, on a real server: ``(service, base URL)``."""
    service = dfc.ServiceData(upload_cache, uploads=dfc.UploadPolicy(max_size=1 << 24))
    app = build_app(service, backend)
    with serve_in_thread(app, backend) as base:
        yield service, base


def payload(size: int, seed: int = 1) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]


def creation_url(service: dfc.ServiceData, base: str) -> str:
    return base + service.upload_address


def check_item(service: dfc.ServiceData, base: str, address: str, data: bytes) -> None:
    """The item at ``address`` holds ``data``: whole, as a range, and through ``read``."""
    whole = requests.get(base + address, timeout=10)
    assert whole.status_code == 200 and whole.content == data
    if len(data) > 10:
        part = requests.get(base + address, headers={"Range": "bytes=3-9"}, timeout=10)
        assert part.status_code == 206 and part.content == data[3:10]
    with service.read(address) as stream:
        assert stream.read() == data


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(url: str, length: int, **extra: str) -> requests.Response:
    headers: Dict[str, str] = {**TUS, "Upload-Length": str(length), **extra}
    return requests.post(url, headers=headers, timeout=10)


# -- tuspy ------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [1 << 30, 100_000])
def test_tuspy_upload_becomes_an_item(served: Served, chunk_size: int) -> None:
    service, base = served
    data = payload(300_001)
    client = tusclient.TusClient(creation_url(service, base))
    uploader = client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=chunk_size,
        metadata={"filename": "report.csv", "filetype": "text/csv"},
        upload_checksum=True,
    )
    uploader.upload()
    head = requests.head(uploader.url, headers=TUS, timeout=10)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(data))
    address = head.headers["Cached-Address"]
    assert "filename cmVwb3J0LmNzdg==" in head.headers["Upload-Metadata"]  # report.csv
    check_item(service, base, address, data)
    served_item = requests.get(base + address, timeout=10)
    assert "report.csv" in served_item.headers["Content-Disposition"]
    assert served_item.headers["Content-Type"].startswith("text/csv")


# -- raw requests -----------------------------------------------------------------------
def test_raw_flow_checksum_deferred_and_termination(served: Served) -> None:
    service, base = served
    url = creation_url(service, base)
    data = payload(5000, seed=2)

    created = requests.post(url, headers={**TUS, "Upload-Defer-Length": "1"}, timeout=10)
    assert created.status_code == 201
    location = requests.compat.urljoin(url, created.headers["Location"])

    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    refused = requests.patch(
        location,
        data=data[:1000],
        headers={**PATCH, "Upload-Offset": "0", "Upload-Checksum": f"sha1 {wrong}"},
        timeout=10,
    )
    assert refused.status_code == 460
    assert requests.head(location, headers=TUS, timeout=10).headers["Upload-Offset"] == "0"

    right = base64.b64encode(hashlib.sha256(data[:1000]).digest()).decode()
    first = requests.patch(
        location,
        data=data[:1000],
        headers={**PATCH, "Upload-Offset": "0", "Upload-Checksum": f"sha256 {right}"},
        timeout=10,
    )
    assert first.status_code == 204 and first.headers["Upload-Offset"] == "1000"
    assert "Cached-Address" not in first.headers
    last = requests.patch(
        location,
        data=data[1000:],
        headers={**PATCH, "Upload-Offset": "1000", "Upload-Length": str(len(data))},
        timeout=10,
    )
    assert last.status_code == 204 and last.headers["Upload-Offset"] == str(len(data))
    check_item(service, base, last.headers["Cached-Address"], data)

    # termination: the partial data is gone
    other = create(url, 100)
    other_url = requests.compat.urljoin(url, other.headers["Location"])
    requests.patch(other_url, data=b"x" * 10, headers={**PATCH, "Upload-Offset": "0"}, timeout=10)
    assert requests.delete(other_url, headers=TUS, timeout=10).status_code == 204
    assert requests.head(other_url, headers=TUS, timeout=10).status_code == 404
    uid = other_url.rsplit("/", 1)[1]
    assert uid not in service.cache.uploads().ids()
    with pytest.raises(FileNotFoundError):
        service.read(uid)


def test_creation_with_upload_and_concatenation(served: Served) -> None:
    service, base = served
    url = creation_url(service, base)
    pieces = [payload(700, seed=3), payload(900, seed=4)]
    partial_urls = []
    for piece in pieces:
        created = requests.post(
            url,
            data=piece,
            headers={**PATCH, "Upload-Length": str(len(piece)), "Upload-Concat": "partial"},
            timeout=10,
        )
        assert created.status_code == 201 and created.headers["Upload-Offset"] == str(len(piece))
        assert "Cached-Address" not in created.headers  # a partial is no item
        partial_urls.append(created.headers["Location"])
    final = requests.post(
        url,
        headers={
            **TUS,
            "Upload-Concat": "final;" + " ".join(partial_urls),
            "Upload-Metadata": metadata(filename="../joined.bin"),
        },
        timeout=10,
    )
    assert final.status_code == 201
    address = final.headers["Cached-Address"]
    check_item(service, base, address, b"".join(pieces))
    disposition = requests.head(base + address, timeout=10).headers["Content-Disposition"]
    assert "/" not in disposition and "joined.bin" in disposition


def test_a_registered_item_is_no_upload(served: Served) -> None:
    """HEAD, PATCH and DELETE on ``/uploads/<uid of a registered item>``: 404 as for
    an unknown upload; the item is neither revealed nor touched."""
    service, base = served
    data = payload(2000, seed=5)
    address = service.register(data, file_name="private.bin")
    uid = address.split("uid=")[1].split("&")[0]
    location = f"{creation_url(service, base)}/{uid}"
    head = requests.head(location, headers=TUS, timeout=10)
    assert head.status_code == 404
    for name in ("Cached-Address", "Upload-Offset", "Upload-Length", "Upload-Metadata"):
        assert name not in head.headers
    for offset in ("0", "2000"):
        patched = requests.patch(
            location, data=b"overwrite", headers={**PATCH, "Upload-Offset": offset}, timeout=10
        )
        assert patched.status_code == 404 and "private" not in patched.text
    assert requests.delete(location, headers=TUS, timeout=10).status_code == 404
    check_item(service, base, address, data)
    assert uid not in service.cache.uploads().ids()


# -- the policy's checks ----------------------------------------------------------------
def _policy_service(
    backend: str, tmp_path: Path, policy: dfc.UploadPolicy
) -> Tuple[dfc.ServiceData, Any]:
    cache = make_cache("file", tmp_path / "cache")
    service = dfc.ServiceData(cache, uploads=policy)
    return service, build_app(service, backend)


def test_authorize_refuses_every_request(backend: str, tmp_path: Path) -> None:
    seen = []

    def authorize(request: dfc.UploadRequest) -> bool:
        assert isinstance(request, dfc.UploadRequest)  # the public name of what it is given
        seen.append(request.method)
        return request.headers.get("authorization") == "Bearer yes"

    service, app = _policy_service(backend, tmp_path, dfc.UploadPolicy(authorize=authorize))
    with serve_in_thread(app, backend) as base:
        url = creation_url(service, base)
        assert create(url, 10).status_code == 403
        ok = create(url, 10, Authorization="Bearer yes")
        assert ok.status_code == 201
        location = requests.compat.urljoin(url, ok.headers["Location"])
        assert requests.head(location, headers=TUS, timeout=10).status_code == 403
        denied = requests.patch(
            location, data=b"0123456789", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert denied.status_code == 403
    assert seen[:3] == ["POST", "POST", "HEAD"]
    assert service.cache.uploads().record(location.rsplit("/", 1)[1])["offset"] == 0


def test_validate_refuses_and_nothing_stays(backend: str, tmp_path: Path) -> None:
    def validate(file: Any, info: Dict[str, Any]) -> None:
        if file.read(4) != b"\x89PNG":
            raise ValueError(f"{info['name']} is not a PNG file.")

    service, app = _policy_service(backend, tmp_path, dfc.UploadPolicy(validate=validate))
    with serve_in_thread(app, backend) as base:
        url = creation_url(service, base)
        created = create(url, 8, **{"Upload-Metadata": metadata(filename="fake.png")})
        location = requests.compat.urljoin(url, created.headers["Location"])
        refused = requests.patch(
            location, data=b"GIF89a!!", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert refused.status_code == 422
        assert refused.json() == {"error": "fake.png is not a PNG file."}
        uid = location.rsplit("/", 1)[1]
        assert uid not in service.cache.uploads().ids()
        with pytest.raises(FileNotFoundError):
            service.read(uid)
        good = create(url, 8)
        good_url = requests.compat.urljoin(url, good.headers["Location"])
        accepted = requests.patch(
            good_url, data=b"\x89PNG\r\n\x1a\n", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
        )
        assert accepted.status_code == 204
        check_item(service, base, accepted.headers["Cached-Address"], b"\x89PNG\r\n\x1a\n")


class _Secret(RuntimeError):
    pass


SECRET = "db password is hunter2"


def _assert_hidden_500(answer: requests.Response) -> None:
    """A 500 with a JSON error naming nothing of the exception."""
    assert answer.status_code == 500, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    error = answer.json()["error"]
    assert isinstance(error, str)
    for secret in (SECRET, "_Secret", "Traceback", "KeyError", __file__):
        assert secret not in answer.text


def test_authorize_raising_is_a_logged_500(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def authorize(request: Any) -> bool:
        if request.headers.get("x-break"):
            raise _Secret(SECRET)
        return True

    service, app = _policy_service(backend, tmp_path, dfc.UploadPolicy(authorize=authorize))
    with serve_in_thread(app, backend) as base:
        url = creation_url(service, base)
        before = set(service.cache.uploads().ids())
        _assert_hidden_500(create(url, 10, **{"X-Break": "1"}))
        assert set(service.cache.uploads().ids()) == before
        location = requests.compat.urljoin(url, create(url, 10).headers["Location"])
        broken = requests.patch(
            location, data=b"0123456789", headers={**PATCH, "Upload-Offset": "0", "X-Break": "1"},
            timeout=10,
        )  # fmt: skip
        _assert_hidden_500(broken)
        assert requests.head(location, headers=TUS, timeout=10).headers["Upload-Offset"] == "0"
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is _Secret]
    assert len(logged) == 2 and "authorize" in logged[0].getMessage()


def test_validate_raising_is_a_logged_500_and_nothing_stays(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def validate(file: Any, info: Dict[str, Any]) -> None:
        cast(Dict[str, Any], {})[SECRET]  # a bug of the application's check: KeyError

    service, app = _policy_service(backend, tmp_path, dfc.UploadPolicy(validate=validate))
    with serve_in_thread(app, backend) as base:
        url = creation_url(service, base)
        location = requests.compat.urljoin(url, create(url, 8).headers["Location"])
        broken = requests.patch(
            location, data=b"\x89PNG\r\n\x1a\n", headers={**PATCH, "Upload-Offset": "0"},
            timeout=10,
        )  # fmt: skip
        _assert_hidden_500(broken)
        assert "Cached-Address" not in broken.headers
        uid = location.rsplit("/", 1)[1]
        assert uid not in service.cache.uploads().ids()
        with pytest.raises(FileNotFoundError):
            service.read(uid)
        assert requests.head(location, headers=TUS, timeout=10).status_code == 404
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is KeyError]
    assert len(logged) == 1 and "validate" in logged[0].getMessage()


# -- hostile input ------------------------------------------------------------------------
def test_hostile_input_is_answered_never_500(backend: str, tmp_path: Path) -> None:
    service, app = _policy_service(backend, tmp_path, dfc.UploadPolicy(max_size=1000))
    with serve_in_thread(app, backend) as base:
        url = creation_url(service, base)
        assert create(url, -1).status_code == 400
        assert create(url, 1001).status_code == 413
        assert create(url, 10, **{"Upload-Metadata": "name !!notbase64"}).status_code == 400
        unversioned = requests.post(url, headers={"Upload-Length": "5"}, timeout=10)
        assert unversioned.status_code == 412 and unversioned.headers["Tus-Version"] == "1.0.0"
        old_version = create(url, 5, **{"Tus-Resumable": "0.2.2"})
        assert old_version.status_code == 412
        created = create(url, 10)
        location = requests.compat.urljoin(url, created.headers["Location"])

        def patch(body: bytes, **headers: str) -> requests.Response:
            return requests.patch(location, data=body, headers=headers, timeout=10)

        assert patch(b"abc", **{**PATCH, "Upload-Offset": "-1"}).status_code == 400
        wrong_type = {**TUS, "Content-Type": "text/plain", "Upload-Offset": "0"}
        assert patch(b"abc", **wrong_type).status_code == 415
        assert patch(b"abc", **{**PATCH, "Upload-Offset": "5"}).status_code == 409
        assert patch(b"x" * 11, **{**PATCH, "Upload-Offset": "0"}).status_code == 413
        no_version = {"Content-Type": PATCH["Content-Type"], "Upload-Offset": "0"}
        assert patch(b"abc", **no_version).status_code == 412
        assert requests.head(location, headers=TUS, timeout=10).headers["Upload-Offset"] == "0"
        unknown = url + "/" + "a" * 32
        assert requests.head(unknown, headers=TUS, timeout=10).status_code == 404
        for bad in ("..", "not-a-uid", "..%2F..%2Fetc%2Fpasswd", "a/b"):
            answer = requests.patch(
                url + "/" + bad, data=b"x", headers={**PATCH, "Upload-Offset": "0"}, timeout=10
            )
            # The client resolves "..": the request then reaches the service's own
            # route (405) on some servers; never an upload.
            assert answer.status_code in ((404, 405) if bad == ".." else (404,)), bad
        options = requests.options(url, timeout=10)
        assert options.status_code == 204
        assert "concatenation" in options.headers["Tus-Extension"]
        assert options.headers["Tus-Max-Size"] == "1000"
        assert requests.get(url, headers=TUS, timeout=10).status_code == 405


def test_cors_exposes_tus_headers(backend: str, tmp_path: Path) -> None:
    origin = "https://app.example"
    cache = make_cache("plain")
    service = dfc.ServiceData(cache, allowed_cross_origin=origin, uploads=dfc.UploadPolicy())
    app = build_app(service, backend)
    with serve_in_thread(app, backend) as base:
        url = creation_url(service, base)
        preflight = requests.options(
            url + "/" + "a" * 32,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "tus-resumable, upload-offset, content-type",
            },
            timeout=10,
        )
        assert preflight.status_code == 204
        assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
        assert "upload-offset" in preflight.headers["Access-Control-Allow-Headers"]
        created = create(url, 0, Origin=origin)
        assert created.status_code == 201
        exposed = created.headers["Access-Control-Expose-Headers"]
        for name in ("Location", "Upload-Offset", "Tus-Resumable", "Cached-Address"):
            assert name in exposed
        assert created.headers["Access-Control-Allow-Origin"] == origin
        # a zero-length upload is finished at once
        assert requests.get(base + created.headers["Cached-Address"], timeout=10).content == b""


def test_policy_and_service_arguments() -> None:
    with pytest.raises(ValueError, match="max_size"):
        dfc.UploadPolicy(max_size=-1)
    with pytest.raises(ValueError, match="expires"):
        dfc.UploadPolicy(expires=0)
    with pytest.raises(TypeError, match="authorize"):
        dfc.UploadPolicy(authorize="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="validate"):
        dfc.UploadPolicy(validate=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="uploads"):
        dfc.ServiceData(dfc.CachePlain(4), uploads={"max_size": 3})  # type: ignore[arg-type]
    service = dfc.ServiceData(dfc.CachePlain(4), uploads=dfc.UploadPolicy())
    with pytest.raises(RuntimeError, match="serve"):
        service.upload_address  # noqa: B018
    with pytest.raises(RuntimeError, match="no uploads"):
        dfc.ServiceData(dfc.CachePlain(4)).upload_address  # noqa: B018
    with pytest.raises(ValueError, match="address_or_uid"):
        service.read("/elsewhere?uid=" + "a" * 32)
    with pytest.raises(FileNotFoundError):
        service.read("/cached-data?uid=" + "a" * 32)
    address = service.register(b"hello", file_name="h.txt")
    with service.read(address) as stream:
        assert stream.read() == b"hello"
