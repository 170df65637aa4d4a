"""Headless Chromium for the component tests (``dash.testing``'s ``dash_duo``).

Chromium and chromedriver are Debian's (``chromium``, ``chromium-driver``);
``DASH_TEST_CHROMEPATH`` / ``DASH_TEST_CHROMEDRIVER`` point elsewhere. Without
them every test here is skipped with the reason. The browser only talks to
the test server on 127.0.0.1: background networking, component updates,
sync and the first-run flow are off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Iterable, List, Optional, Type, cast

import pytest

from tests.support.polling import wait_for as wait_for  # re-exported for the browser tests
from tests.support.processes import free_port

CHROMIUM = os.environ.get("DASH_TEST_CHROMEPATH") or next(
    filter(None, map(shutil.which, ["chromium", "chromium-browser", "google-chrome"])), None
)
CHROMEDRIVER = os.environ.get("DASH_TEST_CHROMEDRIVER") or shutil.which("chromedriver")
if os.environ.get("DASH_TEST_CHROMEDRIVER"):
    # selenium 4.2 runs the `chromedriver` it finds on PATH.
    os.environ["PATH"] = (
        str(Path(os.environ["DASH_TEST_CHROMEDRIVER"]).parent) + os.pathsep + os.environ["PATH"]
    )

if TYPE_CHECKING:
    from selenium.webdriver.chrome.options import Options as ChromeOptions

#: Chrome's options class, or None without selenium.
Options: Optional[Type[ChromeOptions]]
try:
    from selenium.webdriver.chrome.options import Options
except ImportError:  # pragma: no cover - dash[testing] not installed
    Options = None

CHROME_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--window-size=1280,900",
    "--enable-precise-memory-info",
]


def _skip_reason() -> Optional[str]:
    if Options is None:
        return "selenium is not installed (pip install 'dash[testing]')"
    if not CHROMIUM or not os.path.exists(CHROMIUM):
        return "Chromium not found (apt-get install chromium, or set DASH_TEST_CHROMEPATH)"
    if not CHROMEDRIVER:
        return "chromedriver not found (apt-get install chromium-driver)"
    return None


SKIP_REASON = _skip_reason()


def pytest_setup_options():
    """dash.testing hook: the Chrome options of every ``dash_duo`` browser."""
    if SKIP_REASON:
        return None
    options = Options()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    return options


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if SKIP_REASON:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture
def browser(dash_duo):
    """``dash_duo``, whose downloads land in ``dash_duo.download_path``.

    dash.testing sets that folder as Chromium's download preference, which the
    new headless mode honours (and, unlike CDP's ``Browser.setDownloadBehavior``,
    it keeps the download manager's " (1)" suffixes for repeated names).
    """
    Path(dash_duo.download_path).mkdir(parents=True, exist_ok=True)
    return dash_duo


# -- helpers shared by the tests (polling: ``tests.support.wait_for``) ----------


def sha256(data_or_path) -> str:
    h = hashlib.sha256()
    if isinstance(data_or_path, (bytes, bytearray)):
        h.update(data_or_path)
        return h.hexdigest()
    with open(data_or_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def finished_downloads(folder: str) -> List[Path]:
    """Files in ``folder``, once no download is in progress.

    Chromium writes a download to a hidden ``.org.chromium.Chromium.*`` or a
    ``*.crdownload`` file and renames it when complete.
    """
    paths = sorted(Path(folder).iterdir())
    if any(p.suffix == ".crdownload" or p.name.startswith(".") for p in paths):
        return []
    return paths


def console_errors(dash_duo, allowed: Iterable[str] = ()) -> list:
    """SEVERE browser log entries, less the network lines for ``allowed`` URLs.

    An answer with an error status (the 404 of an expired address, expected
    in some tests) is always logged by Chromium itself as a network error;
    anything else (JavaScript errors, React warnings) is a failure.
    """
    allowed = list(allowed)
    return [
        entry
        for entry in dash_duo.get_logs()
        if not (
            entry.get("source") == "network"
            and any(part in entry.get("message", "") for part in allowed)
        )
    ]


def load_script(path: Path, module_name: str) -> ModuleType:
    """Import a script (``usage.py``, ``examples/*.py``) as a registered module.

    Registered in ``sys.modules`` so Flask finds its folder; imported once.
    """
    module = sys.modules.get(module_name)
    # a script registered here has a __file__ (as before, None would raise in Path)
    if module is not None and Path(cast(str, module.__file__)).resolve() == path.resolve():
        return module
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def read(dash_duo, selector: str, attribute: str = "textContent"):
    """A property of the element ``selector`` (read in the page: React may replace elements)."""
    return dash_duo.driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e[arguments[1]] : null;",
        selector,
        attribute,
    )


@pytest.fixture(autouse=True)
def _free_dash_port() -> None:
    """dash.testing's threaded server numbers its ports from 58050 in every process: start
    each test's from a free port, so parallel runs (xdist workers, other checkouts) never
    collide on one."""
    from dash.testing.application_runners import BaseDashRunner

    BaseDashRunner._next_port = free_port()
