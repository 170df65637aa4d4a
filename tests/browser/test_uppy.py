"""Uppy (``@uppy/core`` with ``@uppy/tus``) against the upload endpoint, in headless Chromium.

Uppy is an independent tus client that Dash apps may use instead of ``CachedUpload``
(issue 21 names it). The page is a plain HTML page on a server of its own, so the
uploads go across origins as they would from an app on another host: the service
allows that origin (``allowed_cross_origin``) and must expose the tus headers Uppy
reads (``Location``, ``Upload-Offset``). Every file must come out of the cache byte
for byte, through its address and through ``service.read``.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app
from tests.support import close_cache, make_cache
from tests.support.processes import ROOT
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.browser

TUS = {"Tus-Resumable": "1.0.0"}
KiB, MiB = 1024, 1024 * 1024
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Uppy</title><script src="uppy.js"></script></head>
<body><p id="ready">ready</p></body></html>
"""
#: Runs in the page: ``(endpoint, chunkSize, files, done)``, files as ``[name, type, base64]``.
UPLOAD_SCRIPT = """
const [endpoint, chunkSize, files, done] = arguments;
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const uppy = new Uppy({autoProceed: false}).use(UppyTus, {
    endpoint, chunkSize, retryDelays: [0, 300], removeFingerprintOnSuccess: true,
});
for (const [name, type, b64] of files) {
    uppy.addFile({name, type, data: new Blob([bytes(b64)], {type})});
}
uppy.upload().then(
    (result) => done({
        ok: result.successful.map((f) => ({name: f.name, url: f.uploadURL})),
        failed: result.failed.map((f) => String(f.error)),
    }),
    (error) => done({ok: [], failed: [String(error)]}),
);
"""


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the test page and Uppy bundled for it (webpack, ~1 s)."""
    folder = tmp_path_factory.mktemp("uppy-page")
    subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "webpack"), "--config",
         str(ROOT / "tests" / "js" / "uppy.webpack.config.mjs"), "--output-path", str(folder)],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    (folder / "index.html").write_text(PAGE, encoding="utf-8")
    return folder


def static_app(folder: Path) -> Any:
    """A WSGI app serving the files of ``folder`` (werkzeug's static files middleware)."""
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    return SharedDataMiddleware(NotFound(), {"/": str(folder)})


def payload(size: int, seed: int) -> bytes:
    """``size`` bytes that differ from file to file and block to block."""
    block = bytes((i * 131 + seed * 17) % 251 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


def upload_with_uppy(browser: Any, page: str, endpoint: str, chunk: int,
                     files: Dict[str, bytes]) -> Dict[str, Any]:  # fmt: skip
    driver = browser.driver
    driver.get(page + "/index.html")
    browser.wait_for_element("#ready", timeout=20)
    driver.set_script_timeout(120)
    args: List[List[str]] = [
        [name, "application/octet-stream", base64.b64encode(data).decode("ascii")]
        for name, data in files.items()
    ]
    return dict(driver.execute_async_script(UPLOAD_SCRIPT, endpoint, chunk, args))


@pytest.mark.parametrize("backend", ["flask", "fastapi", "quart"])
def test_uppy_uploads_across_origins_byte_for_byte(
    browser: Any, page_dir: Path, tmp_path: Path, backend: str
) -> None:
    cache = make_cache("file", tmp_path / "cache")
    files = {
        "chunked.bin": payload(2 * MiB + 12_345, 1),  # three PATCHes of at most 1 MiB
        "small.csv": payload(100 * KiB, 2),
        "empty.txt": b"",
    }
    try:
        with serve_in_thread(static_app(page_dir), "flask") as page:
            service = dfc.ServiceData(cache, uploads=dfc.UploadPolicy(), allowed_cross_origin=page)
            with serve_in_thread(build_app(service, backend), backend) as base:
                endpoint = base + service.upload_address
                result = upload_with_uppy(browser, page, endpoint, MiB, files)
                assert result["failed"] == []
                uploaded = {f["name"]: f["url"] for f in result["ok"]}
                assert set(uploaded) == set(files)
                for name, data in files.items():
                    url = uploaded[name]
                    assert url.startswith(endpoint + "/")  # Location was exposed
                    head = requests.head(url, headers=TUS, timeout=10)
                    assert head.headers["Upload-Offset"] == str(len(data))
                    address = head.headers["Cached-Address"]
                    got = requests.get(base + address, timeout=30)
                    assert got.status_code == 200 and got.content == data, name
                    # the name Uppy sent as metadata is the item's file name
                    assert got.headers["Content-Disposition"].endswith(f"filename={name}")
                    with service.read(address) as stream:
                        assert stream.read() == data
    finally:
        close_cache(cache)
