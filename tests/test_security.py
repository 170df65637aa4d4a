"""Issue 13 §2-§3: uniform method answers, and served content isolated from the app.

- The policy decisions (:mod:`dash_file_cache.services.security`) as tables.
- The core's headers (:func:`http.decide`, :func:`http.parse_query`).
- ``ServiceData(active_content_policy=...)``: validation, property, effect.
- Real servers of every backend (gunicorn, uvicorn, hypercorn): any method
  token gets the JSON 405 with the security headers, ``OPTIONS`` 204, and
  every answer carries ``Referrer-Policy`` and ``Cross-Origin-Resource-Policy``;
  script-capable types carry the sandbox.

The browser side (scripts cannot reach the app, exports still work) is in
``tests/browser/test_security_browser.py``.
"""

from __future__ import annotations

import io
import json
from typing import Any, Callable, Iterator

import pytest
import requests

import dash_file_cache as dfc
from dash_file_cache.services import http, security
from tests.support.servers import Server

SANDBOX = security.DEFAULT_ACTIVE_CONTENT_POLICY
BASELINE = {"Referrer-Policy": "no-referrer", "Cross-Origin-Resource-Policy": "same-origin"}

# -- the policy as a table -------------------------------------------------------------------

SCRIPT_CAPABLE = [
    "text/html",
    "TEXT/HTML; charset=UTF-8",
    "  text/html  ",
    "text/html;x=y",
    "Text/Html ; charset=utf-8",
    "application/xhtml+xml",
    "application/vnd.wap.xhtml+xml",
    "image/svg+xml",
    "IMAGE/SVG+XML;charset=utf-8",
    "image/svg",
    "text/xml",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/mathml+xml",
    "text/xsl",
    "application/xslt+xml",
    "video/vnd.example+xml",
    "multipart/x-mixed-replace; boundary=x",
    "application/octet-stream",  # sniffing is off, but nothing is trusted without a reason
    "text/plain",
    "application/json",
    "application/javascript",
    "unknown/unknown",
    # Malformed or odd: never trusted (browsers take the *last* type of a list).
    "image/png, text/html",
    "text/html, image/png",
    "image/png,",
    "png",
    "image/",
    "/png",
    "image/png/x",
    "image/p ng",
    "",
    " ",
    ";",
]
INERT = [
    "image/png",
    "IMAGE/PNG",
    "image/jpeg; q=1",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/x-icon",
    "audio/mpeg",
    "audio/ogg; codecs=opus",
    "video/mp4",
    "Video/WebM",
    "application/pdf",
    "APPLICATION/PDF; name=x.pdf",
]


@pytest.mark.parametrize("content_type", SCRIPT_CAPABLE)
def test_script_capable_types_are_sandboxed(content_type: str) -> None:
    assert security.can_run_script(content_type)
    assert security.item_headers(content_type, SANDBOX) == [("Content-Security-Policy", SANDBOX)]


@pytest.mark.parametrize("content_type", INERT)
def test_inert_types_are_not(content_type: str) -> None:
    assert not security.can_run_script(content_type)
    assert security.item_headers(content_type, SANDBOX) == []


def test_no_policy_sends_no_header() -> None:
    assert security.item_headers("text/html", None) == []


def test_default_policy_is_an_opaque_origin() -> None:
    tokens = SANDBOX.split()
    assert tokens[0] == "sandbox" and "allow-same-origin" not in tokens
    assert "allow-top-navigation" not in " ".join(tokens)


def test_one_place_for_the_resource_policy() -> None:
    assert dict(security.baseline_headers()) == BASELINE
    assert security.CROSS_ORIGIN_RESOURCE_POLICY == "same-origin"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("sandbox", "sandbox"), ("  default-src 'self'  ", "default-src 'self'")],
)
def test_policy_option_accepts(value: Any, expected: Any) -> None:
    assert security.check_active_content_policy(value) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (b"sandbox", TypeError),
        (1, TypeError),
        (["sandbox"], TypeError),
        ("", ValueError),
        ("   ", ValueError),
        ("sandbox\r\nSet-Cookie: a=b", ValueError),
        ("sandbox\x00", ValueError),
        ("sandbox \u2603", ValueError),
    ],
)
def test_policy_option_rejects(value: Any, error: type) -> None:
    with pytest.raises(error, match="active_content_policy"):
        security.check_active_content_policy(value)


# -- the core ------------------------------------------------------------------------


def facts(content_type: str, download: bool = False) -> http.ItemFacts:
    return http.ItemFacts("a" * 32, 10, 1.7e9, content_type, "f", False, download)


def request(method: str = "GET", **headers: str) -> http.Request:
    return http.Request.from_pairs(method, headers.items(), b"uid=" + b"a" * 32)


@pytest.mark.parametrize("download", [False, True])
def test_decide_sandboxes_by_type_whatever_the_disposition(download: bool) -> None:
    for req in (None, request(), request("HEAD"), request(Range="bytes=0-1")):
        html_headers = dict(http.decide(req, facts("text/html", download)).headers)
        assert html_headers["Content-Security-Policy"] == SANDBOX
        assert {k: html_headers[k] for k in BASELINE} == BASELINE
        png_headers = dict(http.decide(req, facts("image/png", download)).headers)
        assert "Content-Security-Policy" not in png_headers
        assert {k: png_headers[k] for k in BASELINE} == BASELINE


def test_decide_policy_argument() -> None:
    custom = dict(
        http.decide(None, facts("image/svg+xml"), active_content_policy="sandbox").headers
    )
    assert custom["Content-Security-Policy"] == "sandbox"
    trusted = dict(http.decide(None, facts("image/svg+xml"), active_content_policy=None).headers)
    assert "Content-Security-Policy" not in trusted


def test_every_core_answer_has_the_baseline() -> None:
    item = facts("text/html")
    etag = '"' + item.etag + '"'
    answers = [
        http.decide(request(**{"If-None-Match": etag}), item),  # 304
        http.decide(request(**{"If-Match": '"other"'}), item),  # 412
        http.decide(request(Range="bytes=99-"), item),  # 416
        http.error(404, "x", request(Accept="text/html")),
        http.error(503, "x"),
        http.parse_query(request("OPTIONS")),
        http.parse_query(request("PROPFIND")),
    ]
    for answer in answers:
        assert isinstance(answer, http.Decision)
        headers = dict(answer.headers)
        assert {k: headers[k] for k in BASELINE} == BASELINE, answer.status


@pytest.mark.parametrize("method", ["POST", "TRACE", "PROPFIND", "BREW", "M-SEARCH", "CONNECT"])
def test_any_other_method_is_the_json_405(method: str) -> None:
    answer = http.parse_query(request(method))
    assert isinstance(answer, http.Decision) and answer.status == 405
    assert dict(answer.headers)["Allow"] == "GET, HEAD, OPTIONS"
    assert json.loads(answer.body) == {"error": f"Method {method} is not allowed."}


def test_options_is_204_without_length() -> None:
    answer = http.parse_query(request("OPTIONS"))
    assert isinstance(answer, http.Decision)
    assert (answer.status, answer.body) == (204, b"")
    headers = dict(answer.headers)
    assert headers["Allow"] == "GET, HEAD, OPTIONS" and "Content-Length" not in headers


# -- ServiceData ---------------------------------------------------------------------------


def test_service_option_default_and_property() -> None:
    service = dfc.ServiceData(dfc.CachePlain(2))
    assert service.active_content_policy == SANDBOX
    service.active_content_policy = None
    assert service.active_content_policy is None
    service.active_content_policy = " sandbox allow-scripts "
    assert service.active_content_policy == "sandbox allow-scripts"
    with pytest.raises(ValueError, match="active_content_policy"):
        service.active_content_policy = "a\nb"
    assert service.active_content_policy == "sandbox allow-scripts"


def test_service_option_is_keyword_only_and_validated() -> None:
    with pytest.raises(TypeError):
        dfc.ServiceData(dfc.CachePlain(2), "/x", 1, None, "sandbox")  # type: ignore[misc]
    with pytest.raises(TypeError, match="active_content_policy"):
        dfc.ServiceData(dfc.CachePlain(2), active_content_policy=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="active_content_policy"):
        dfc.ServiceData(dfc.CachePlain(2), active_content_policy="")


@pytest.mark.parametrize("cache_kind", ["plain"])
def test_service_option_reaches_every_backend(
    backend: str, service: dfc.ServiceData, client: Any
) -> None:
    address = service.register(io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
                               mime_type="image/svg+xml")  # fmt: skip
    assert client.get(address).headers["Content-Security-Policy"] == SANDBOX
    service.active_content_policy = "sandbox"
    assert client.get(address).headers["Content-Security-Policy"] == "sandbox"
    service.active_content_policy = None
    response = client.get(address)
    assert "Content-Security-Policy" not in response.headers
    assert response.headers["Referrer-Policy"] == "no-referrer"


# -- real servers of every backend -------------------------------------------------------

#: Method tokens every server passes to the app (RFC 9110, WebDAV, UPnP).
KNOWN_METHODS = ["POST", "PUT", "PATCH", "DELETE", "TRACE", "PROPFIND", "MKCOL", "LOCK",
                 "M-SEARCH"]  # fmt: skip
#: Tokens some servers' parsers reject before any app runs (uvicorn's httptools: 400).
EXTENSION_METHODS = ["BREW", "X_CUSTOM", "QUERY", "FOO-BAR"]


def assert_json_405(response: Any, method: str) -> None:
    assert response.status_code == 405, (method, response.status_code)
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.content if hasattr(response, "content") else response.data) == {
        "error": f"Method {method} is not allowed."
    }
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["Cache-Control"] == "private, no-store"
    for name, value in BASELINE.items():
        assert response.headers.get(name) == value, (method, name)


@pytest.mark.parametrize("cache_kind", ["plain"])
def test_any_method_token_reaches_the_core(
    backend: str, service: dfc.ServiceData, client: Any
) -> None:
    """In the app itself (test client), every token gets the core's 405, on every backend."""
    address = service.register(io.BytesIO(b"keep"), mime_type="text/plain")
    for method in KNOWN_METHODS + EXTENSION_METHODS + ["CONNECT", "A", "X" * 40]:
        assert_json_405(client.open(address, method=method), method)
    assert client.open(address, method="OPTIONS").status_code == 204


@pytest.fixture
def server(start_app_server: Callable[..., Server], backend: str) -> Iterator[Server]:
    """The test app under the backend's production server (gunicorn, uvicorn, hypercorn)."""
    yield start_app_server(cache="file", backend=backend)


def register_typed(server: Server, body: bytes, content_type: str, **params: str) -> str:
    response = requests.post(
        server.url + "/register", data=body, params={"type": content_type, **params}, timeout=30
    )
    response.raise_for_status()
    return server.url + response.text


def assert_baseline(response: requests.Response) -> None:
    for name, value in BASELINE.items():
        assert response.headers.get(name) == value, (response.status_code, name)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.slow
def test_methods_on_real_servers(server: Server) -> None:
    address = register_typed(server, b"keep", "text/plain")
    for method in KNOWN_METHODS + EXTENSION_METHODS:
        response = requests.request(method, address, timeout=30)
        if method in EXTENSION_METHODS and "X-Worker-Pid" not in response.headers:
            assert response.status_code == 400  # the server's parser: the app never saw it
            continue
        assert "X-Worker-Pid" in response.headers
        assert_json_405(response, method)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Also for an address that names no item and one without a query: the method comes first.
    for url in (server.url + "/cached-data", server.url + "/cached-data?uid=" + "c" * 32):
        response = requests.request("PROPFIND", url, timeout=30)
        assert response.status_code == 405 and response.json()["error"]
        assert_baseline(response)
    options = requests.options(address, timeout=30)
    assert (options.status_code, options.content) == (204, b"")
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert "Content-Length" not in options.headers
    assert_baseline(options)
    assert requests.get(address, timeout=30).content == b"keep"  # unharmed


@pytest.mark.slow
def test_security_headers_on_real_servers(server: Server) -> None:
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    cases = [
        ("image/svg+xml", True),
        ("TEXT/HTML; charset=utf-8", True),
        ("application/xhtml+xml", True),
        ("text/xml", True),
        ("image/png", False),
        ("application/pdf", False),
        ("video/mp4", False),
    ]
    for content_type, sandboxed in cases:
        address = register_typed(server, svg, content_type)
        etag = None
        for url in (address, address + "&download=true"):
            for method, headers in [("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=1-3"})]:
                response = requests.request(method, url, headers=headers, timeout=30)
                assert response.status_code in (200, 206)
                assert_baseline(response)
                csp = response.headers.get("Content-Security-Policy")
                assert csp == (SANDBOX if sandboxed else None), (content_type, method, csp)
                etag = response.headers["ETag"]
        assert etag is not None
        not_modified = requests.get(address, headers={"If-None-Match": etag}, timeout=30)
        assert not_modified.status_code == 304
        assert_baseline(not_modified)
    for url, status in [
        (server.url + "/cached-data?uid=" + "d" * 32, 404),
        (server.url + "/cached-data?uid=bad", 400),
    ]:
        for accept in ("*/*", "text/html,*/*;q=0.8"):
            response = requests.get(url, headers={"Accept": accept}, timeout=30)
            assert response.status_code == status
            assert_baseline(response)
