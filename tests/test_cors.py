"""CORS, opt-in (``ServiceData(allowed_cross_origin=...)``), on each backend's real server.

The rules checked are the Fetch standard's: an allowed origin is echoed (or
``*`` for any origin, without credentials), answers vary by ``Origin``,
response headers a page reads are exposed, and a preflight for custom request
headers is answered; an origin that is not allowed gets no CORS header at all.
"""

from __future__ import annotations

import io
from typing import Iterator, Optional, Tuple

import pytest
import requests

import dash_file_cache as dfc
from dash_file_cache.services.cors import CorsPolicy, parse_allowed_origins
from tests.apps.app import build_app
from tests.support.caches import DATA
from tests.support.servers import serve_in_thread

ALLOWED = "http://127.0.0.1:8051"
OTHER = "http://127.0.0.1:9999"
EXPOSED = {"content-disposition", "content-length", "content-range", "etag", "accept-ranges"}


def _tokens(value: Optional[str]) -> set:
    return {item.strip().lower() for item in (value or "").split(",") if item.strip()}


@pytest.fixture
def cors_server(backend: str, request: pytest.FixtureRequest) -> Iterator[Tuple[str, str]]:
    """``(base URL, address)`` of a service allowing ``ALLOWED`` (or the param), served."""
    allowed = getattr(request, "param", ALLOWED)
    service = dfc.ServiceData(dfc.CachePlain(8), allowed_cross_origin=allowed)
    address = service.register(io.BytesIO(DATA), file_name="data.bin", download=True)
    with serve_in_thread(build_app(service, backend), backend) as url:
        yield url, address


# -- the argument -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ("", ()),
        ("  ", ()),
        ("*", ("*",)),
        (" https://Example.com ", ("https://example.com",)),
        ("http://a.test:8050, http://b.test", ("http://a.test:8050", "http://b.test")),
        (["http://a.test/", "http://a.test"], ("http://a.test",)),
        (("http://a.test", "*"), ("*",)),
    ],
)
def test_allowed_forms(value, expected) -> None:
    assert parse_allowed_origins(value) == expected
    service = dfc.ServiceData(dfc.CachePlain(2), allowed_cross_origin=value)
    assert service.allowed_cross_origin == " ".join(expected)


@pytest.mark.parametrize("value", ["example.com", "ftp://a.test", "http://a.test/path", "http://"])
def test_allowed_rejects_non_origins(value: str) -> None:
    with pytest.raises(ValueError, match="allowed_cross_origin"):
        dfc.ServiceData(dfc.CachePlain(2), allowed_cross_origin=value)


def test_allowed_rejects_wrong_types() -> None:
    with pytest.raises(TypeError, match="allowed_cross_origin"):
        dfc.ServiceData(dfc.CachePlain(2), allowed_cross_origin=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="allowed_cross_origin"):
        dfc.ServiceData(dfc.CachePlain(2), allowed_cross_origin=[b"http://a.test"])  # type: ignore[list-item]


def test_policy_matches_origins_as_browsers_send_them() -> None:
    policy = CorsPolicy.of(["http://127.0.0.1:8051"])
    assert policy is not None
    assert policy.allows("http://127.0.0.1:8051")
    assert not policy.allows("http://127.0.0.1:8052")
    assert not policy.allows("null")
    assert not policy.allows("")
    assert CorsPolicy.of(None) is None


# -- on real servers ---------------------------------------------------------------------


def test_off_by_default(backend: str) -> None:
    service = dfc.ServiceData(dfc.CachePlain(8))
    address = service.register(io.BytesIO(DATA))
    with serve_in_thread(build_app(service, backend), backend) as url:
        response = requests.get(url + address, headers={"Origin": ALLOWED}, timeout=10)
        options = requests.options(
            url + address,
            headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"},
            timeout=10,
        )
    assert response.content == DATA
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    assert "origin" not in _tokens(response.headers.get("Vary"))
    assert not [h for h in options.headers if h.lower().startswith("access-control-")]


def test_allowed_origin_reads(cors_server) -> None:
    url, address = cors_server
    response = requests.get(url + address, headers={"Origin": ALLOWED}, timeout=10)
    assert response.status_code == 200
    assert response.content == DATA
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert "origin" in _tokens(headers["Vary"])
    assert EXPOSED <= _tokens(headers["Access-Control-Expose-Headers"])
    assert headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert headers["Content-Disposition"] == "attachment; filename=data.bin"


def test_allowed_origin_range_and_errors(cors_server) -> None:
    url, address = cors_server
    part = requests.get(
        url + address, headers={"Origin": ALLOWED, "Range": "bytes=10-19"}, timeout=10
    )
    assert part.status_code == 206
    assert part.content == DATA[10:20]
    assert part.headers["Access-Control-Allow-Origin"] == ALLOWED
    missing = requests.get(
        url + address.replace("uid=", "uid=0"), headers={"Origin": ALLOWED}, timeout=10
    )
    assert missing.status_code in (400, 404)
    assert missing.headers["Access-Control-Allow-Origin"] == ALLOWED  # the page reads the error
    assert "error" in missing.json()


def test_refused_origin_gets_no_cors(cors_server) -> None:
    url, address = cors_server
    response = requests.get(url + address, headers={"Origin": OTHER}, timeout=10)
    assert response.content == DATA  # CORS restricts reading by pages, not the request
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    assert response.headers.get("Cross-Origin-Resource-Policy") != "cross-origin"
    assert "origin" in _tokens(response.headers["Vary"])


def test_preflight_for_custom_header(cors_server) -> None:
    url, address = cors_server
    response = requests.options(
        url + address,
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-token, range",
        },
        timeout=10,
    )
    assert response.status_code == 204
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert {"get", "head"} <= _tokens(headers["Access-Control-Allow-Methods"])
    assert {"x-token", "range"} <= _tokens(headers["Access-Control-Allow-Headers"])
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert {"origin", "access-control-request-headers"} <= _tokens(headers["Vary"])
    assert response.content == b""


@pytest.mark.parametrize(
    "asked",
    [
        {"Origin": OTHER, "Access-Control-Request-Method": "GET"},
        {"Origin": ALLOWED, "Access-Control-Request-Method": "DELETE"},
        {"Origin": ALLOWED, "Access-Control-Request-Method": "GET",
         "Access-Control-Request-Headers": "bad header"},
    ],
)  # fmt: skip
def test_preflight_refused(cors_server, asked) -> None:
    url, address = cors_server
    response = requests.options(url + address, headers=asked, timeout=10)
    assert response.status_code < 500
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


@pytest.mark.parametrize("cors_server", ["*"], indirect=True)
def test_any_origin_without_credentials(cors_server) -> None:
    url, address = cors_server
    response = requests.get(url + address, headers={"Origin": OTHER}, timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    plain = requests.get(url + address, timeout=10)  # no Origin: a same-origin or non-browser read
    assert "Access-Control-Allow-Origin" not in plain.headers
