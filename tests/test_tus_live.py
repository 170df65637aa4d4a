"""The tus 1.0.0 rules of ``tests/tus_spec_table.py`` as HTTP exchanges with a real server.

``tests/test_tus.py`` checks every row against the pure decisions; here each
row that an exchange can show runs against the live endpoint on every backend
(werkzeug for Flask, uvicorn for FastAPI and Quart, in this process). One pair
of servers per backend serves all rows: every row makes its own uploads.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Iterator

import pytest

import dash_file_cache as dfc
from tests import tus_spec_table as table
from tests.apps.app import build_app
from tests.support import BACKENDS, make_cache, serve_in_thread

OVER_HTTP = [row for row in table.RULES if row.check in table.LIVE]


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest) -> Iterator[table.Live]:
    """The endpoint with the table's POLICY, and a bare one, on one backend."""
    backend = str(request.param)
    limited = dfc.ServiceData(
        make_cache("plain", items=256), uploads=dfc.UploadPolicy(max_size=1000, expires=3600)
    )
    bare = dfc.ServiceData(make_cache("plain", items=16), uploads=dfc.UploadPolicy(expires=None))
    with ExitStack() as stack:
        base = stack.enter_context(serve_in_thread(build_app(limited, backend), backend))
        bare_base = stack.enter_context(serve_in_thread(build_app(bare, backend), backend))
        yield table.Live(
            base + limited.upload_address,
            bare_base + bare.upload_address,
            limited.cache.uploads,
        )


@pytest.mark.parametrize("row", OVER_HTTP, ids=[f"{row.section}: {row.text}" for row in OVER_HTTP])
def test_rule_over_http(live: table.Live, row: table.Rule) -> None:
    table.LIVE[row.check](live)


def test_every_row_is_over_http_or_says_why() -> None:
    for row in table.RULES:
        over_http = row.check in table.LIVE
        reason = table.NOT_OVER_HTTP.get(row.check, "")
        assert over_http != bool(reason), (row.section, row.text)
    assert set(table.NOT_OVER_HTTP) <= {row.check for row in table.RULES}
