"""The shipped deployment: real nginx in front of real gunicorn ``-w 4``, a shared CacheFile.

nginx runs the site config of ``docs/deploy/`` (templated only for ports and
paths) with ``offload="x-accel-redirect"``. Every request of the contract goes
through nginx and, for the same item, straight to a second app server on the
same cache without offload: status, body and every header but the server's and
the connection's must be the same. An answer whose bytes nginx sent lacks the app's
``X-Worker-Pid`` (nginx keeps only the headers the config names), which tells
offloaded answers from the ones Python streamed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Tuple

import pytest
import requests

from tests.support.caches import PAYLOAD
from tests.support.http import assert_json_error
from tests.support.nginx import NGINX, Nginx, nginx_site, running_nginx
from tests.support.processes import free_port
from tests.support.servers import Server, app_env, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed"),
]

CLOSE = {"Connection": "close"}
#: Headers that belong to the connection or to whichever server answers, not to the contract.
SERVER_HEADERS = {"date", "server", "connection", "keep-alive", "transfer-encoding", "x-worker-pid"}


class Deployment:
    def __init__(self, nginx: Nginx, app: Server, direct: Server, dirs: Dict[str, Path]) -> None:
        self.nginx = nginx
        self.app = app
        self.direct = direct
        self.dirs = dirs

    def register(
        self, body: bytes = b"", one_time: bool = False, path: str = "", name: str = ""
    ) -> str:
        """Register through nginx; return the address (path and query)."""
        return self.app.register_response(body, one_time, path, name, CLOSE).text


#: ``(backend, server)`` behind nginx: the shipped gunicorn and ASGI commands (docs/deploy/).
STACKS = {"gunicorn": ("flask", "gunicorn"), "uvicorn": ("fastapi", "uvicorn")}


@pytest.fixture(scope="module", params=sorted(STACKS))
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    backend, server = STACKS[request.param]
    root = tmp_path_factory.mktemp("deploy")
    dirs = {name: root / name for name in ("cache", "files", "outside")}
    for path in dirs.values():
        path.mkdir()
    locations = {str(dirs["cache"]): "/_dfc/cache/", str(dirs["files"]): "/_dfc/files/"}
    offloaded = app_env("file", backend, dirs["cache"], offload="x-accel-redirect",
                        offload_locations=locations)  # fmt: skip
    plain = app_env("file", backend, dirs["cache"])
    with (
        running_server(server=server, workers=4, env=offloaded) as app,
        running_server(server=server, env=plain) as direct,
    ):
        port = free_port()
        site = nginx_site(app.url.split("//", 1)[1], port, dirs["cache"], dirs["files"])
        with running_nginx(site, port, workers=2) as nginx:
            app_url = app.url
            app.url = nginx.url  # register and ask through nginx
            try:
                yield Deployment(nginx, app, direct, dirs)
            finally:
                app.url = app_url


def _get(url: str, headers: Mapping[str, str], method: str = "GET") -> requests.Response:
    return requests.request(method, url, headers={**CLOSE, **headers}, timeout=60)


def _contract(response: requests.Response) -> Tuple[int, bytes, Dict[str, str]]:
    headers = {
        name.lower(): value
        for name, value in response.headers.items()
        if name.lower() not in SERVER_HEADERS
    }
    return response.status_code, response.content, headers


def _items(deployment: Deployment) -> Dict[str, Tuple[str, bool]]:
    """``name -> (address, offloaded?)`` of the kinds of items."""
    files, outside = deployment.dirs["files"], deployment.dirs["outside"]
    (files / "report 2024 é.bin").write_bytes(PAYLOAD[:300_000])
    (outside / "elsewhere.bin").write_bytes(PAYLOAD[:200_000])
    return {
        "content": (deployment.register(PAYLOAD, name="données.bin"), True),
        "path": (deployment.register(path=str(files / "report 2024 é.bin")), True),
        "unmapped-path": (deployment.register(path=str(outside / "elsewhere.bin")), False),
    }


def _requests(etag: str) -> List[Tuple[str, str, Dict[str, str], bool]]:
    """``(label, method, headers, may offload)`` of the contract's requests."""
    return [
        ("whole", "GET", {}, True),
        ("first-bytes", "GET", {"Range": "bytes=0-99"}, True),
        ("suffix", "GET", {"Range": "bytes=-100"}, True),
        ("open-range", "GET", {"Range": "bytes=1000-"}, True),
        ("several-ranges", "GET", {"Range": "bytes=0-1,5-9"}, False),
        ("invalid-range", "GET", {"Range": "bytes=9-1"}, False),
        ("unsatisfiable", "GET", {"Range": "bytes=99999999-"}, False),
        ("other-unit", "GET", {"Range": "items=0-1"}, False),
        ("if-none-match", "GET", {"If-None-Match": etag}, False),
        ("if-none-match-other", "GET", {"If-None-Match": '"other"'}, False),
        ("if-match-other", "GET", {"If-Match": '"other"'}, False),
        ("if-match", "GET", {"If-Match": etag}, False),
        ("if-range", "GET", {"If-Range": etag, "Range": "bytes=10-19"}, False),
        ("if-range-other", "GET", {"If-Range": '"other"', "Range": "bytes=10-19"}, False),
        ("if-modified-since", "GET", {"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"}, False),
        ("head", "HEAD", {}, False),
        ("head-range", "HEAD", {"Range": "bytes=0-9"}, False),
    ]


def test_contract_through_nginx_matches_the_app(deployment: Deployment) -> None:
    """Status, body and contract headers through nginx equal the app's own answer.

    Plain GETs and single ranges of mapped file-backed items are sent by nginx;
    everything else (conditionals, HEAD, several or bad ranges, an unmapped
    path) is answered by the app, behind nginx.
    """
    for kind, (address, offloadable) in _items(deployment).items():
        query = address.split("?", 1)[1]
        for extra in ("", "&download=true", "&file_name=r%C3%A9sum%C3%A9.pdf"):
            direct_url = f"{deployment.direct.url}/cached-data?{query}{extra}"
            etag = requests.head(direct_url, timeout=30).headers["ETag"]
            for label, method, headers, may_offload in _requests(etag):
                through = _get(deployment.nginx.url + address + extra, headers, method)
                direct = _get(direct_url, headers, method)
                case = f"{kind} {label} {extra}"
                assert _contract(through) == _contract(direct), case
                offloaded = "X-Worker-Pid" not in through.headers
                assert offloaded == (offloadable and may_offload), case
    assert "[error]" not in deployment.nginx.error_log()


def test_one_time_items_served_exactly_once_across_workers(deployment: Deployment) -> None:
    """16 racing GETs through nginx to 4 workers: one gets the bytes, 15 get 404 JSON.

    The offloaded path item is claimed by the app before nginx sends it; one-time
    cache content (its file removed by the claim) streams from Python.
    """
    files = deployment.dirs["files"]
    (files / "once.bin").write_bytes(PAYLOAD[:100_000])
    cases = {
        "path": (deployment.register(path=str(files / "once.bin"), one_time=True), True),
        "content": (deployment.register(PAYLOAD, one_time=True), False),
    }
    for kind, (address, offloaded) in cases.items():
        body = PAYLOAD[:100_000] if kind == "path" else PAYLOAD
        url = deployment.nginx.url + address
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _, url=url: _get(url, {}), range(16)))
        served = [r for r in answers if r.status_code == 200]
        assert len(served) == 1, kind
        assert served[0].content == body
        assert ("X-Worker-Pid" not in served[0].headers) == offloaded, kind
        assert served[0].headers["Cache-Control"] == "private, no-store"
        for response in answers:
            if response.status_code != 200:
                assert_json_error(response, 404)


def test_errors_and_trust_boundary_through_nginx(deployment: Deployment) -> None:
    """404/400 JSON from the app; internal locations and redirect headers are not the client's."""
    url = deployment.nginx.url
    assert_json_error(_get(url + "/cached-data?uid=" + "a" * 32, {}), 404)
    assert_json_error(_get(url + "/cached-data?uid=../../etc/passwd", {}), 400)
    address = deployment.register(b"secret" * 100)
    uid = address.split("uid=", 1)[1]
    stored = [p for p in deployment.dirs["cache"].rglob("*.val")]
    assert stored, "CacheFile stored the content as files"
    relative = stored[0].relative_to(deployment.dirs["cache"]).as_posix()
    # The internal location is not reachable from outside, nor by traversal.
    for path in (f"/_dfc/cache/{relative}", f"/_dfc/files/../cache/{relative}"):
        response = _get(url + path, {})
        assert response.status_code == 404 and b"secret" not in response.content
    # A client sending X-Accel-Redirect / X-Sendfile changes nothing.
    smuggled = {"X-Accel-Redirect": f"/_dfc/cache/{relative}", "X-Sendfile": "/etc/passwd"}
    response = _get(url + "/stats", smuggled)
    assert response.status_code == 200 and b"secret" not in response.content
    assert _get(url + address, smuggled).content == b"secret" * 100
    assert uid


def test_vanished_file_is_404_json(deployment: Deployment) -> None:
    """A path item deleted after registration: the app's 404 JSON, not nginx's page."""
    files = deployment.dirs["files"]
    (files / "gone.bin").write_bytes(b"x" * 1000)
    address = deployment.register(path=str(files / "gone.bin"))
    (files / "gone.bin").unlink()
    assert_json_error(_get(deployment.nginx.url + address, {}), 404)
