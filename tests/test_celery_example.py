"""examples/celery_redis.py end to end: redis-server, a Celery worker, gunicorn, Chromium.

The browser clicks the button; the background callback runs in the Celery
worker, which registers a CSV in CacheRedis; the browser then fetches the
address from the web server (two gunicorn workers) and gets the CSV.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, NamedTuple

import psutil
import pytest
import requests

from tests.browser.conftest import CHROME_ARGS, CHROMEDRIVER, CHROMIUM
from tests.support.processes import ROOT, stop_processes
from tests.support.redis import REDIS_SERVER, RedisServer, redis_server
from tests.support.servers import start_server

pytest.importorskip("redis", reason="the redis package is not installed")
pytest.importorskip("celery", reason="celery is not installed (pip install celery)")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")


pytestmark = [
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromedriver are needed"
    ),
]


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


class Stack(NamedTuple):
    url: str
    gunicorn_pid: int


@pytest.fixture
def example_stack(own_redis: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    """Start the Celery worker and the Dash app (gunicorn, 2 workers)."""
    env = dict(os.environ, DFC_REDIS_URL=own_redis.url, DASH_SECRET_KEY="test-secret")
    procs: List[subprocess.Popen[bytes]] = []
    celery_cmd = [
        sys.executable, "-m", "celery", "-A", "examples.celery_redis:celery_app",
        "worker", "--pool=solo", "--loglevel=warning", "--without-heartbeat",
        "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    with open(tmp_path / "celery.log", "wb") as log:
        procs.append(
            subprocess.Popen(
                celery_cmd,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        web = start_server(
            "examples.celery_redis:server",
            workers=2,
            threads=1,
            env=env,
            log_dir=tmp_path,
            ready_path="/",
        )
    except BaseException:
        stop_processes(procs)
        raise
    try:
        yield Stack(web.url, web.proc.pid)
    finally:
        web.stop()
        stop_processes(procs)
        for log_path in (tmp_path / "celery.log", web.log):
            text = log_path.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log_path.name} ---\n{text}")


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    assert CHROMEDRIVER is not None  # the module is skipped without it
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


_FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0])
  .then(r => r.text().then(t => done([r.status, r.headers.get('content-disposition'), t])))
  .catch(e => done(['error', String(e), '']));
"""


def test_background_callback_file_reaches_the_browser(example_stack: Stack, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(example_stack.url)
    button = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "make"))
    button.click()

    def link_href(driver) -> str:
        href = driver.find_element(By.ID, "link").get_attribute("href") or ""
        return href if "/cached-data?uid=" in href else ""

    href = WebDriverWait(browser, 60, poll_frequency=0.2).until(link_href)
    assert browser.find_element(By.ID, "link").text == "Download report-1.csv"
    status = browser.find_element(By.ID, "status").text
    assert status.startswith("Report 1 ready")
    pid_match = re.search(r"worker pid (\d+)", status)
    assert pid_match is not None, status
    celery_pid = int(pid_match.group(1))

    status_code, disposition, text = browser.execute_async_script(_FETCH, href)
    assert status_code == 200, text
    assert disposition == "attachment; filename=report-1.csv"
    lines = text.splitlines()
    assert lines[0] == "row,value" and len(lines) == 1001

    # The web workers serve what the Celery worker made.
    web_pids = {example_stack.gunicorn_pid} | {
        child.pid for child in psutil.Process(example_stack.gunicorn_pid).children()
    }
    assert celery_pid not in web_pids
    for _ in range(4):
        response = requests.get(href, headers={"Connection": "close"}, timeout=30)
        assert response.status_code == 200 and response.text == text
