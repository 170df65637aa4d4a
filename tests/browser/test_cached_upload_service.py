"""CachedUpload in headless Chromium against the package's own tus endpoint.

The Dash app serves ``dfc.ServiceData(cache, uploads=dfc.UploadPolicy(...))``
on the page's origin and the component's ``endpoint`` is
``service.upload_address``; the app runs on dash.testing's server thread, so
the test sees the cache and every tus request (method, ``Upload-Offset``,
status: :class:`Seen`). Each test is a user story: several files, pause and
cancel, the network cut, a reload, refusals, parallel parts, a server restart;
every finished file is checked byte for byte through its address and
``service.read``. The same stories against an independent tus server are in
``test_cached_upload.py``.
"""

from __future__ import annotations

import base64
import os
import time
from email.message import Message
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import urljoin

import dash
import pytest
import requests

import dash_file_cache as dfc
from tests.support import wait_for

from .conftest import console_errors, read, sha256
from .upload_page import (
    choose,
    click_in_row,
    go_offline,
    read_json,
    row_state,
    status_is,
    throttle_uploads,
    upload_app,
)

pytestmark = pytest.mark.browser
MiB = 1 << 20


class Seen(NamedTuple):
    """One tus request as the server answered it."""

    method: str
    offset: Optional[int]  # the request's Upload-Offset
    status: int
    location: Optional[str]  # the Location of a creation


class ServicePage:
    """A Dash app serving ``service`` with the upload page, and what its endpoint saw."""

    def __init__(self, cache: Any, policy: Optional[dfc.UploadPolicy] = None, **props: Any):
        import flask

        self.cache = cache
        self.service = dfc.ServiceData(cache, uploads=policy or dfc.UploadPolicy())
        self.app = dash.Dash(__name__)
        self.service.serve(self.app)
        self.calls: List[Any] = []
        upload_app(self.service.upload_address, self.app, self.calls, **props)
        self.seen: List[Seen] = []
        uploads = self.service.upload_address

        @self.app.server.after_request
        def record(response):
            request = flask.request
            if request.path.startswith(uploads) and request.method != "OPTIONS":
                offset = request.headers.get("Upload-Offset")
                self.seen.append(
                    Seen(
                        request.method,
                        int(offset) if offset and offset.isdigit() else None,
                        response.status_code,
                        response.headers.get("Location"),
                    )
                )
            return response

    def start(self, dash_duo) -> None:
        dash_duo.start_server(self.app)

    def requests(self, method: str) -> List[Seen]:
        return [s for s in list(self.seen) if s.method == method]

    def upload_urls(self, base: str) -> List[str]:
        """Absolute URLs of the uploads created so far."""
        return [urljoin(base + "/", s.location) for s in self.requests("POST") if s.location]

    def items(self) -> int:
        return len(self.cache)

    def pending_uploads(self) -> List[str]:
        return self.cache.uploads().ids()


def write_random(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def check_stored(page: ServicePage, base: str, files: List[Dict[str, Any]], sources) -> None:
    """Each of ``files`` (the prop) is byte-identical to its source, by address and by read."""
    for record, source in zip(files, sources):
        assert record["address"] and record["address"].endswith("?uid=" + record["uid"])
        served = requests.get(base + record["address"], timeout=30)
        assert served.status_code == 200
        assert sha256(served.content) == sha256(source), record["name"]
        with page.service.read(record["address"]) as stream:
            assert sha256(stream.read()) == sha256(source)


@pytest.fixture
def file_cache(tmp_path: Path) -> dfc.CacheFile:
    return dfc.CacheFile(str(tmp_path / "cache"))


def test_several_files_at_once(dash_duo, file_cache, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    sources = [
        write_random(inputs / "first.bin", 3 * MiB + 17),
        write_random(inputs / "second.bin", 2 * MiB),
        write_random(inputs / 'a\\b;"odd".bin', 2 * MiB + 5),
    ]
    page = ServicePage(file_cache, multiple=True, chunk_size=256 * 1024, progress_interval=100)
    page.start(dash_duo)
    base = dash_duo.server_url
    choose(dash_duo, sources)

    status = status_is(dash_duo, "done")
    total = sum(p.stat().st_size for p in sources)
    assert (status["n_files"], status["n_done"], status["n_errors"]) == (3, 3, 0)
    assert status["loaded"] == status["total"] == total
    assert [(f["name"], f["state"], f["loaded"]) for f in status["files"]] == [
        (p.name, "done", p.stat().st_size) for p in sources
    ]
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    time.sleep(1)  # a second `files` would come now
    assert read(dash_duo, "#fired") == "1" and len(page.calls) == 1
    assert [(f["name"], f["size"]) for f in files] == [(p.name, p.stat().st_size) for p in sources]
    assert len({f["uid"] for f in files}) == 3
    assert [f["address"] for f in status["files"]] == [f["address"] for f in files]
    check_stored(page, base, files, sources)
    # Progress was visible: several chunks per file, each row at 100%.
    assert len(page.requests("PATCH")) >= total // (256 * 1024)
    bars = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#up .dfc-upload-bar')].map(b => [b.value, b.max]);"
    )
    assert bars == [[p.stat().st_size] * 2 for p in sources]
    # The odd name is stored sanitised: no path separator, no header injection.
    odd = requests.get(base + files[2]["address"], params={"download": "true"}, timeout=10)
    disposition = Message()
    disposition["Content-Disposition"] = odd.headers["Content-Disposition"]
    assert disposition.get_content_disposition() == "attachment"
    assert disposition.get_filename() == 'a_b;"odd".bin'
    # Three items, no upload left pending.
    assert page.items() == 3 and page.pending_uploads() == []
    assert console_errors(dash_duo) == []
