"""usage.py, the demo: its six panels in headless Chromium, and a clean shutdown."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import psutil
import pytest
import requests

from tests.support.polling import wait_http
from tests.support.processes import ROOT, free_port

from .conftest import console_errors, finished_downloads, load_script, read, wait_for

pytestmark = pytest.mark.browser

MB = 1 << 20

# Every value the progress bar shows, recorded in the page (no polling gaps).
RECORD_PROGRESS = """
const [selector, name] = arguments;
const seen = window[name] = [];
const root = document.querySelector(selector);
const note = () => {
    const bar = root.querySelector('.progress-bar');
    const value = bar && bar.getAttribute('aria-valuenow');
    if (value !== null && value !== seen[seen.length - 1]) { seen.push(value); }
};
new MutationObserver(note).observe(root, {attributes: true, childList: true, subtree: true});
"""


def load_usage() -> ModuleType:
    """Import usage.py from the repository root (also when pytest runs elsewhere)."""
    return load_script(ROOT / "usage.py", "usage")


def text_of(dash_duo, selector: str) -> str:
    return read(dash_duo, selector) or ""


def test_demo_panels(browser):
    usage = load_usage()
    with usage.DemoResources() as resources:
        app = usage.create_app(resources, file_mb=3, queue_mb=1, steps=8, step_delay=0.1)
        browser.start_server(app)

        # 1. The image drawn by a callback, shown by CachedImage; a new colour, a new address.
        wait_for(lambda: text_of(browser, "#image-status") == "Loaded, 480 x 200 px.", 10)
        first = read(browser, "#image", "src")
        assert "/cached-data?uid=" in first
        browser.driver.find_element("xpath", "//label[text()='orange']").click()
        wait_for(lambda: read(browser, "#image", "src") not in (first, None), 10, "new src")
        wait_for(lambda: text_of(browser, "#image-status") == "Loaded, 480 x 200 px.", 10)

        # 2. A CSV made by a callback, saved by CachedDownload.
        rows = browser.find_element("#csv-rows")
        browser.clear_input(rows)
        rows.send_keys("50")
        browser.find_element("#csv-button").click()
        wait_for(lambda: text_of(browser, "#csv-status") == "Saved table-50.csv.", 15)
        (saved,) = wait_for(lambda: finished_downloads(browser.download_path), 15, "the CSV")
        assert saved.name == "table-50.csv"
        lines = saved.read_text().splitlines()
        assert lines[0] == "index,angle,sine,cosine" and len(lines) == 51

        # 3 and 4. Background callbacks: progress up to 100%, then the file is served.
        for name in ("file", "queue"):
            browser.driver.execute_script(RECORD_PROGRESS, f"#{name}-progress", f"__{name}")
        browser.find_element("#file-build").click()
        browser.find_element("#queue-build").click()
        expected = (
            ("file", "/cached-file", 3 * MB, "report-disk-1.csv"),
            ("queue", "/cached-queue", MB, "report-queue-1.csv"),
        )
        for name, route, size, file_name in expected:
            href = wait_for(
                lambda name=name: read(browser, f"#{name}-result a", "href"), 60, f"{name} result"
            )
            assert href.startswith(f"{browser.server_url}{route}?uid=")
            bar = f"#{name}-progress .progress-bar"
            assert (
                browser.driver.execute_script(
                    "return document.querySelector(arguments[0]).getAttribute('aria-valuenow')", bar
                )
                == "100"
            )
            assert text_of(browser, f"#{name}-percent") == "100%"  # shown beside the bar
            seen = browser.driver.execute_script(f"return window.__{name}")
            assert seen[-1] == "100" and len(seen) >= 2, seen  # steps shown on the way

            answer = requests.get(href, timeout=10)
            assert answer.status_code == 200
            assert answer.headers["Content-Type"].startswith("text/csv")
            disposition = answer.headers["Content-Disposition"]
            assert disposition.startswith("attachment") and file_name in disposition
            assert answer.content.startswith(b"index,time,value\n")
            assert size <= len(answer.content) < size + 100
            assert answer.content.endswith(b"\n")
        assert console_errors(browser) == []

        assert resources.manager is not None
        manager_process = resources.manager._process
        assert manager_process.is_alive()

    # Clean shutdown: the Manager stopped, the temporary folder gone.
    assert not manager_process.is_alive()
    assert not Path(resources.root).exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_demo_script_stops_cleanly(tmp_path, signum):
    """`python usage.py` serves, then on Ctrl+C or SIGTERM removes all it created."""
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "usage.py"), "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        started = wait_for(
            lambda: re.search(r"temporary files in (\S+)\)", log.read_text()), 30, "start line"
        )
        temp_root = Path(started.group(1))
        url = f"http://127.0.0.1:{port}"
        wait_http(url, 30, proc=proc, status=200)
        assert requests.get(f"{url}/assets/dfc-demo.css", timeout=5).status_code == 200
        assert temp_root.is_dir()
        helpers = psutil.Process(proc.pid).children(recursive=True)
        assert helpers, "the Manager process should be running"

        proc.send_signal(signum)
        assert proc.wait(20) == 0, log.read_text()
        assert not temp_root.exists()
        _, alive = psutil.wait_procs(helpers, timeout=10)
        assert not alive
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def choose_files(dash_duo, selector: str, paths) -> None:
    """Choose files in a CachedUpload's file input (visually hidden, so sent keys directly)."""
    field = wait_for(
        lambda: dash_duo.driver.find_elements("css selector", f"{selector} input[type=file]"),
        15,
        "the CachedUpload chunk to load",
    )[0]
    field.send_keys("\n".join(str(p) for p in paths))


def saved_file(dash_duo, name: str, timeout: float) -> Path:
    """The finished download called ``name``."""
    saved = wait_for(
        lambda: next(
            (p for p in finished_downloads(dash_duo.download_path) if p.name == name), None
        ),
        timeout,
        f"{name} saved",
    )
    assert saved is not None  # wait_for returns only a truthy value: the path
    return saved


def files_in_work_files_out(browser, tmp_path: Path, base: str) -> None:
    """Panel 5 as a person uses it, on the page open at ``base``: two files uploaded at once,
    the PNG shown back, the CSV summarised by a background job whose result is saved."""
    from .test_cached_image import make_png

    picture = tmp_path / "picture.png"
    picture.write_bytes(make_png(40, 24))
    table = tmp_path / "table.csv"
    table.write_text(
        "name,x,y\n" + "".join(f"p{i},{i},{i * i / 2}\n" for i in range(1, 2001)), "utf-8"
    )
    # The page may still be rendering: wait for the button, disabled until a CSV arrives.
    wait_for(lambda: read(browser, "#summary-build", "disabled") is not None, 30, "the page")
    assert read(browser, "#summary-build", "disabled") is True
    choose_files(browser, "#upload", [picture, table])

    # The PNG comes straight back by its address, from the CacheFile.
    wait_for(
        lambda: (
            browser.driver.execute_script(
                "const i = document.querySelector('#upload-previews img');"
                "return i && i.complete && i.naturalWidth;"
            )
            == 40
        ),
        30,
        "the PNG shown",
    )
    src = read(browser, "#upload-previews img", "src")
    assert src.startswith(f"{base}/cached-file?uid=")
    for _ in range(4):  # whichever process answers
        assert requests.get(src, timeout=10).content == picture.read_bytes()
    previews = text_of(browser, "#upload-previews")
    assert "picture.png" in previews and "table.csv" in previews
    # Each row names its file (the panel is narrow: CachedUpload's container query).
    names = browser.driver.execute_script(
        "return [...document.querySelectorAll('#upload .dfc-upload-name')]"
        ".map(n => [n.textContent, n.getBoundingClientRect().width > 40]);"
    )
    assert names == [["picture.png", True], ["table.csv", True]]
    states = browser.driver.execute_script(
        "return [...document.querySelectorAll('#upload .dfc-upload-file')]"
        ".map(r => r.dataset.state);"
    )
    assert states == ["done", "done"]

    # The background job reads the CSV from the cache, with its progress shown.
    browser.driver.execute_script(RECORD_PROGRESS, "#summary-progress", "__summary")
    wait_for(lambda: read(browser, "#summary-build", "disabled") is False, 10, "enabled")
    assert text_of(browser, "#summary-build") == "Summarise table.csv"
    browser.find_element("#summary-build").click()
    wait_for(
        lambda: (
            text_of(browser, "#summary-result") == "table.csv: 2,000 rows, 3 columns (name, x, y)."
        ),
        60,
        "the summary",
    )
    seen = browser.driver.execute_script("return window.__summary")
    assert seen[-1] == "100" and len(seen) >= 2, seen

    # Files out: the result, written into the cache, saved by CachedDownload.
    wait_for(lambda: read(browser, "#summary-save", "disabled") is False, 10, "save enabled")
    browser.find_element("#summary-save").click()
    saved = saved_file(browser, "summary-table.csv", 15)
    assert saved.read_text().splitlines() == [
        "column,values,numbers,min,max,mean",
        "name,2000,0,,,",
        "x,2000,2000,1,2000,1000.5",
        f"y,2000,2000,0.5,2e+06,{sum(i * i / 2 for i in range(1, 2001)) / 2000:g}",
    ]
    wait_for(lambda: text_of(browser, "#summary-status") == "Saved summary-table.csv.", 10)


def large_file_streamed(browser, blocks) -> None:
    """Panel 6 as a person uses it: 8 MiB written into the cache, saved byte-exact in stream
    mode with its progress, next to what dcc.Download would have cost."""
    wait_for(lambda: "64.0 MiB file" in text_of(browser, "#large-cost"), 10, "cost line")
    browser.driver.find_element("xpath", "//label[text()='8.0 MiB']").click()
    wait_for(
        lambda: text_of(browser, "#large-cost").startswith(
            "dcc.Download(dcc.send_file(...)) would send this 8.0 MiB file as one 11.5 MiB "
            "JSON answer (base64), grow the server worker by about 53.3 MiB"
        ),
        10,
        "the cost of 8 MiB",
    )
    assert "docs/performance.md, section 6" in text_of(browser, "#large-cost")

    browser.driver.execute_script(RECORD_PROGRESS, "#large-progress", "__large")
    browser.find_element("#large-make").click()
    # Only this text in stream mode: a fall-back to native mode says so.
    wait_for(lambda: text_of(browser, "#large-status") == "Saved large-8MiB.bin.", 30, "saved")
    saved = saved_file(browser, "large-8MiB.bin", 15)
    assert saved.stat().st_size == 8 * MB
    assert saved.read_bytes() == b"".join(blocks(8 * MB))
    seen = browser.driver.execute_script("return window.__large")
    assert seen[-1] == "100", seen
    assert text_of(browser, "#large-percent") == "100%"


def test_demo_files_in_work_files_out(browser, tmp_path):
    usage = load_usage()
    with usage.DemoResources() as resources:
        browser.start_server(usage.create_app(resources, steps=5, step_delay=0.1))
        files_in_work_files_out(browser, tmp_path, browser.server_url)
        assert console_errors(browser) == []


def test_demo_large_file_streamed(browser):
    usage = load_usage()
    with usage.DemoResources() as resources:
        browser.start_server(usage.create_app(resources))
        large_file_streamed(browser, usage.large_blocks)
        assert console_errors(browser) == []
