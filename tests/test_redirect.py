"""Which answers may be a redirect to where the content is (``services/redirect.py``), as a table.

Pure functions, no cache and no server: the request, the app's own decision
and the item's facts go in, yes or no comes out. The answers of a real
``CacheS3`` with ``redirect=True`` are in ``test_cache_s3_redirect.py``.
"""

from __future__ import annotations

from typing import Dict, Optional

import pytest

from dash_file_cache.services import http, redirect, security
from tests.test_security import INERT

SIZE = 1000
PASSIVE = [
    *INERT,
    "text/csv",
    "text/csv; charset=utf-8",
    "TEXT/PLAIN",
    "application/octet-stream",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]
NEVER = [
    "text/html",
    "text/html; charset=utf-8",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "application/rss+xml",
    "application/javascript",
    "text/javascript",
    "multipart/x-mixed-replace; boundary=x",
    "unknown/unknown",
    "application/x-whatever",
    "image/png, text/html",
    "text/csv, text/html",
    "image/png;\x7fx",
    "image/png; name=é",
    "png",
    "",
]


def _facts(content_type: str = "image/png", one_time: bool = False) -> http.ItemFacts:
    return http.ItemFacts(
        uid="u",
        size=SIZE,
        mtime=1_700_000_000.0,
        content_type=content_type,
        file_name="a.png",
        one_time=one_time,
        download=False,
    )


def _request(method: str = "GET", headers: Optional[Dict[str, str]] = None) -> http.Request:
    return http.Request.from_pairs(method, list((headers or {}).items()), b"uid=u")


def _may(
    method: str = "GET",
    headers: Optional[Dict[str, str]] = None,
    content_type: str = "image/png",
    one_time: bool = False,
) -> bool:
    request, item = _request(method, headers), _facts(content_type, one_time)
    decision = http.decide(request, item)
    return redirect.may_redirect(request, decision, item)


@pytest.mark.parametrize("content_type", PASSIVE)
def test_passive_types(content_type: str) -> None:
    assert security.is_passive(content_type)
    assert _may(content_type=content_type)


@pytest.mark.parametrize("content_type", NEVER)
def test_types_that_can_run_script_are_never_redirected(content_type: str) -> None:
    assert not security.is_passive(content_type)
    assert not _may(content_type=content_type)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
        {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
        {"Sec-Fetch-Mode": "NO-CORS", "Sec-Fetch-Dest": "video", "Range": "bytes=0-"},
        {"Sec-Fetch-Mode": "nested-navigate"},
        {"Range": "bytes=0-99"},
        {"Range": "bytes=-10"},
        {"Range": "bytes=990-"},
        {"Range": "bytes=10-99999"},
        {"Accept": "text/html", "User-Agent": "x", "Cookie": "a=b"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "bare",
)
def test_get_that_sends_content_is_redirected(headers: Dict[str, str]) -> None:
    assert _may(headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        # CORS requests: following a redirect to the store would need CORS on the bucket.
        {"Sec-Fetch-Mode": "cors"},
        {"Sec-Fetch-Mode": "same-origin"},
        {"Sec-Fetch-Mode": "websocket"},
        {"Sec-Fetch-Mode": "something-new"},
        {"Origin": "https://app.example"},
        # Preconditions compare our validators, not the store's.
        {"If-None-Match": '"other"'},
        {"If-Match": "*"},
        {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"If-Unmodified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        {"If-Range": '"other"', "Range": "bytes=0-9"},
        # Ranges the store might read otherwise, or that we answered whole.
        {"Range": "bytes=0-1,"},
        {"Range": "bytes=0-1, 5-6"},
        {"Range": "Bytes=0-9"},
        {"Range": "bytes= 0-9"},
        {"Range": "bytes=9-0"},
        {"Range": "items=0-9"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()),
)
def test_requests_the_app_keeps(headers: Dict[str, str]) -> None:
    assert not _may(headers=headers)


def test_two_range_fields_stay() -> None:
    request = http.Request.from_pairs("GET", [("Range", "bytes=0-1"), ("Range", "bytes=3-4")], b"")
    item = _facts()
    assert not redirect.may_redirect(request, http.decide(request, item), item)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-None-Match": "ETAG"}, 304),
        ({"If-Match": '"other"'}, 412),
        ({"Range": f"bytes={SIZE}-"}, 416),
    ],
)
def test_answers_without_content_stay(headers: Dict[str, str], status: int) -> None:
    item = _facts()
    headers = {k: v.replace("ETAG", f'"{item.etag}"') for k, v in headers.items()}
    request = _request(headers=headers)
    decision = http.decide(request, item)
    assert decision.status == status
    assert not redirect.may_redirect(request, decision, item)


def test_head_one_time_and_no_request_stay() -> None:
    assert not _may(method="HEAD")
    assert not _may(one_time=True)
    item = _facts()
    assert not redirect.may_redirect(None, http.decide(None, item), item)


def test_redirect_answer() -> None:
    url = "http://127.0.0.1:9000/b/k?X-Amz-Signature=abc&X-Amz-Expires=300"
    decision = redirect.redirect_to(url)
    assert decision is not None
    headers = dict(decision.headers)
    assert decision.status == 307 and decision.body == b"" and not decision.send_content
    assert headers["Location"] == url
    assert headers["Content-Length"] == "0"
    assert "no-store" in headers["Cache-Control"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Content-Type" not in headers and "ETag" not in headers


@pytest.mark.parametrize("url", ["", "http://x/\r\nSet-Cookie: a=b", "http://x/é"])
def test_no_redirect_to_a_bad_url(url: str) -> None:
    assert redirect.redirect_to(url) is None
