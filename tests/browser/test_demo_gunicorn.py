"""usage.py as deployed: ``gunicorn -w 4 --keep-alive 0 usage:server``, driven in Chromium.

Every panel must work when any of four processes may answer any request (no keep-alive, as
behind a load balancer): the image, the CSV download (and its input check), both background
panels with their progress. The page says which cache each panel uses. SIGTERM to the master
leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import requests

from ..conftest import ROOT, free_port, stop_processes, wait_http
from .conftest import console_errors, finished_downloads, read, wait_for
from .test_demo_usage import (
    RECORD_PROGRESS,
    files_in_work_files_out,
    large_file_streamed,
    load_usage,
)

pytestmark = pytest.mark.browser
MB = 1 << 20


@pytest.fixture
def demo_server(tmp_path):
    """The demo under gunicorn, 4 workers, no keep-alive; yields (url, process)."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DFC_DEMO_DIR", "DFC_DEMO_STYLESHEET")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "4",
                "--keep-alive",
                "0",
                "-b",
                f"127.0.0.1:{port}",
                "usage:server",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/", timeout=60, proc=proc)
        yield url, proc
    finally:
        stop_processes([proc] if proc.poll() is None else [])


def all_ok(url: str, times: int = 16) -> bool:
    """``url`` answers 200 on ``times`` fresh connections (spread over the workers)."""
    return all(requests.get(url, timeout=10).status_code == 200 for _ in range(times))


def shared_dirs(master: int) -> list:
    return sorted(Path(tempfile.gettempdir()).glob(f"dfc-demo-shared-p{master}-*"))


def test_demo_under_gunicorn_every_panel(browser, demo_server):
    url, proc = demo_server
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 4
    (folder,) = shared_dirs(proc.pid)  # one folder for the four workers

    driver = browser.driver
    driver.get(url + "/")
    wait_for(lambda: read(browser, "#image-status") == "Loaded, 480 x 200 px.", 30, "image")

    # The page says which cache serves each panel: one CacheFile, shared by the workers.
    notes = driver.execute_script(
        "return [...document.querySelectorAll('.card-body > p:last-child')].map(p => p.textContent)"
    )
    assert notes == ["Served through CacheFile."] * 6

    # 1. The image: its address works whichever worker answers.
    src = read(browser, "#image", "src")
    assert src.startswith(url + "/cached-file?uid=") and all_ok(src)
    driver.find_element("xpath", "//label[text()='orange']").click()
    wait_for(lambda: read(browser, "#image", "src") not in (src, None), 15, "new src")
    wait_for(lambda: read(browser, "#image-status") == "Loaded, 480 x 200 px.", 15, "reload")

    # 2. The CSV: bad row counts are refused on the page, a good one downloads.
    rows = browser.find_element("#csv-rows")
    for bad in ("0", "-5", "2.5", "200000"):
        browser.clear_input(rows)
        rows.send_keys(bad)
        browser.find_element("#csv-button").click()
        refusal = (
            f"Not made: the number of rows must be a whole number from 1 to 100,000 (not {bad})."
        )
        wait_for(lambda refusal=refusal: read(browser, "#csv-status") == refusal, 15, refusal)
        browser.clear_input(rows)
    assert list(Path(browser.download_path).iterdir()) == []
    rows.send_keys("50")
    browser.find_element("#csv-button").click()
    wait_for(lambda: read(browser, "#csv-status") == "Saved table-50.csv.", 30, "the CSV")
    (saved,) = wait_for(lambda: finished_downloads(browser.download_path), 15, "the file")
    assert saved.name == "table-50.csv"
    assert len(saved.read_text().splitlines()) == 51

    # 3 and 4. Both background panels: progress shown on the way, then a working link.
    for name in ("file", "queue"):
        driver.execute_script(RECORD_PROGRESS, f"#{name}-progress", f"__{name}")
        browser.find_element(f"#{name}-build").click()
    for name, file_name in (("file", "report-disk-1.csv"), ("queue", "report-queue-1.csv")):
        href = wait_for(lambda name=name: read(browser, f"#{name}-result a", "href"), 120, name)
        assert href.startswith(url + "/cached-file?uid=")
        seen = driver.execute_script(f"return window.__{name}")
        assert seen[-1] == "100" and len(seen) >= 2, seen
        assert read(browser, f"#{name}-percent") == "100%"
        assert all_ok(href, 8)
        answer = requests.get(href, timeout=30)
        assert file_name in answer.headers["Content-Disposition"]
        assert answer.content.startswith(b"index,time,value\n")
    assert console_errors(browser) == []

    # SIGTERM to the master: the last worker out removes the shared folder.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert not folder.exists()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive


def test_demo_under_gunicorn_files_in_and_out(browser, demo_server, tmp_path):
    """Panels 5 and 6 when any of four processes may answer: each PATCH of an upload, the
    background job reading it and the result, the large file written then streamed."""
    url, _ = demo_server
    browser.driver.get(url + "/")
    files_in_work_files_out(browser, tmp_path, url)
    large_file_streamed(browser, load_usage().large_blocks)
    assert console_errors(browser) == []


def test_demo_progress_percent_fits(browser):
    """The percentage beside the thin bar is never clipped, from 0% to 100%."""
    usage = load_usage()
    with usage.DemoResources() as resources:
        app = usage.create_app(resources, file_mb=1, queue_mb=1, steps=4, step_delay=0.2)
        browser.start_server(app)
        fits = """
            const e = document.getElementById(arguments[0]);
            const bar = document.querySelector('#' + arguments[1] + ' .progress-bar');
            return [e.textContent, e.scrollWidth <= e.clientWidth
                && e.getBoundingClientRect().height >= e.scrollHeight - 1,
                bar ? bar.textContent : null];
        """
        browser.find_element("#file-build").click()
        seen = set()
        for _ in range(400):
            text, ok, inside = browser.driver.execute_script(fits, "file-percent", "file-progress")
            assert ok, text
            assert not inside  # nothing written inside the thin bar
            seen.add(text)
            if text == "100%" and read(browser, "#file-result a", "href"):
                break
            time.sleep(0.05)
        assert "100%" in seen and len(seen) >= 2, seen
