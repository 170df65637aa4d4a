"""The request pipeline (:mod:`dash_file_cache.services.pipeline`) and the one
``answer`` path that ``ServiceData.stream`` and every adapter go through."""

from __future__ import annotations

import io

import flask
import pytest

import dash_file_cache as dfc
from dash_file_cache.services import http, pipeline

ORIGIN = "https://reader.example.com"


def _own_route_app(service: dfc.ServiceData) -> flask.Flask:
    """A Flask app that serves items from its own route through ``stream``, never bound."""
    app = flask.Flask("own-route")

    @app.route("/mine/<uid>", methods=["GET", "HEAD", "OPTIONS"])
    def mine(uid: str) -> flask.Response:
        return service.stream(uid)

    return app


def test_stream_answers_a_cors_preflight_as_the_bound_route_does() -> None:
    service = dfc.ServiceData(dfc.CachePlain(4), allowed_cross_origin=ORIGIN)
    uid = service.register(b"cross-origin bytes").split("uid=")[1]
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    response = _own_route_app(service).test_client().options(f"/mine/{uid}", headers=preflight)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert response.data == b""
    bound = flask.Flask("bound")
    service.serve(bound)
    expected = bound.test_client().options(f"/cached-data?uid={uid}", headers=preflight)
    assert sorted(response.headers.items()) == sorted(expected.headers.items())


def test_stream_applies_cors_and_gives_head_no_body() -> None:
    service = dfc.ServiceData(dfc.CachePlain(4), allowed_cross_origin=ORIGIN)
    uid = service.register(b"0123456789").split("uid=")[1]
    client = _own_route_app(service).test_client()
    got = client.get(f"/mine/{uid}", headers={"Origin": ORIGIN})
    assert got.data == b"0123456789"
    assert got.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert got.headers["Vary"] == "Origin"
    head = client.head(f"/mine/{uid}", headers={"Origin": ORIGIN})
    assert head.data == b"" and head.headers["Content-Length"] == "10"


def test_stream_outside_a_request_keeps_raising() -> None:
    service = dfc.ServiceData(dfc.CachePlain(4), allowed_cross_origin="*")
    uid = service.register(b"whole").split("uid=")[1]
    response = service.stream(uid)
    assert b"".join(response.iter_encoded()) == b"whole"
    response.close()
    assert response.headers["Vary"] == "Origin"
    with pytest.raises(ValueError, match="malformed"):
        service.stream("not a uid")
    with pytest.raises(FileNotFoundError):
        service.stream("0" * 32)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_head_error_has_the_get_headers_and_no_body(method: str) -> None:
    service = dfc.ServiceData(dfc.CachePlain(4))
    query = b"uid=" + b"0" * 32
    get = service.answer(http.Request("GET", query_string=query)).decision
    answer = service.answer(http.Request(method, query_string=query))
    assert answer.status == 404 and answer.decision.headers == get.headers
    assert answer.decision.body == (get.body if method == "GET" else b"")
    assert int(dict(get.headers)["Content-Length"]) == len(get.body) > 0


def test_for_request_empties_only_a_head() -> None:
    decision = http.error(400, "bad")
    assert http.for_request(decision, None) is decision
    assert http.for_request(decision, http.Request("GET")) is decision
    head = http.for_request(decision, http.Request("HEAD"))
    assert head.body == b"" and head.headers == decision.headers and head.status == 400


def test_claim_removes_once_and_closes_the_loser() -> None:
    cache = dfc.CachePlain(4)
    service = dfc.ServiceData(cache)
    uid = service.register(b"once", one_time_service=True).split("uid=")[1]
    decision = http.Decision(200, [], claim=True)
    first, second = io.BytesIO(b"a"), io.BytesIO(b"b")
    pipeline.claim(cache, uid, decision, first)
    assert not first.closed and uid not in cache
    with pytest.raises(FileNotFoundError, match="already served"):
        pipeline.claim(cache, uid, decision, second)
    assert second.closed
    pipeline.claim(cache, uid, http.Decision(200, []), None)  # no claim asked: nothing


def test_a_one_time_item_is_served_once_through_answer_item() -> None:
    service = dfc.ServiceData(dfc.CachePlain(4))
    uid = service.register(b"once", one_time_service=True).split("uid=")[1]
    query = http.Query(uid, False, None)
    head = pipeline.answer_item(service, http.Request("HEAD"), query)
    assert head.status == 200 and head.content is None  # HEAD does not claim
    answer = pipeline.answer_item(service, http.Request("GET"), query)
    assert answer.content is not None and answer.content.stream.read() == b"once"
    answer.close()
    with pytest.raises(FileNotFoundError):
        pipeline.answer_item(service, http.Request("GET"), query)


@pytest.mark.parametrize(
    ("size", "content_range"), [(10, "bytes */10"), (0, "bytes */0"), ("bytes */*", "bytes */*")]
)
def test_one_416_answer(size: object, content_range: str) -> None:
    decision = http.range_not_satisfiable(size, [("ETag", '"x"')])  # type: ignore[arg-type]
    headers = dict(decision.headers)
    assert decision.status == 416 and headers["Content-Range"] == content_range
    assert headers["ETag"] == '"x"' and headers["Content-Type"] == "application/json"
    assert decision.body == b'{"error": "Requested range not satisfiable."}'
