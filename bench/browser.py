"""Browser side: downloads of the big file in headless Chromium.

Four ways to start it from a Dash page: clicking an ``<a>`` to the address
(``&download=true``), and ``CachedDownload`` in its three modes (native,
fetch, stream). The file is complete when it has its final name and size in
the download directory (for the in-page modes, also when the component reports
done); its SHA-256 is checked against the original.

Memory, sampled every 20 ms from the click until the file is complete, as
growth = peak RSS minus RSS at the click: ``renderer_growth`` of the summed
renderer processes (the page's, and a service worker's wherever Chromium puts
it), ``chromium_all_growth`` of all Chromium processes summed (browser,
network service, GPU, ...), and ``per_process`` each process on its own, with
its kind, so a row says which process grew. ``python -m bench.browser`` runs
this section alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

import psutil

from .server import GunicornServer, RssSampler

__all__ = ["CDL_KEYS", "CHROMIUM_ARGS", "ProcessPeaks", "chromium_paths", "section_browser"]

#: Result key and element id prefix of each CachedDownload mode (bench/apps.py).
#: Stream runs before fetch, so that fetch's freed Blob memory cannot hide its growth.
CDL_KEYS = [
    ("cached_download", "cdl"),
    ("cached_download_stream", "cdl-stream"),
    ("cached_download_fetch", "cdl-fetch"),
]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_paths() -> Tuple[str, str]:
    """``(chromium, chromedriver)``: ``DASH_TEST_CHROMEPATH`` / ``DASH_TEST_CHROMEDRIVER``
    as for the browser tests, else found on ``PATH``.

    Raises:
        FileNotFoundError: one of them is neither set nor on ``PATH``.
    """
    chromium = os.environ.get("DASH_TEST_CHROMEPATH") or next(
        filter(None, map(shutil.which, ["chromium", "chromium-browser", "google-chrome"])), None
    )
    driver = os.environ.get("DASH_TEST_CHROMEDRIVER") or shutil.which("chromedriver")
    if not chromium:
        raise FileNotFoundError("Chromium not found: install it or set DASH_TEST_CHROMEPATH.")
    if not driver:
        raise FileNotFoundError("chromedriver not found: install it or set DASH_TEST_CHROMEDRIVER.")
    return chromium, driver


def _driver(download_dir: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(download_dir),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "safebrowsing.enabled": False,
        },
    )
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)}
    )
    return driver


def _chromium_procs(driver: Any) -> List[psutil.Process]:
    """Chromium processes under the chromedriver started for ``driver``."""
    root = psutil.Process(driver.service.process.pid)
    return [p for p in root.children(recursive=True) if "chrom" in p.name().lower()]


def _renderer_pids(driver: Any) -> List[int]:
    pids = []
    for proc in _chromium_procs(driver):
        try:
            if "--type=renderer" in proc.cmdline():
                pids.append(proc.pid)
        except psutil.Error:
            pass
    return pids


def _all_chromium_pids(driver: Any) -> List[int]:
    return [p.pid for p in _chromium_procs(driver)]


def _process_kind(proc: psutil.Process) -> str:
    """``browser``, ``renderer``, ``gpu-process``, or a utility's sub-type (``network``...)."""
    try:
        args = proc.cmdline()
    except psutil.Error:
        return "gone"
    kind = next((a.split("=", 1)[1] for a in args if a.startswith("--type=")), "browser")
    if kind == "utility":
        sub = next((a.split("=", 1)[1] for a in args if a.startswith("--utility-sub-type=")), "")
        kind = sub.rsplit(".", 1)[-1].replace("Service", "").lower() or kind
    return kind


class ProcessPeaks:
    """Per-process RSS peaks of the Chromium processes, sampled in a thread.

    ``report()`` lists each process that lived during sampling with its kind,
    RSS when sampling started (or when it appeared), peak RSS and growth, in
    MiB, so that a bench row says which process grew (the page's renderer,
    a service worker's, the network service, the browser).
    """

    def __init__(self, driver: Any, interval: float = 0.02) -> None:
        self._driver = driver
        self.interval = interval
        self._seen: Dict[int, Dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for proc in _chromium_procs(self._driver):
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            entry = self._seen.get(proc.pid)
            if entry is None:
                self._seen[proc.pid] = {"kind": _process_kind(proc), "idle": rss, "peak": rss}
            else:
                entry["peak"] = max(entry["peak"], rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> ProcessPeaks:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sample()

    def report(self) -> List[Dict[str, Any]]:
        """One row per process, largest growth first (MiB, one decimal)."""
        mib = float(1 << 20)
        rows = [
            {
                "pid": pid,
                "kind": e["kind"],
                "idle_mib": round(e["idle"] / mib, 1),
                "peak_mib": round(e["peak"] / mib, 1),
                "growth_mib": round((e["peak"] - e["idle"]) / mib, 1),
            }
            for pid, e in self._seen.items()
        ]
        return sorted(rows, key=lambda r: -r["growth_mib"])


def _mode_of(key: str) -> str:
    return key.rsplit("_", 1)[1] if key.count("_") > 1 else "native"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _wait_file(path: Path, size: int, timeout: float) -> float:
    """Wait until ``path`` exists with ``size`` bytes and no partial download remains."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size == size:
            partial = list(path.parent.glob("*.crdownload"))
            if not partial:
                return time.perf_counter()
        time.sleep(0.01)
    raise TimeoutError(f"download of {path.name} not complete after {timeout} s")


def _one_download(
    driver: Any,
    button: str,
    download_dir: Path,
    name: str,
    size: int,
    timeout: float,
    digest: str = "",
) -> Dict[str, Any]:
    from selenium.webdriver.common.by import By

    for old in download_dir.iterdir():
        old.unlink()
    time.sleep(0.5)
    with (
        RssSampler(lambda: _renderer_pids(driver), interval=0.02) as renderers,
        RssSampler(lambda: _all_chromium_pids(driver), interval=0.02) as everything,
        ProcessPeaks(driver) as per_process,
    ):
        t0 = time.perf_counter()
        driver.find_element(By.ID, button).click()
        t1 = _wait_file(download_dir / name, size, timeout)
    result = {
        "seconds": t1 - t0,
        "mib_s": size / (1 << 20) / (t1 - t0),
        "renderer_idle_rss": renderers.idle,
        "renderer_peak_rss": renderers.peak,
        "renderer_growth": renderers.growth,
        "chromium_all_idle_rss": everything.idle,
        "chromium_all_peak_rss": everything.peak,
        "chromium_all_growth": everything.growth,
        "per_process": per_process.report(),
    }
    if digest:
        result["identical"] = _sha256(download_dir / name) == digest
    (download_dir / name).unlink()
    return result


def section_browser(
    cache_dir: Path,
    tmp: Path,
    big: Path,
    size: int,
    workers: int,
    threads: int,
    timeout: float,
    modes: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """Download ``big`` by address in headless Chromium: via ``<a>`` and ``CachedDownload``.

    ``modes`` limits the ``CachedDownload`` modes run (default: all three).
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    download_dir = tmp / "browser-downloads"
    download_dir.mkdir(exist_ok=True)
    out: Dict[str, Any] = {"size": size, "chromium_args": CHROMIUM_ARGS}
    with GunicornServer(workers, threads, cache_dir) as server:
        has_component = bool(server.info()["cached_download"])
        addr = server.register(big)["address"] + "&download=true"
        driver = _driver(download_dir)
        try:
            out["chromium_version"] = driver.capabilities.get("browserVersion")
            driver.get(f"{server.url}/?addr={quote(addr, safe='')}")
            wait = WebDriverWait(driver, 30)
            wait.until(lambda d: d.find_element(By.ID, "link").get_attribute("href").endswith(addr))
            out["anchor"] = _one_download(driver, "link", download_dir, big.name, size, timeout)
            if has_component:
                digest = _sha256(big)
                for key, prefix in CDL_KEYS:
                    if modes is not None and _mode_of(key) not in modes:
                        continue
                    wait.until(ec.element_to_be_clickable((By.ID, f"{prefix}-go")))
                    try:
                        entry = _one_download(
                            driver, f"{prefix}-go", download_dir, big.name, size, timeout, digest
                        )
                        status_id = f"{prefix}-status"
                        # In-page modes report done when the last byte is handed over.
                        wait.until(lambda d, i=status_id: '"done"' in d.find_element(By.ID, i).text)
                        entry["status"] = json.loads(driver.find_element(By.ID, status_id).text)
                    except Exception as e:  # one mode failing keeps the others
                        entry = {"error": f"{type(e).__name__}: {e}"}
                    out[key] = entry
            else:
                for key, _ in CDL_KEYS:
                    out[key] = {"skipped": "CachedDownload is not built"}
        finally:
            driver.quit()
            shutil.rmtree(download_dir, ignore_errors=True)
    return out


def main(argv: Optional[List[str]] = None) -> None:
    """``python -m bench.browser [--size-mib N] [--modes native,stream,fetch]``.

    Section 8 alone (1 GiB by default); prints its JSON.
    """
    import argparse
    import dataclasses
    import tempfile

    from .cases import MIB, Plan, make_files

    parser = argparse.ArgumentParser(prog="python -m bench.browser")
    parser.add_argument("--size-mib", type=int, default=Plan().big // MIB)
    parser.add_argument("--modes", default="native,stream,fetch")
    args = parser.parse_args(argv)
    plan = dataclasses.replace(Plan(), big=args.size_mib * MIB)
    tmp = Path(tempfile.mkdtemp(prefix="dfc-bench-browser-"))
    try:
        files = make_files(tmp, plan)
        out = section_browser(
            tmp / "cache-browser",
            tmp,
            files["big"],
            plan.big,
            plan.workers,
            plan.threads,
            plan.request_timeout,
            modes=args.modes.split(","),
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
