"""CachedUpload in headless Chromium against a real tus 1.0 server.

The server is ``tuspyserver`` (a FastAPI tus router, independent of this
package) on 127.0.0.1 with CORS for the Dash page's origin, run by uvicorn in
a thread of the test process so the test sees what it stored. It sends no
``Cached-Address`` header, so ``files[i]["address"]`` and ``uid`` are None
here; the same user stories against the package's own endpoint, with their
addresses, are in ``test_cached_upload_service.py``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from tests.support import free_port, wait_for

from .conftest import console_errors, read, sha256
from .upload_page import (
    choose,
    click_in_row,
    pause_and_cancel,
    read_json,
    throttle_uploads,
    upload_app,
)

pytestmark = pytest.mark.browser

fastapi = pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
tuspyserver = pytest.importorskip("tuspyserver")

TUS_HEADERS = [
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Cached-Address",
]


class TusServer:
    """tuspyserver on 127.0.0.1, recording requests and finished uploads."""

    def __init__(self, folder: Path) -> None:
        from fastapi.middleware.cors import CORSMiddleware

        def only_png(metadata: dict, _info: dict) -> None:
            # Stands for a server-side check (later: `UploadPolicy.validate`/`authorize`).
            if metadata.get("filename", "").startswith("refuse-"):
                raise fastapi.HTTPException(status_code=422, detail="Only PNG files, please.")

        self.folder = folder
        self.requests: List[Tuple[str, str]] = []
        self.completed: List[Tuple[str, dict]] = []
        api = fastapi.FastAPI()
        api.include_router(
            tuspyserver.create_tus_router(
                prefix="files",
                files_dir=str(folder),
                on_upload_complete=lambda path, metadata: self.completed.append((path, metadata)),
                pre_create_hook=only_png,
            )
        )

        @api.middleware("http")
        async def record(request, call_next):
            self.requests.append((request.method, request.url.path))
            return await call_next(request)

        api.add_middleware(
            CORSMiddleware,
            allow_origin_regex=r"http://(127\.0\.0\.1|localhost)(:\d+)?",
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=TUS_HEADERS,
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/files/"
        config = uvicorn.Config(api, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_for(lambda: self.server.started, 10, "the tus server to start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def uploads(self) -> List[Tuple[str, str]]:
        """``(filename metadata, sha256 of the stored bytes)`` of finished uploads."""
        return sorted((meta["filename"], sha256(path)) for path, meta in self.completed)


@pytest.fixture
def tus_server(tmp_path: Path) -> Iterator[TusServer]:
    folder = tmp_path / "tus"
    folder.mkdir()
    server = TusServer(folder)
    server.start()
    yield server
    server.stop()


def test_two_files_upload_to_a_tus_server(dash_duo, tus_server, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    first = inputs / "first.bin"
    second = inputs / "second.csv"
    first.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    second.write_bytes(b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(100_000)))

    app = upload_app(
        tus_server.url,
        multiple=True,
        chunk_size=256 * 1024,
        progress_interval=100,
        metadata={"project": "tests"},
    )
    dash_duo.start_server(app)
    choose(dash_duo, [first, second])

    status = wait_for(
        lambda: (s := read_json(dash_duo, "#status")) and s["state"] == "done" and s,
        60,
        "status.state == 'done'",
    )
    assert status["n_files"] == 2 and status["n_done"] == 2 and status["n_errors"] == 0
    assert status["loaded"] == status["total"] == first.stat().st_size + second.stat().st_size
    assert [(f["name"], f["state"], f["loaded"]) for f in status["files"]] == [
        ("first.bin", "done", first.stat().st_size),
        ("second.csv", "done", second.stat().st_size),
    ]

    # `files` once, with both uploads (no address: tuspyserver sends none).
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    assert [(f["name"], f["size"], f["relative_path"], f["address"], f["uid"]) for f in files] == [
        ("first.bin", first.stat().st_size, None, None, None),
        ("second.csv", second.stat().st_size, None, None, None),
    ]
    assert all(isinstance(f["last_modified"], (int, float)) for f in files)
    assert read(dash_duo, "#fired") == "1"

    # The page shows each file at 100%.
    bars = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#up .dfc-upload-bar')].map(b => [b.value, b.max]);"
    )
    assert bars == [[first.stat().st_size] * 2, [second.stat().st_size] * 2]
    rows = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#up .dfc-upload-file')]"
        ".map(r => [r.dataset.state, r.querySelector('.dfc-upload-info').textContent]);"
    )
    assert rows == [["done", "Done"], ["done", "Done"]]

    # The server has both files, byte-identical, with their metadata.
    wait_for(lambda: len(tus_server.completed) == 2, 10, "both uploads stored")
    assert tus_server.uploads() == sorted(
        [("first.bin", sha256(first)), ("second.csv", sha256(second))]
    )
    metadata = sorted(meta["filename"] + ":" + meta["project"] for _, meta in tus_server.completed)
    assert metadata == ["first.bin:tests", "second.csv:tests"]
    assert any(method == "PATCH" for method, _ in tus_server.requests)
    dash_duo.driver.save_screenshot(str(tmp_path / "cached_upload_done.png"))
    assert console_errors(dash_duo) == []


def test_max_size_refuses_before_sending(dash_duo, tus_server, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5000))
    app = upload_app(tus_server.url, max_size=1000)
    dash_duo.start_server(app)
    choose(dash_duo, [])  # waits for the chunk

    # The drop zone opens the file picker from the keyboard (Enter, Space).
    from selenium.webdriver.common.keys import Keys

    dash_duo.driver.execute_script(
        "window.pickerOpened = 0;"
        "const input = document.querySelector('#up input[type=file]');"
        "input.click = () => { window.pickerOpened += 1; };"
    )
    zone = dash_duo.find_element("#up .dfc-upload-zone")
    assert zone.get_attribute("role") == "button" and zone.get_attribute("tabindex") == "0"
    zone.send_keys(Keys.ENTER)
    zone.send_keys(Keys.SPACE)
    assert dash_duo.driver.execute_script("return window.pickerOpened;") == 2

    choose(dash_duo, [big])

    status = wait_for(
        lambda: (s := read_json(dash_duo, "#status")) and s["state"] == "error" and s,
        10,
        "status.state == 'error'",
    )
    assert status["files"][0]["http_code"] is None
    assert "too large" in status["files"][0]["message"]
    info = read(dash_duo, "#up .dfc-upload-file[data-state=error] .dfc-upload-info")
    assert info.startswith("File too large: 5.00 kB, at most 1.00 kB allowed.")
    dash_duo.driver.save_screenshot(str(tmp_path / "cached_upload_refused.png"))
    # Nothing was sent, and `files` never fired.
    assert tus_server.requests == []
    assert list(tus_server.folder.iterdir()) == []
    assert read(dash_duo, "#fired") == "0"
    assert console_errors(dash_duo) == []


def test_pause_resume_and_cancel(dash_duo, tus_server, tmp_path):
    kept = tmp_path / "kept.bin"
    dropped = tmp_path / "dropped.bin"
    kept.write_bytes(os.urandom(1536 * 1024))
    dropped.write_bytes(os.urandom(1536 * 1024))
    app = upload_app(tus_server.url, multiple=True, chunk_size=64 * 1024, progress_interval=100)
    dash_duo.start_server(app)
    throttle_uploads(dash_duo, 256 * 1024)
    choose(dash_duo, [kept, dropped])

    pause_and_cancel(dash_duo, 0, 1, tmp_path / "cached_upload_paused.png")
    # Cancel is tus termination: the server is asked to drop the partial upload.
    wait_for(lambda: "DELETE" in {m for m, _ in tus_server.requests}, 10, "a DELETE request")

    status = wait_for(
        lambda: (s := read_json(dash_duo, "#status")) and s["state"] == "paused" and s,
        5,
        "status.state == 'paused'",
    )
    assert [f["state"] for f in status["files"]] == ["paused", "cancelled"]
    assert 0 < status["files"][0]["loaded"] < kept.stat().st_size

    click_in_row(dash_duo, 0, "resume")
    wait_for(
        lambda: (s := read_json(dash_duo, "#status")) and s["state"] == "done",
        60,
        "status.state == 'done'",
    )
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    assert [f["name"] for f in files] == ["kept.bin"]
    assert tus_server.uploads() == [("kept.bin", sha256(kept))]
    # Resumed, not restarted: the server was asked for its offset (HEAD).
    assert "HEAD" in {m for m, _ in tus_server.requests}
    # Only the kept upload's data is left on the server (tuspyserver keeps an .info).
    stored = [p for p in tus_server.folder.iterdir() if p.is_file() and p.suffix != ".info"]
    assert [sha256(p) for p in stored] == [sha256(kept)]
    assert console_errors(dash_duo, allowed=[tus_server.url]) == []


def methods(server: TusServer, method: str) -> int:
    return sum(1 for m, _ in server.requests if m == method)


def test_reload_then_the_same_file_resumes(dash_duo, tus_server, tmp_path):
    data = tmp_path / "video.bin"
    data.write_bytes(os.urandom(1536 * 1024))
    app = upload_app(tus_server.url, chunk_size=64 * 1024, progress_interval=100)
    dash_duo.start_server(app)
    throttle_uploads(dash_duo, 256 * 1024)
    choose(dash_duo, [data])
    # Some chunks stored (each PATCH is one 64 KiB chunk), then the page goes away.
    wait_for(lambda: methods(tus_server, "PATCH") >= 4, 20, "a few chunks sent")
    dash_duo.driver.refresh()
    stored_before = methods(tus_server, "PATCH")
    assert methods(tus_server, "POST") == 1

    throttle_uploads(dash_duo, 4 * 1024 * 1024)
    choose(dash_duo, [data])
    wait_for(
        lambda: (s := read_json(dash_duo, "#status")) and s["state"] == "done",
        60,
        "status.state == 'done'",
    )
    # Resumed from the stored fingerprint: no second upload was created, the
    # server was asked for its offset, and fewer chunks than the whole file followed.
    assert methods(tus_server, "POST") == 1
    assert methods(tus_server, "HEAD") >= 1
    assert methods(tus_server, "PATCH") - stored_before < 1536 // 64
    assert tus_server.uploads() == [("video.bin", sha256(data))]
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    assert [f["name"] for f in files] == ["video.bin"]
    # The fingerprint is removed once the upload succeeded.
    left = dash_duo.driver.execute_script(
        "return Object.keys(localStorage).filter(k => k.startsWith('tus::'));"
    )
    assert left == []


def test_network_cut_then_restored_resumes(dash_duo, tus_server, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(1536 * 1024))
    app = upload_app(
        tus_server.url, chunk_size=64 * 1024, progress_interval=100, retry_delays=[500] * 20
    )
    dash_duo.start_server(app)
    throttle_uploads(dash_duo, 256 * 1024)
    choose(dash_duo, [data])
    wait_for(lambda: methods(tus_server, "PATCH") >= 3, 20, "a few chunks sent")
    dash_duo.driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    cut_at = methods(tus_server, "PATCH")
    time.sleep(2.5)
    assert methods(tus_server, "PATCH") <= cut_at + 1
    status = read_json(dash_duo, "#status")
    assert status["state"] == "uploading", status  # retrying, not failed
    throttle_uploads(dash_duo, 4 * 1024 * 1024)
    wait_for(
        lambda: (s := read_json(dash_duo, "#status")) and s["state"] == "done",
        60,
        "status.state == 'done'",
    )
    assert methods(tus_server, "POST") == 1
    assert methods(tus_server, "HEAD") >= 1  # the offset was asked before going on
    assert tus_server.uploads() == [("data.bin", sha256(data))]


def test_a_folder_keeps_relative_paths(dash_duo, tus_server, tmp_path):
    folder = tmp_path / "photos"
    (folder / "2024").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"alpha")
    (folder / "2024" / "b.txt").write_bytes(b"bravo" * 1000)
    app = upload_app(tus_server.url, directory=True)
    dash_duo.start_server(app)
    choose(dash_duo, [folder])
    files = wait_for(lambda: read_json(dash_duo, "#files"), 30, "files")
    assert sorted((f["name"], f["relative_path"], f["size"]) for f in files) == [
        ("a.txt", "photos/a.txt", 5),
        ("b.txt", "photos/2024/b.txt", 5000),
    ]
    wait_for(lambda: len(tus_server.completed) == 2, 10, "both uploads stored")
    assert sorted(meta["relative_path"] for _, meta in tus_server.completed) == [
        "photos/2024/b.txt",
        "photos/a.txt",
    ]
    assert tus_server.uploads() == sorted(
        [("a.txt", sha256(b"alpha")), ("b.txt", sha256(b"bravo" * 1000))]
    )


def test_a_refusal_by_the_server_is_shown_with_its_message(dash_duo, tus_server, tmp_path):
    refused = tmp_path / "refuse-me.txt"
    accepted = tmp_path / "fine.txt"
    refused.write_bytes(b"not a png")
    accepted.write_bytes(b"a fine file")
    dash_duo.start_server(upload_app(tus_server.url, multiple=True))
    choose(dash_duo, [refused, accepted])
    status = wait_for(
        lambda: (s := read_json(dash_duo, "#status")) and s["state"] == "error" and s,
        30,
        "status.state == 'error'",
    )
    first, second = status["files"]
    assert (first["state"], first["http_code"], first["message"]) == (
        "error",
        422,
        "Only PNG files, please.",
    )
    assert second["state"] == "done"
    info = read(dash_duo, "#up .dfc-upload-file[data-state=error] .dfc-upload-info")
    assert info == "Only PNG files, please. (HTTP 422)"
    # `files` lists only the upload that completed; a 4xx is not retried.
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    assert [f["name"] for f in files] == ["fine.txt"]
    assert methods(tus_server, "POST") == 2
    assert tus_server.uploads() == [("fine.txt", sha256(accepted))]
    dash_duo.driver.save_screenshot(str(tmp_path / "cached_upload_server_refusal.png"))
    assert console_errors(dash_duo, allowed=[tus_server.url]) == []


def test_dropped_files_upload(dash_duo, tus_server, tmp_path):
    dash_duo.start_server(upload_app(tus_server.url, multiple=True))
    choose(dash_duo, [])  # waits for the chunk
    # A drop as the browser makes it, with files made in the page.
    dash_duo.driver.execute_script(
        "const dt = new DataTransfer();"
        "dt.items.add(new File(['first dropped'], 'one.txt', {type: 'text/plain'}));"
        "dt.items.add(new File([new Uint8Array(70000).fill(7)], 'two.bin'));"
        "const zone = document.querySelector('#up .dfc-upload-zone');"
        "const init = {dataTransfer: dt, bubbles: true, cancelable: true};"
        "for (const type of ['dragenter', 'dragover', 'drop']) {"
        "  zone.dispatchEvent(new DragEvent(type, init));"
        "}"
    )
    files = wait_for(lambda: read_json(dash_duo, "#files"), 30, "files")
    assert [(f["name"], f["size"], f["type"]) for f in files] == [
        ("one.txt", 13, "text/plain"),
        ("two.bin", 70000, None),
    ]
    assert tus_server.uploads() == sorted(
        [("one.txt", sha256(b"first dropped")), ("two.bin", sha256(bytes([7]) * 70000))]
    )
    assert dash_duo.find_element("#up .dfc-upload-zone").get_attribute("data-dragging") == "false"


def test_parallel_uploads_are_joined_by_the_server(dash_duo, tus_server, tmp_path):
    data = tmp_path / "parts.bin"
    data.write_bytes(os.urandom(1024 * 1024 + 3))
    dash_duo.start_server(upload_app(tus_server.url, parallel_uploads=3))
    choose(dash_duo, [data])
    files = wait_for(lambda: read_json(dash_duo, "#files"), 30, "files")
    assert [(f["name"], f["size"]) for f in files] == [("parts.bin", data.stat().st_size)]
    # Three partial uploads, then one final upload that concatenates them (tus concatenation).
    assert methods(tus_server, "POST") == 4
    finals = [(m["filename"], sha256(p)) for p, m in tus_server.completed if m.get("filename")]
    assert finals == [("parts.bin", sha256(data))]
