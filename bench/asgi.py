"""ASGI rows: ``python -m bench.asgi [--quick]``.

On one FastAPI worker under uvicorn and under granian, dash-file-cache's
route and Starlette's ``FileResponse`` serve the same files in one run,
interleaved (A, B, A, B...) so both see the same machine load:

- 1 GiB whole (throughput, MB/s),
- the last MiB of the 1 GiB file (``Range``; milliseconds),
- 16 parallel downloads of a 64 MiB file (aggregate MB/s),
- worker RSS growth while sending 1 GiB.

Prints a Markdown table (medians) and writes ``bench/results/asgi-*.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from bench.client import fetch
from bench.server import RssSampler, _free_port

GIB = 1 << 30
MIB = 1 << 20
ROOT = Path(__file__).resolve().parent.parent
SERVERS = {
    "uvicorn": ["-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--port"],
    "granian": ["-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--workers", "1",
                "--log-level", "warning", "--port"],
}  # fmt: skip


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(block)


def _start(server: str, cache_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, *SERVERS[server], str(port), "bench.asgi_app:app"]
    env = dict(os.environ, DFC_CACHE_DIR=str(cache_dir))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            fetch(base, "/pid", keep_body=True, timeout=5)
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError(server)


def _paths(base: str, file: Path) -> Dict[str, str]:
    registered = fetch(base, f"/register?path={file}", method="POST", keep_body=True)
    assert registered.body is not None
    return {"dfc": registered.body.decode(), "FileResponse": f"/file-response?path={file}"}


def _mbps(nbytes: int, seconds: float) -> float:
    return round(nbytes / MIB / seconds, 1)


def _interleaved(runs: int, fn: Callable[[str], float]) -> Dict[str, float]:
    samples: Dict[str, List[float]] = {"dfc": [], "FileResponse": []}
    for _ in range(runs):
        for name in samples:
            samples[name].append(fn(name))
    return {name: round(statistics.median(values), 3) for name, values in samples.items()}


def measure(server: str, big: Path, mid: Path, quick: bool) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory() as cache_dir:
        proc, base = _start(server, Path(cache_dir))
        try:
            worker = int(fetch(base, "/pid", keep_body=True).body or b"0")
            big_paths, mid_paths = _paths(base, big), _paths(base, mid)
            runs = 2 if quick else 5
            size = big.stat().st_size

            def whole(name: str) -> float:
                got = fetch(base, big_paths[name])
                assert got.nbytes == size
                return _mbps(got.nbytes, got.seconds)

            def last_mib(name: str) -> float:
                got = fetch(base, big_paths[name], headers={"Range": f"bytes={size - MIB}-"})
                assert got.status == 206 and got.nbytes == MIB
                return round(got.seconds * 1000, 2)

            def parallel(name: str) -> float:
                t0 = time.perf_counter()
                with concurrent.futures.ThreadPoolExecutor(16) as pool:
                    done = list(pool.map(lambda _: fetch(base, mid_paths[name]).nbytes, range(16)))
                return _mbps(sum(done), time.perf_counter() - t0)

            def rss(name: str) -> float:
                with RssSampler([worker]) as sampler:
                    fetch(base, big_paths[name])
                return round(sampler.growth / MIB, 1)

            big_name = f"{size // MIB} MiB" if size < GIB else f"{size // GIB} GiB"
            return {
                f"{big_name} whole (MB/s, higher is better)": _interleaved(runs, whole),
                f"last MiB of {big_name} (ms, lower is better)": _interleaved(runs, last_mib),
                "16 parallel x 64 MiB (MB/s)": _interleaved(max(1, runs // 2), parallel),
                f"worker RSS growth, {big_name} (MiB)": _interleaved(1 if quick else 2, rss),
            }
        finally:
            proc.terminate()
            proc.wait(15)


def markdown(results: Dict[str, Dict[str, Dict[str, float]]]) -> str:
    lines = [
        "| server | measure | dash-file-cache | Starlette FileResponse | ours / theirs |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for server, rows in results.items():
        for measure_name, values in rows.items():
            ours, theirs = values["dfc"], values["FileResponse"]
            ratio = f"{ours / theirs:.2f}" if theirs else "-"
            lines.append(f"| {server} | {measure_name} | {ours} | {theirs} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, 256 MiB file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, mid = Path(tmp) / "big.bin", Path(tmp) / "mid.bin"
        _make_file(big, (GIB // 4) if args.quick else GIB)
        _make_file(mid, 64 * MIB)
        results = {server: measure(server, big, mid, args.quick) for server in SERVERS}
    out = ROOT / "bench" / "results" / f"asgi-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(markdown(results))


if __name__ == "__main__":
    main()
