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

import json
import os
import time
from email.message import Message
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import dash
import pytest
import requests

import dash_file_cache as dfc
from tests.apps.upload_page_app import Seen, record_tus
from tests.support import app_env, start_server, wait_for

from .conftest import console_errors, read, sha256
from .upload_page import (
    choose,
    click_in_row,
    go_offline,
    pause_and_cancel,
    read_json,
    status_is,
    throttle_uploads,
    upload_app,
)

pytestmark = pytest.mark.browser
MiB = 1 << 20


class ServicePage:
    """A Dash app serving ``service`` with the upload page, and what its endpoint saw."""

    def __init__(self, cache: Any, policy: Optional[dfc.UploadPolicy] = None, **props: Any):
        self.cache = cache
        self.service = dfc.ServiceData(cache, uploads=policy or dfc.UploadPolicy())
        self.app = dash.Dash(__name__)
        self.service.serve(self.app)
        self.calls: List[Any] = []
        upload_app(self.service.upload_address, self.app, self.calls, **props)
        self.seen: List[Seen] = []
        record_tus(self.app, self.service, self.seen)

    def start(self, dash_duo) -> None:
        dash_duo.start_server(self.app)

    def requests(self, method: str, since: int = 0) -> List[Seen]:
        """The ``method`` requests seen, from the ``since``-th request on."""
        return [s for s in list(self.seen)[since:] if s.method == method]

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


def test_pause_resume_and_cancel(dash_duo, file_cache, tmp_path):
    kept = write_random(tmp_path / "kept.bin", 1536 * 1024)
    dropped = write_random(tmp_path / "dropped.bin", 1536 * 1024)
    page = ServicePage(file_cache, multiple=True, chunk_size=64 * 1024, progress_interval=100)
    page.start(dash_duo)
    base = dash_duo.server_url
    throttle_uploads(dash_duo, 256 * 1024)
    choose(dash_duo, [kept, dropped])

    pause_and_cancel(dash_duo, 0, 1)
    # Cancel is tus termination; while the aborted PATCH still holds the upload
    # the server answers 423 and the client tries again.
    wait_for(lambda: [s for s in page.requests("DELETE") if s.status == 204], 10, "a DELETE done")
    *busy, deleted = page.requests("DELETE")
    assert {s.status for s in busy} <= {423} and deleted.status == 204

    # The cancelled upload is gone from the server: unknown to tus, nothing in the cache.
    gone = requests.head(base + deleted.path, headers={"Tus-Resumable": "1.0.0"}, timeout=10)
    assert gone.status_code in (404, 410) and gone.headers["Tus-Resumable"] == "1.0.0"
    upload_id = deleted.path.rsplit("/", 1)[1]
    assert upload_id not in page.pending_uploads()
    assert len(page.pending_uploads()) == 1  # the paused one
    assert not list((tmp_path / "cache" / "uploads").glob(upload_id + ".*"))
    with pytest.raises(FileNotFoundError):
        page.service.read(upload_id)
    assert (
        requests.get(base + "/cached-data", params={"uid": upload_id}, timeout=10).status_code
        == 404
    )

    # Paused: nothing is sent.
    status = status_is(dash_duo, "paused", 5)
    assert [f["state"] for f in status["files"]] == ["paused", "cancelled"]
    assert 0 < status["files"][0]["loaded"] < kept.stat().st_size
    time.sleep(0.5)
    paused_at = len(page.seen)
    time.sleep(1)
    assert page.requests("PATCH", paused_at) == []

    # Resumed from the server's offset (HEAD), not from 0.
    throttle_uploads(dash_duo, 4 * MiB)
    click_in_row(dash_duo, 0, "resume")
    status_is(dash_duo, "done", 30)
    (asked,) = page.requests("HEAD", paused_at)
    first = page.requests("PATCH", paused_at)[0]
    assert first.offset == asked.answered and first.offset > 0
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    assert [f["name"] for f in files] == ["kept.bin"]
    check_stored(page, base, files, [kept])
    assert page.items() == 1 and page.pending_uploads() == []
    assert console_errors(dash_duo, allowed=["/cached-data/uploads"]) == []


def patches_from_zero(page: ServicePage) -> int:
    return sum(1 for s in page.requests("PATCH") if s.offset == 0)


def test_network_cut_then_restored_resumes(dash_duo, file_cache, tmp_path):
    data = write_random(tmp_path / "data.bin", 1536 * 1024)
    page = ServicePage(
        file_cache, chunk_size=64 * 1024, progress_interval=100, retry_delays=[500] * 20
    )
    page.start(dash_duo)
    throttle_uploads(dash_duo, 256 * 1024)
    choose(dash_duo, [data])
    wait_for(lambda: len(page.requests("PATCH")) >= 3, 20, "a few chunks sent")
    go_offline(dash_duo)
    cut_at = len(page.seen)
    time.sleep(2.5)
    assert len(page.requests("PATCH", cut_at)) <= 1  # at most the one in flight
    assert read_json(dash_duo, "#status")["state"] == "uploading"  # retrying, not failed
    throttle_uploads(dash_duo, 4 * MiB)
    status_is(dash_duo, "done", 30)

    # One upload, sent from 0 once; after the cut the offset was asked and the
    # upload went on from there.
    assert len(page.requests("POST")) == 1 and patches_from_zero(page) == 1
    asked = [s for s in page.requests("HEAD", cut_at) if s.answered]
    assert asked and asked[0].answered > 0
    after = [s for s in page.requests("PATCH", page.seen.index(asked[0]))]
    assert after[0].offset == asked[0].answered
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    check_stored(page, dash_duo.server_url, files, [data])
    assert page.items() == 1 and page.pending_uploads() == []


def test_reload_then_the_same_file_resumes(dash_duo, file_cache, tmp_path):
    data = write_random(tmp_path / "video.bin", 1536 * 1024)
    page = ServicePage(file_cache, chunk_size=64 * 1024, progress_interval=100)
    page.start(dash_duo)
    throttle_uploads(dash_duo, 256 * 1024)
    choose(dash_duo, [data])
    wait_for(lambda: len(page.requests("PATCH")) >= 4, 20, "a few chunks sent")
    dash_duo.driver.refresh()
    reloaded_at = len(page.seen)
    assert read(dash_duo, "#fired") in (None, "0")

    throttle_uploads(dash_duo, 4 * MiB)
    choose(dash_duo, [data])
    status_is(dash_duo, "done", 30)
    # The stored fingerprint found the upload: no second creation, and the
    # first PATCH after the reload went on from the server's offset.
    assert len(page.requests("POST")) == 1 and patches_from_zero(page) == 1
    first = page.requests("PATCH", reloaded_at)[0]
    assert first.offset > 0
    assert len(page.requests("PATCH", reloaded_at)) < 1536 // 64
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    check_stored(page, dash_duo.server_url, files, [data])
    assert page.items() == 1 and page.pending_uploads() == []
    left = dash_duo.driver.execute_script(
        "return Object.keys(localStorage).filter(k => k.startsWith('tus::'));"
    )
    assert left == []


def error_rows(dash_duo) -> List[Tuple[str, str]]:
    """``(state, info text)`` of each row in the page."""
    return dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#up .dfc-upload-file')]"
        ".map(r => [r.dataset.state, r.querySelector('.dfc-upload-info').textContent]);"
    )


def test_refused_by_authorize(dash_duo, file_cache, tmp_path):
    data = write_random(tmp_path / "secret.bin", 300 * 1024)
    policy = dfc.UploadPolicy(
        authorize=lambda request: request.headers.get("Authorization") == "Bearer right"
    )
    page = ServicePage(file_cache, policy, headers={"Authorization": "Bearer wrong"})
    page.start(dash_duo)
    choose(dash_duo, [data])
    status = status_is(dash_duo, "error", 20)
    (row,) = status["files"]
    assert (row["state"], row["http_code"], row["address"]) == ("error", 403, None)
    assert row["message"] == "This upload request is not authorized."
    assert error_rows(dash_duo) == [["error", "This upload request is not authorized. (HTTP 403)"]]
    # Refused at creation, not retried; nothing stored; `files` never fired.
    assert [(s.method, s.status) for s in page.seen] == [("POST", 403)]
    time.sleep(0.5)
    assert page.calls == [] and read(dash_duo, "#fired") == "0"
    assert page.items() == 0 and page.pending_uploads() == []
    assert console_errors(dash_duo, allowed=["/cached-data/uploads"]) == []


PNG = b"\x89PNG\r\n\x1a\n"


def only_png(file, info) -> None:
    if file.read(len(PNG)) != PNG:
        raise ValueError("only PNG files")


def test_refused_by_validate_and_max_size(dash_duo, file_cache, tmp_path):
    good = tmp_path / "good.png"
    good.write_bytes(PNG + os.urandom(200 * 1024))
    fake = write_random(tmp_path / "fake.png", 200 * 1024)
    big = tmp_path / "big.png"
    big.write_bytes(PNG + os.urandom(MiB))
    policy = dfc.UploadPolicy(max_size=512 * 1024, validate=only_png)
    page = ServicePage(file_cache, policy, multiple=True, chunk_size=64 * 1024)
    page.start(dash_duo)
    choose(dash_duo, [good, fake, big])
    status = status_is(dash_duo, "error", 30)
    assert [(f["name"], f["state"], f["http_code"]) for f in status["files"]] == [
        ("good.png", "done", None),
        ("fake.png", "error", 422),
        ("big.png", "error", 413),
    ]
    assert status["files"][1]["message"] == "only PNG files"
    rows = error_rows(dash_duo)
    assert rows[1] == ["error", "only PNG files (HTTP 422)"]
    limit = "The upload is larger than the limit of 524288 bytes."
    assert status["files"][2]["message"] == limit
    assert rows[2] == ["error", f"{limit} (HTTP 413)"]
    # `files` once, with the accepted file only.
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    time.sleep(0.5)
    assert [f["name"] for f in files] == ["good.png"] and len(page.calls) == 1
    check_stored(page, dash_duo.server_url, files, [good])
    # The refused files left nothing: one item, no upload.
    assert page.items() == 1 and page.pending_uploads() == []
    assert sorted(s.status for s in page.requests("POST")) == [201, 201, 413]
    assert console_errors(dash_duo, allowed=["/cached-data/uploads"]) == []


def test_parallel_parts_become_one_item(dash_duo, tmp_path):
    data = write_random(tmp_path / "parts.bin", MiB + 3)
    page = ServicePage(dfc.CachePlain(cache_size=16), parallel_uploads=2)
    page.start(dash_duo)
    choose(dash_duo, [data])
    files = wait_for(lambda: read_json(dash_duo, "#files"), 30, "files")
    assert [(f["name"], f["size"]) for f in files] == [("parts.bin", data.stat().st_size)]
    # Two partial uploads, then the final one that joins them (tus concatenation).
    assert len(page.requests("POST")) == 3
    check_stored(page, dash_duo.server_url, files, [data])
    assert page.items() == 1 and page.pending_uploads() == []


UPLOAD_PAGE = "tests.apps.upload_page_app:create_app()"


def seen_by(server) -> List[Seen]:
    """The tus requests the server process answered (``GET /seen``)."""
    return [Seen(**s) for s in requests.get(server.url + "/seen", timeout=10).json()["seen"]]


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_server_restart_mid_upload_resumes(dash_duo, tmp_path, how):
    """The upload page under gunicorn with ``CacheFile``: stopped (SIGTERM) or
    killed (SIGKILL) mid-upload, started again on the same port and cache
    folder; the component retries until it answers and goes on from its offset."""
    data = write_random(tmp_path / "restart.bin", 1536 * 1024)
    cache_dir = tmp_path / "cache"
    props = {"chunk_size": 64 * 1024, "progress_interval": 100, "retry_delays": [500] * 40}
    env = {**app_env("file", directory=cache_dir), "DFC_UPLOAD_PROPS": json.dumps(props)}
    options = {"env": env, "ready_path": "/seen", "log_dir": tmp_path}
    servers = [start_server(UPLOAD_PAGE, **options)]
    try:
        first = servers[0]
        dash_duo.driver.get(first.url + "/")
        throttle_uploads(dash_duo, 256 * 1024)
        choose(dash_duo, [data])
        wait_for(
            lambda: sum(s.method == "PATCH" for s in seen_by(first)) >= 4, 20, "a few chunks sent"
        )
        getattr(first, how)()
        # The partial upload is in the cache folder, and the page keeps trying.
        store = dfc.CacheFile(str(cache_dir)).uploads()
        (upload_id,) = store.ids()
        assert store.record(upload_id)["offset"] > 0
        time.sleep(1.5)
        assert read_json(dash_duo, "#status")["state"] == "uploading"

        throttle_uploads(dash_duo, 4 * MiB)
        port = int(first.url.rsplit(":", 1)[1])
        servers.append(start_server(UPLOAD_PAGE, port=port, **options))
        second = servers[1]
        status_is(dash_duo, "done", 30)
        seen = seen_by(second)
        # No new upload: the offset was asked, and the PATCHes went on from it.
        assert [s.method for s in seen if s.method == "POST"] == []
        asked = next(s for s in seen if s.method == "HEAD" and s.status == 200)
        first_patch = next(s for s in seen if s.method == "PATCH")
        assert first_patch.offset == asked.answered and first_patch.offset > 0
        files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
        assert [f["name"] for f in files] == ["restart.bin"]
        served = requests.get(second.url + files[0]["address"], timeout=30)
        assert sha256(served.content) == sha256(data)
        service = dfc.ServiceData(dfc.CacheFile(str(cache_dir)))
        with service.read(files[0]["uid"]) as stream:
            assert sha256(stream.read()) == sha256(data)
        assert store.ids() == []
    finally:
        for server in servers:
            server.stop()


def test_cancel_mid_chunk_without_retries_still_removes_the_data(dash_duo, file_cache, tmp_path):
    """Retrying turned off (``retry_delays=[]``) is about sending, not about cancel:
    the termination that meets the server still holding the aborted PATCH (423)
    is tried again, and the partial data is gone."""
    data = write_random(tmp_path / "cut.bin", MiB)
    page = ServicePage(file_cache, chunk_size=256 * 1024, retry_delays=[])
    page.start(dash_duo)
    throttle_uploads(dash_duo, 128 * 1024)
    choose(dash_duo, [data])
    wait_for(lambda: page.requests("POST") and len(page.requests("PATCH")) >= 1, 20, "a chunk")
    time.sleep(0.5)  # the next PATCH is under way
    click_in_row(dash_duo, 0, "cancel")
    wait_for(lambda: [s for s in page.requests("DELETE") if s.status == 204], 10, "a DELETE done")
    assert page.pending_uploads() == [] and page.items() == 0
    assert not list((tmp_path / "cache" / "uploads").glob("*.part"))


def test_cancel_a_parallel_upload_removes_every_part(dash_duo, file_cache, tmp_path):
    data = write_random(tmp_path / "parts.bin", MiB)
    page = ServicePage(file_cache, parallel_uploads=2, chunk_size=64 * 1024)
    page.start(dash_duo)
    throttle_uploads(dash_duo, 128 * 1024)
    choose(dash_duo, [data])
    wait_for(lambda: len(page.requests("PATCH")) >= 2, 20, "both parts under way")
    assert len(page.requests("POST")) == 2
    click_in_row(dash_duo, 0, "cancel")
    wait_for(
        lambda: len([s for s in page.requests("DELETE") if s.status == 204]) == 2,
        10,
        "both parts terminated",
    )
    assert page.pending_uploads() == [] and page.items() == 0
    assert not list((tmp_path / "cache" / "uploads").iterdir())
    status_is(dash_duo, "cancelled", 5)


def test_inside_dcc_loading_an_upload_survives_its_callbacks(dash_duo, file_cache, tmp_path):
    """In ``dcc.Loading``, a slow callback on ``files`` shows the spinner; the component
    is not remounted by it: its finished row stays, and a second upload runs after it."""
    from dash import Input, Output, dcc, html

    service = dfc.ServiceData(file_cache, uploads=dfc.UploadPolicy())
    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = html.Div(
        dcc.Loading(
            [
                dfc.CachedUpload(id="up", endpoint=service.upload_address, multiple=True),
                html.Div(id="got"),
            ],
            id="loading",
            delay_show=0,
        )
    )

    @app.callback(Output("got", "children"), Input("up", "files"), prevent_initial_call=True)
    def got(files):
        time.sleep(1.5)  # a callback that works on the upload
        return " ".join(f["name"] for f in files)

    dash_duo.start_server(app)
    first = write_random(tmp_path / "first.bin", 300_000)
    choose(dash_duo, [first])
    wait_for(
        lambda: dash_duo.driver.find_elements("css selector", "#got[data-dash-is-loading]"),
        10,
        "the spinner while the callback runs",
    )
    wait_for(lambda: read(dash_duo, "#got") == "first.bin", 15, "the callback's output")
    rows = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#up .dfc-upload-name')].map(n => n.textContent);"
    )
    assert rows == ["first.bin"]  # not remounted: the finished row is still listed
    second = write_random(tmp_path / "second.bin", 200_000)
    choose(dash_duo, [second])
    wait_for(lambda: read(dash_duo, "#got") == "second.bin", 15, "the second upload's callback")
    assert file_cache.uploads().ids() == [] and len(file_cache) == 2
    assert console_errors(dash_duo) == []
