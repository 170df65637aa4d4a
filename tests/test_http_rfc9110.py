"""The served address against the RFC 9110 oracle (``tests/http_oracle.py``), on every cache.

Each request of the corpus (GET and HEAD x Range, If-Range, If-Match, If-None-Match,
If-Modified-Since, If-Unmodified-Since variants) on items of 0, 1, 1000 and 1 MiB + 7 bytes
is judged by the oracle, which never looks at the library; the test asserts zero violations.
All of it goes through Flask's test client; a subset also through a real server.
"""

from __future__ import annotations

import io
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Callable, Iterable, List, Tuple

import requests

import dash_file_cache as dfc
from tests.http_oracle import SIZES, Answer, Case, Validator, corpus, verdict


def make_content(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def validator_of(headers) -> Validator:
    modified = parsedate_to_datetime(headers["Last-Modified"])
    return Validator(headers["ETag"], int(modified.timestamp()))


def common_problems(answer: Answer) -> List[str]:
    """Fields every answer of the service carries, once."""
    problems = []
    for name in ("Cache-Control", "X-Content-Type-Options"):
        count = sum(1 for key, _ in answer.all_headers if key.lower() == name.lower())
        if count != 1:
            problems.append(f"{name} sent {count} times")
    if answer.status in (412, 416) and answer.headers.get("Content-Type") != "application/json":
        problems.append(f"{answer.status} is not a JSON error")
    return problems


def run_corpus(
    items: Iterable[Tuple[bytes, str]],
    send: Callable[[str, str, dict], Answer],
    cases: List[Case],
) -> Tuple[int, List[str]]:
    """Send every case to every item; return (requests made, violations)."""
    count, violations = 0, []
    for content, address in items:
        full = send("GET", address, {}).headers
        validator = validator_of(full)
        for case in cases:
            answer = send(case.method, address, case.headers(validator))
            count += 1
            problems = verdict(case, answer, content, full) + common_problems(answer)
            if answer.headers.get("ETag") not in (None, validator.etag):
                problems.append("the ETag changed")
            violations += [f"size {len(content)}: {case.label}: {p}" for p in problems]
    return count, violations


def test_rfc9110_corpus_test_client(client, service: dfc.ServiceData) -> None:
    """Zero violations over the whole corpus, every size, in-memory items."""

    def send(method: str, address: str, headers: dict) -> Answer:
        response = client.open(address, method=method, headers=headers)
        return Answer(
            response.status_code,
            response.headers,
            response.get_data(),
            list(response.headers.items()),
        )

    items = []
    for size in SIZES:
        content = make_content(size)
        items.append(
            (content, service.register(io.BytesIO(content), mime_type="application/octet-stream"))
        )
    count, violations = run_corpus(items, send, corpus())
    print(
        f"\nRFC 9110 oracle, {type(service.cache).__name__}: {count} requests, "
        f"{len(violations)} violations"
    )
    assert count == len(SIZES) * len(corpus())
    assert violations == [], "\n".join(violations[:40])


def test_rfc9110_corpus_real_server(
    live_server: str, service: dfc.ServiceData, tmp_path: Path
) -> None:
    """A subset on a real threaded server, with path items (served from where they are)."""
    session = requests.Session()

    def send(method: str, address: str, headers: dict) -> Answer:
        response = session.request(method, live_server + address, headers=headers, timeout=30)
        return Answer(
            response.status_code,
            response.headers,
            response.content,
            list(response.raw.headers.items()),
        )

    items = []
    for size in (0, 1000):
        content = make_content(size)
        path = tmp_path / f"item-{size}.bin"
        path.write_bytes(content)
        items.append((content, service.register(path, mime_type="application/octet-stream")))
    count, violations = run_corpus(items, send, corpus()[::4])
    print(f"\nRFC 9110 oracle on a real server: {count} requests, {len(violations)} violations")
    assert violations == [], "\n".join(violations[:40])


def test_one_time_item_not_claimed_by_304_412_or_head_range(client, service) -> None:
    """Answers that send no content (304, 412, HEAD even with Range) leave a one-time item."""
    address = service.register(io.BytesIO(b"0123456789"), one_time_service=True)
    uid = address.split("uid=")[1]
    etag = client.head(address).headers["ETag"]
    assert client.get(address, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(address, headers={"If-Match": '"stale"'}).status_code == 412
    head = client.head(address, headers={"Range": "bytes=0-1"})
    assert (head.status_code, head.headers["Content-Length"]) == (200, "10")
    assert service.cache.is_in(uid)
    ranged = client.get(address, headers={"Range": "bytes=0-1", "If-Match": etag})
    assert (ranged.status_code, ranged.data) == (206, b"01")
    assert not service.cache.is_in(uid)


def test_304_fields(client, service: dfc.ServiceData) -> None:
    """RFC 9110 15.4.5: a 304 has the 200's ETag and Cache-Control, no body, no Last-Modified."""
    address = service.register(io.BytesIO(b"data"))
    full = client.get(address)
    answer = client.get(address, headers={"If-None-Match": full.headers["ETag"]})
    assert answer.status_code == 304 and answer.data == b""
    for name in ("ETag", "Cache-Control", "X-Content-Type-Options"):
        assert answer.headers.get(name) == full.headers[name]
    assert "Last-Modified" not in answer.headers and "Content-Range" not in answer.headers
