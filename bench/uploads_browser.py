"""Uploads from headless Chromium: ``dcc.Upload`` vs ``CachedUpload`` (vs dash-uploader).

Run by hand (not part of the test suite; about 8 minutes)::

    export PYTHONPATH=$PWD
    .venv/bin/python -m bench.uploads_browser                   # everything below
    .venv/bin/python -m bench.uploads_browser --sizes 64 --rounds 1 --no-limit --no-big --no-du
    # where dcc.Upload fails, when it already fails at 256 MiB:
    .venv/bin/python -m bench.uploads_browser --sizes 128 --rounds 1 --limit-sizes 160,192,224 \
        --no-big --no-du
    # the same with V8's heap limit raised (it still fails at 192 MiB: not the heap):
    .venv/bin/python -m bench.uploads_browser --sizes 128 --rounds 1 --limit-sizes 190,192,256 \
        --no-big --no-du --chromium-arg=--js-flags=--max-old-space-size=16000

    # dash-uploader's row needs it next to our Dash in a throwaway venv (skipped without it):
    python -m venv /tmp/du && /tmp/du/bin/pip install dash-uploader==0.6.1 dash==4.4.1 gunicorn

The app is ``bench.uploads_dash`` (one ``CacheFile`` service with uploads on) under
``gunicorn -w 1 --threads 4 -k gthread``; every upload gets a fresh server and a fresh Chromium
(``bench.browser.CHROMIUM_ARGS``), so memory starts from idle. The file (random data, in the page
cache) is chosen by ``send_keys`` on the component's ``<input type=file>``; the clock runs from
then until the callback's output is on the page: for ``dcc.Upload`` the callback decoded the
bytes, for ``CachedUpload`` the ``files`` callback has the item's address (the bytes are in the
cache), for dash-uploader its ``du.callback`` saw the complete file on disk.

Measures: seconds; the worker's RSS growth (``VmRSS`` every 5 ms, peak minus before); the
renderer processes' summed RSS growth (every 20 ms); the page's peak ``JSHeapUsedSize`` (CDP
``Performance.getMetrics``, polled with the output) minus before.

Cases: ``--sizes`` (default 64 and 256 MiB) for ``dcc.Upload`` and ``CachedUpload``,
interleaved (dcc, cached, dcc, cached...) for ``--rounds`` rounds; then ``dcc.Upload`` at
``--limit-sizes`` (default 512 MiB and 1 GiB) with ``--limit-timeout`` seconds each, stopping at
the first failure; ``CachedUpload`` with 1 GiB (renderer growth); dash-uploader once at 256 MiB.
JSON and Markdown go to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from bench.browser import CHROMIUM_ARGS, _driver, _renderer_pids
from bench.server import RssSampler, machine_info
from bench.uploads import MiB, VmRssSampler, _uptime, finish, save
from tests.support.servers import Server, start_server

__all__ = ["main", "one_upload"]

RESULTS = Path(__file__).resolve().parent / "results"
DU_PYTHON = Path("/tmp/du/bin/python")
#: ``case -> (input selector, output element id)``.
CASES = {
    "dcc": ("#dcc-up input[type=file]", "dcc-out"),
    "cached": ("#cu input[type=file]", "cu-out"),
    "du": ("#du input[type=file]", "du-out"),
}


def _log(message: str) -> None:
    print(f"[uploads-browser {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_file(tmp: Path, size_mib: int) -> Path:
    """``size_mib`` MiB of random data (a 16 MiB block repeated) in ``tmp``."""
    path = tmp / f"upload-{size_mib}.bin"
    if not path.exists():
        block = os.urandom(16 * MiB)
        with open(path, "wb") as out:
            for offset in range(0, size_mib * MiB, len(block)):
                out.write(block[: min(len(block), size_mib * MiB - offset)])
    return path


def _server(case: str, cache_dir: Path) -> Server:
    env = {"BENCH_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(Path.cwd())}
    if case == "du":
        cmd_python = str(DU_PYTHON)
        target = "bench.uploads_du:create_server()"
    else:
        cmd_python = sys.executable
        target = "bench.uploads_dash:create_server()"
    old = sys.executable
    sys.executable = cmd_python  # start_server runs `sys.executable -m gunicorn`
    try:
        return start_server(target, server="gunicorn", threads=4, env=env, ready_path="/bench/pid")
    finally:
        sys.executable = old


def _js_heap(driver: Any) -> int:
    metrics = driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    return int(next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"))


def one_upload(case: str, path: Path, tmp: Path, timeout: float) -> Dict[str, Any]:
    """Upload ``path`` through ``case`` with a fresh server and browser; the figures."""
    from selenium.webdriver.common.by import By

    selector, output = CASES[case]
    size = path.stat().st_size
    cache_dir = tmp / f"cache-{case}-{time.monotonic_ns()}"
    cache_dir.mkdir()
    server = _server(case, cache_dir)
    driver = None
    try:
        pid = _pid(server)
        driver = _driver(tmp)
        driver.get(server.url + "/")
        deadline = time.monotonic() + 60
        while not driver.find_elements(By.CSS_SELECTOR, selector):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {selector} on the page")
            time.sleep(0.1)
        driver.execute_cdp_cmd("Performance.enable", {})
        time.sleep(1.0)
        heap_before = heap_peak = _js_heap(driver)
        out: Dict[str, Any] = {"case": case, "size_mib": size // MiB}
        with (
            VmRssSampler(pid) as server_rss,
            RssSampler(lambda: _renderer_pids(driver), interval=0.02) as renderers,
        ):
            t0 = time.perf_counter()
            driver.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))
            text = ""
            while time.perf_counter() - t0 < timeout:
                heap_peak = max(heap_peak, _js_heap(driver))
                text = driver.find_element(By.ID, output).text
                if text.startswith("bytes "):
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - t0
        done = text.startswith(f"bytes {size}")
        out.update(
            ok=done,
            seconds=round(seconds, 2),
            output=text[:200],
            server_rss_growth_mib=round(server_rss.growth_mib, 1),
            renderer_rss_growth_mib=round(renderers.growth / MiB, 1),
            renderer_rss_before_mib=round(renderers.idle / MiB, 1),
            js_heap_growth_mib=round((heap_peak - heap_before) / MiB, 1),
        )
        if not done:
            out["error"] = f"no callback output after {timeout} s" if not text else "wrong size"
            out["server_log_tail"] = server.log_text()[-1500:]
            out["console"] = [e.get("message", "")[:300] for e in _console(driver)]
        return out
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
        shutil.rmtree(cache_dir, ignore_errors=True)


def _pid(server: Server) -> int:
    import requests

    return int(requests.get(server.url + "/bench/pid", timeout=10).json()["pid"])


def _console(driver: Any) -> List[Dict[str, Any]]:
    try:
        return list(driver.get_log("browser"))
    except Exception:
        return []


def _median_row(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    keys = ["seconds", "server_rss_growth_mib", "renderer_rss_growth_mib", "js_heap_growth_mib"]
    ok = [r for r in runs if r.get("ok")]
    row: Dict[str, Any] = {"runs": len(runs), "ok": len(ok)}
    for key in keys:
        if ok:
            row[key] = round(statistics.median(r[key] for r in ok), 2)
    return row


def run(sizes: List[int], rounds: int, limit: List[int], big: bool, du: bool,
        limit_timeout: float, tmp: Path) -> Dict[str, Any]:  # fmt: skip
    """Every case (see the module docstring)."""
    result: Dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "uptime_before": _uptime(),
        "runs": [],
    }
    loads: List[float] = []

    def record(case: str, size_mib: int, timeout: float) -> Dict[str, Any]:
        _log(f"{case} {size_mib} MiB (load {os.getloadavg()[0]:.2f})")
        loads.append(os.getloadavg()[0])
        try:
            entry = one_upload(case, make_file(tmp, size_mib), tmp, timeout)
        except Exception as exc:
            entry = {"case": case, "size_mib": size_mib, "ok": False, "error": repr(exc)[:500]}
        _log(
            json.dumps({k: v for k, v in entry.items() if k not in ("server_log_tail", "console")})
        )
        result["runs"].append(entry)
        return entry

    for _ in range(rounds):
        for size_mib in sizes:
            for case in ("dcc", "cached"):
                record(case, size_mib, 300)
    for size_mib in limit:
        if not record("dcc", size_mib, limit_timeout).get("ok"):
            break
    if big:
        record("cached", 1024, 300)
    if du and DU_PYTHON.exists():
        record("du", 256, 300)
    elif du:
        result["du"] = f"skipped: {DU_PYTHON} not found"
    summary: Dict[str, Any] = {}
    for entry in result["runs"]:
        summary.setdefault(f"{entry['case']}/{entry['size_mib']}", []).append(entry)
    result["summary"] = {key: _median_row(runs) for key, runs in summary.items()}
    finish(result, loads)
    return result


def markdown(result: Dict[str, Any]) -> str:
    """The summary as a Markdown table (medians of the successful runs)."""
    lines = [
        "| case | size MiB | ok / runs | seconds | server RSS growth MiB "
        "| renderer RSS growth MiB | JS heap growth MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, row in result["summary"].items():
        case, size = key.split("/")
        lines.append(
            f"| {case} | {size} | {row['ok']} / {row['runs']} | {row.get('seconds', '-')} "
            f"| {row.get('server_rss_growth_mib', '-')} "
            f"| {row.get('renderer_rss_growth_mib', '-')} | {row.get('js_heap_growth_mib', '-')} |"
        )
    lines.append("")
    lines.append(f"Load during: {result['load_1min_during']}; before: `{result['uptime_before']}`; "
                 f"after: `{result['uptime_after']}`.")  # fmt: skip
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="64,256", help="MiB, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--limit-sizes", default="512,1024", help="MiB for dcc.Upload, until the first failure"
    )
    parser.add_argument("--no-limit", action="store_true", help="skip the --limit-sizes")
    parser.add_argument("--no-du", action="store_true", help="skip dash-uploader")
    parser.add_argument("--no-big", action="store_true", help="skip CachedUpload at 1 GiB")
    parser.add_argument("--limit-timeout", type=float, default=180.0)
    parser.add_argument("--tmp", type=Path, default=None)
    parser.add_argument(
        "--chromium-arg",
        action="append",
        default=[],
        help="one more Chromium flag (repeatable), e.g. --js-flags=--max-old-space-size=16000",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    CHROMIUM_ARGS.extend(args.chromium_arg)
    tmp = Path(tempfile.mkdtemp(prefix="dfc-bench-upbrowser-", dir=args.tmp))
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        limit = [] if args.no_limit else [int(s) for s in args.limit_sizes.split(",")]
        result = run(sizes, args.rounds, limit, not args.no_big, not args.no_du,
                     args.limit_timeout, tmp)  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    save(args.out, "uploads-browser", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
