"""Components and the demo in headless Chromium on each Dash server backend.

CachedImage, CachedDownload, a background callback and an expired link, with
the app of ``tests/apps/backend_app.py`` on real servers (gunicorn, uvicorn,
hypercorn); and ``usage.py`` run with ``DFC_DEMO_BACKEND``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, cast

import pytest
import requests

from tests.support.polling import wait_http
from tests.support.processes import ROOT, free_port

from ..test_backends import start_server, stop_processes
from .conftest import console_errors, finished_downloads, read, wait_for
from .test_demo_usage import files_in_work_files_out

pytest.importorskip("dash.backends", reason="Dash < 4.2 has no FastAPI/Quart backends")
pytestmark = pytest.mark.browser

BACKENDS = ["flask-gunicorn", "fastapi-uvicorn", "quart-hypercorn"]


@pytest.mark.parametrize("name", BACKENDS)
def test_components_on_backend(browser, name: str, tmp_path: Path) -> None:
    proc = start_server(name, tmp_path / "cache")
    try:
        base = proc.url  # type: ignore[attr-defined]
        browser.driver.get(base + "/")
        browser.wait_for_element("#show", timeout=20)

        browser.find_element("#show").click()
        wait_for(lambda: browser.find_element("#image-status").text == "loaded", 20, "image")
        width = browser.driver.execute_script(
            "return document.querySelector('#image img, img#image').naturalWidth"
        )
        assert width == 40

        browser.find_element("#csv").click()
        wait_for(lambda: browser.find_element("#download-status").text == "done", 20, "csv")
        files = wait_for(lambda: finished_downloads(browser.download_path), 20, "saved file")
        assert [f.name for f in files] == ["table.csv"]
        assert files[0].read_bytes() == b"a,b\n1,2\n"

        browser.find_element("#make").click()  # a DiskcacheManager job
        wait_for(lambda: "cached-data" in browser.find_element("#address").text, 60, "job")
        address = browser.find_element("#address").text
        browser.driver.get(base[: -len("/app")] + address)
        assert "made in a background job" in browser.driver.find_element("tag name", "body").text

        # A person opening an expired link gets a page, not JSON.
        browser.driver.get(base + "/cached-data?uid=" + "c" * 32)
        body = browser.driver.find_element("tag name", "body").text
        assert "This file has expired" in body and "make the file again" in body
    finally:
        stop_processes([proc])


@pytest.mark.parametrize("backend", ["fastapi", "quart"])
def test_demo_on_backend(browser, backend: str, tmp_path) -> None:
    """``DFC_DEMO_BACKEND=<backend> python usage.py``: image, CSV, both background panels, and
    files in (uploads, the background job reading one, its result saved)."""
    port = free_port()
    env = dict(os.environ, DFC_DEMO_BACKEND=backend)
    cmd = [sys.executable, "usage.py", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/", proc=proc)
        browser.driver.get(base + "/")
        wait_for(lambda: read(browser, "#image-status") == "Loaded, 480 x 200 px.", 20, "image")
        browser.find_element("#csv-button").click()
        (saved,) = wait_for(lambda: finished_downloads(browser.download_path), 20, "the CSV")
        assert saved.suffix == ".csv" and saved.read_text().startswith("index,")
        browser.find_element("#file-build").click()
        browser.find_element("#queue-build").click()
        for name in ("file", "queue"):
            href = wait_for(
                cast(Callable[[], Any], lambda n=name: read(browser, f"#{n}-result a", "href")),
                90,
                name,
            )
            answer = requests.get(href, timeout=30)
            assert answer.status_code == 200, name
            assert answer.content.startswith(b"index,time,value\n")
        files_in_work_files_out(browser, tmp_path, base)
        assert console_errors(browser) == []
    finally:
        stop_processes([proc])
