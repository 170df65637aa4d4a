"""The serving-process rule and process-tagged uids, without a server."""

from __future__ import annotations

import io

import flask
import multiprocess
import pytest

import dash_file_cache as dfc
from dash_file_cache.caches import ItemElsewhereError
from dash_file_cache.caches._process import process_token
from dash_file_cache.services.uid import is_valid_uid


def _register_plain(service: dfc.ServiceData, result) -> None:
    try:
        result.put(("address", service.register(io.BytesIO(b"child"))))
    except RuntimeError as exc:
        result.put(("error", str(exc)))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_child_started_inside_a_request_is_not_the_server(start_method: str) -> None:
    """The issue's reproduction: a child inherits the request context, yet must refuse."""
    service = dfc.ServiceData(dfc.CachePlain(4))
    app = flask.Flask("rule")
    service.serve(app)
    ctx = multiprocess.get_context(start_method)
    result = ctx.Queue()
    with app.test_request_context("/"):
        proc = ctx.Process(target=_register_plain, args=(service, result))
        proc.start()
        kind, text = result.get(timeout=60)
        proc.join(30)
    assert kind == "error" and "CacheQueue" in text and "CacheFile" in text


def test_keys_carry_the_owning_process() -> None:
    service = dfc.ServiceData(dfc.CachePlain(4))
    app = flask.Flask("tags")
    service.serve(app)
    uid = service.register(b"here").split("uid=")[1]
    assert is_valid_uid(uid) and uid.endswith("-" + process_token())
    assert app.test_client().get("/cached-data?uid=" + uid).data == b"here"
    foreign = uid[:33] + ("0" * 12 if not uid.endswith("0" * 12) else "1" * 12)
    with pytest.raises(ItemElsewhereError, match="registered by another server process"):
        service.cache.load(foreign)
    response = app.test_client().get("/cached-data?uid=" + foreign)
    assert response.status_code == 404
    assert "CacheFile or CacheRedis" in response.get_json()["error"]
    # Shared caches keep untagged uids.
    assert dfc.CacheFile(None).new_key("a" * 32) == "a" * 32
