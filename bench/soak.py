"""Soak run: many register/serve cycles through each cache with a small bound.

Run by hand (the test suite runs a scaled-down version, see
``tests/test_soak.py``)::

    .venv/bin/python -m bench.soak                  # 10,000 cycles per cache
    .venv/bin/python -m bench.soak --cycles 2000 --caches plain,file --json out.json

Each cycle registers a fresh item (1 to 64 KiB of random bytes followed by
their SHA-256, so any wrong byte is caught) and serves it through the Flask
app: a whole ``GET`` most of the time, a ``Range`` request every 5th cycle, a
``HEAD`` every 11th; every 7th item is one-time (served once, then 404). Every
3rd cycle also asks for an item registered 40 cycles earlier, which the small
bound has evicted by then: a 404 is the expected answer, and a 200 must carry
the right bytes.

- ``plain``: ``CachePlain(16)``, registered and served in this process.
- ``queue``: ``CacheQueue(16, Manager().Queue())``, registered in a child
  process of a ``multiprocess`` pool (as Dash background callbacks do), served
  here; the manager process is measured too.
- ``file``: ``CacheFile(dir, size_limit=2 MiB)``.

Reported per cache: cycles, requests, errors, RSS (after warm-up, peak, end;
growth), item count (peak), and for ``file`` the ``volume()`` and the real disk
use of the directory (which also counts SQLite's write-ahead log).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import flask
import psutil

import dash_file_cache as dfc

__all__ = ["SoakResult", "disk_usage", "run_soak"]

MB = 1 << 20
KB = 1 << 10
PLAIN_ITEMS = 16
FILE_LIMIT = 2 * MB
WARM_UP = 200
SAMPLE_EVERY = 250

SoakResult = Dict[str, Any]


def disk_usage(directory: Path) -> int:
    """Bytes allocated on disk under ``directory`` (what ``du`` reports)."""
    total = 0
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # removed while walking
                continue
    return total


def _payload(rng: random.Random) -> bytes:
    body = rng.randbytes(rng.randrange(1 * KB, 64 * KB))
    return body + hashlib.sha256(body).digest()


def _register_in_child(service: dfc.ServiceData, payload: bytes, one_time: bool) -> str:
    return service.register(io.BytesIO(payload), one_time_service=one_time)


def run_soak(
    kind: str,
    cycles: int,
    workdir: Path,
    seed: int = 0,
    progress: Optional[Callable[[str], None]] = None,
) -> SoakResult:
    """Run ``cycles`` register/serve cycles through a ``kind`` cache; return the figures.

    Arguments:
        kind: ``plain``, ``queue`` or ``file``.
        cycles: how many cycles (one register and one to three requests each).
        workdir: where the ``file`` cache lives (a fresh subdirectory is made).
        seed: seeds the payloads, so runs are repeatable.
        progress: called with a line of text at each sample, if given.

    Raises:
        ValueError: unknown ``kind``.
    """
    import multiprocess

    rng = random.Random(seed)
    me = psutil.Process()
    manager = None
    pool = None
    directory: Optional[Path] = None
    if kind == "plain":
        cache: dfc.CacheAbstract = dfc.CachePlain(PLAIN_ITEMS)
    elif kind == "queue":
        manager = multiprocess.Manager()
        cache = dfc.CacheQueue(PLAIN_ITEMS, manager.Queue())
    elif kind == "file":
        directory = Path(tempfile.mkdtemp(prefix="soak-file-", dir=workdir))
        cache = dfc.CacheFile(directory / "cache", size_limit=FILE_LIMIT)
    else:
        raise ValueError(f"kind must be plain, queue or file, got {kind!r}")
    service = dfc.ServiceData(cache)
    app = flask.Flask(f"soak-{kind}")
    service.serve(app)
    client = app.test_client()
    if kind == "queue":
        pool = multiprocess.get_context("fork").Pool(1)

    def register(payload: bytes, one_time: bool) -> str:
        if pool is not None:
            return str(pool.apply(_register_in_child, (service, payload, one_time)))
        return service.register(io.BytesIO(payload), one_time_service=one_time)

    def measure_rss() -> int:
        rss = me.memory_info().rss
        if manager is not None:
            rss += psutil.Process(manager._process.pid).memory_info().rss  # type: ignore[attr-defined]
        return int(rss)

    errors: List[str] = []
    history: List[str] = []
    requests_made = 0
    evicted_404 = 0
    late_hits = 0
    samples: List[Dict[str, Any]] = []
    peak_items = 0
    peak_volume = 0
    peak_disk = 0
    base_rss = 0
    started = time.monotonic()
    try:
        for i in range(cycles):
            payload = _payload(rng)
            one_time = i % 7 == 3
            address = register(payload, one_time)
            history.append(address)
            if i % 11 == 5:
                head = client.head(address)
                requests_made += 1
                if head.status_code != 200 or head.headers["Content-Length"] != str(len(payload)):
                    errors.append(f"cycle {i}: HEAD {head.status_code}")
            if i % 5 == 2:
                start = rng.randrange(0, len(payload))
                response = client.get(address, headers={"Range": f"bytes={start}-"})
                expected = payload[start:]
                status = 206
            else:
                response = client.get(address)
                expected = payload
                status = 200
            requests_made += 1
            if response.status_code != status or response.data != expected:
                errors.append(f"cycle {i}: GET {response.status_code}, {len(response.data)} bytes")
            if one_time:
                requests_made += 1
                if client.get(address).status_code != 404:
                    errors.append(f"cycle {i}: one-time item served twice")
            if i % 3 == 0 and i >= 40:
                old = client.get(history[i - 40])
                requests_made += 1
                if old.status_code == 404:
                    evicted_404 += 1
                elif old.status_code == 200 and (
                    len(old.data) >= 32
                    and hashlib.sha256(old.data[:-32]).digest() == old.data[-32:]
                ):
                    late_hits += 1
                else:
                    errors.append(f"cycle {i}: old item {old.status_code}")
            items = len(cache)  # type: ignore[arg-type]
            peak_items = max(peak_items, items)
            if isinstance(cache, dfc.CacheFile):
                peak_volume = max(peak_volume, cache.volume())
            if i + 1 == WARM_UP or (cycles <= WARM_UP and i == 0):
                gc.collect()
                base_rss = measure_rss()
            if (i + 1) % SAMPLE_EVERY == 0 or i + 1 == cycles:
                gc.collect()
                sample: Dict[str, Any] = {"cycle": i + 1, "rss": measure_rss(), "items": items}
                if directory is not None:
                    sample["disk"] = disk_usage(directory)
                    sample["volume"] = cache.volume()  # type: ignore[attr-defined]
                    peak_disk = max(peak_disk, sample["disk"])
                samples.append(sample)
                if progress is not None:
                    progress(f"{kind}: {json.dumps(sample)}")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        end_rss = measure_rss()
        if manager is not None:
            manager.shutdown()
    result: SoakResult = {
        "cache": kind,
        "cycles": cycles,
        "requests": requests_made,
        "errors": len(errors),
        "first_errors": errors[:5],
        "evicted_404": evicted_404,
        "late_hits": late_hits,
        "rss_base": base_rss,
        "rss_peak": max(s["rss"] for s in samples) if samples else end_rss,
        "rss_end": end_rss,
        "rss_growth": end_rss - base_rss,
        "peak_items": peak_items,
        "bound": FILE_LIMIT if kind == "file" else PLAIN_ITEMS,
        "seconds": round(time.monotonic() - started, 1),
        "samples": samples,
    }
    if directory is not None:
        result["peak_volume"] = peak_volume
        result["peak_disk"] = peak_disk
        result["end_disk"] = disk_usage(directory)
        cache.close()  # type: ignore[attr-defined]
    return result


def _mib(value: int) -> str:
    return f"{value / MB:.1f}"


def format_table(results: List[SoakResult]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| cache | cycles | requests | errors | RSS after warm-up (MiB) | RSS peak | RSS end "
        "| growth | peak items | bound | peak volume (MiB) | peak disk (MiB) | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        bound = f"{_mib(r['bound'])} MiB" if r["cache"] == "file" else f"{r['bound']} items"
        lines.append(
            f"| {r['cache']} | {r['cycles']} | {r['requests']} | {r['errors']} "
            f"| {_mib(r['rss_base'])} | {_mib(r['rss_peak'])} | {_mib(r['rss_end'])} "
            f"| {_mib(r['rss_growth'])} | {r['peak_items']} | {bound} "
            f"| {_mib(r.get('peak_volume', 0)) if r['cache'] == 'file' else '-'} "
            f"| {_mib(r.get('peak_disk', 0)) if r['cache'] == 'file' else '-'} "
            f"| {r['seconds']} |"
        )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point; returns the exit status (1 if any cycle failed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=10_000, help="cycles per cache")
    parser.add_argument("--caches", default="plain,queue,file", help="comma-separated kinds")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="dfc-soak-") as workdir:
        for kind in args.caches.split(","):
            progress = None if args.quiet else (lambda line: print(line, file=sys.stderr))
            results.append(run_soak(kind.strip(), args.cycles, Path(workdir), progress=progress))
    print(format_table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
