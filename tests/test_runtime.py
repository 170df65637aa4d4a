"""Process facts shared by the layers (:mod:`dash_file_cache._runtime`)."""

from __future__ import annotations

import re

import multiprocess

from dash_file_cache import _runtime
from dash_file_cache.caches._process import process_token, tag_key


def _child_serves(result) -> None:
    result.put(_runtime.serves_requests())


def test_a_forked_child_does_not_inherit_the_mark() -> None:
    _runtime.mark_serving()
    assert _runtime.serves_requests()
    ctx = multiprocess.get_context("fork")
    result = ctx.Queue()
    proc = ctx.Process(target=_child_serves, args=(result,))
    proc.start()
    try:
        assert result.get(timeout=60) is False
    finally:
        proc.join(30)
    assert _runtime.serves_requests()  # the parent keeps it


def test_key_tags_have_the_shared_form() -> None:
    tagged = tag_key("a" * 32, process_token())
    assert re.fullmatch("a{32}" + _runtime.KEY_TAG_PATTERN, tagged)
    assert len(process_token()) == _runtime.TOKEN_HEX
