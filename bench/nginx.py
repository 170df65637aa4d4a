"""Behind nginx: ``python -m bench.nginx [--quick] [--slow N]``.

Two experiments on 127.0.0.1, with the shipped site config (``docs/deploy/``)
and the test harness's servers (``tests/support/``):

1. **Slow clients.** ``N`` readers each open a large item and read it at a few
   KiB/s (a small receive buffer, a little read per tick) while one normal
   client makes small requests one after another (a new connection each, each
   bounded by a timeout; a timed-out request counts at the timeout). p50/p99
   of the small requests, idle then with the slow readers, for: bare gunicorn
   gthread (``-w 2 --threads 4``), the same gunicorn behind nginx with
   ``offload="x-accel-redirect"``, and uvicorn (FastAPI backend, one worker).
2. **Speed.** 16 parallel downloads of a 1 GiB item through nginx offload vs
   nginx serving the same file from a static location, interleaved.

Every loop is bounded in count and time. Prints Markdown; writes
``bench/results/nginx-*.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

if __package__ in (None, ""):  # `python bench/nginx.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from bench.client import fetch
from tests.support.nginx import nginx_site, running_nginx
from tests.support.processes import free_port
from tests.support.servers import app_env, running_server

__all__ = ["Setup", "main", "slow_clients", "small_latencies", "started"]

MIB = 1 << 20
GIB = 1 << 30
RESULTS = Path(__file__).resolve().parent / "results"
#: The configurations compared.
KINDS = ("gthread", "nginx-offload", "uvicorn")


@dataclass
class Setup:
    """A running configuration: the base URL clients use and the items it serves."""

    url: str
    large: str = ""
    small: str = ""
    extra: Dict[str, str] = field(default_factory=dict)


def _register_path(url: str, path: Path) -> str:
    answer = fetch(url, f"/register?path={path}", method="POST", body=b"", keep_body=True)
    assert answer.status == 200 and answer.body is not None, answer.status
    return answer.body.decode()


@contextlib.contextmanager
def started(
    kind: str, root: Path, large_size: int, workers: int = 2, threads: int = 4
) -> Iterator[Setup]:
    """Start configuration ``kind`` serving a large and a small path item under ``root``.

    ``gthread``: bare gunicorn; ``nginx-offload``: that gunicorn behind the
    shipped nginx site with offload; ``uvicorn``: the FastAPI backend.
    """
    dirs = {name: root / name for name in ("cache", "files")}
    for path in dirs.values():
        path.mkdir(exist_ok=True)
    large, small = dirs["files"] / "large.bin", dirs["files"] / "small.bin"
    if not large.exists() or large.stat().st_size != large_size:
        with open(large, "wb") as out:
            out.truncate(large_size)  # sparse: the bytes do not matter, only their sending
    small.write_bytes(os.urandom(1024))
    locations = {str(dirs["cache"]): "/_dfc/cache/", str(dirs["files"]): "/_dfc/files/"}
    offload = kind == "nginx-offload"
    env = app_env(
        "file",
        backend="fastapi" if kind == "uvicorn" else "flask",
        directory=dirs["cache"],
        offload="x-accel-redirect" if offload else "",
        offload_locations=locations if offload else None,
    )
    server = "uvicorn" if kind == "uvicorn" else "gunicorn"
    n_workers = 1 if kind == "uvicorn" else workers
    with running_server(server=server, workers=n_workers, threads=threads, env=env) as app:
        if not offload:
            yield Setup(app.url, _register_path(app.url, large), _register_path(app.url, small))
            return
        port = free_port()
        # The same sending settings as the offload snippet: only the route differs.
        static = (
            f"\n    location /static-bench/ {{ alias {dirs['files']}/; "
            "sendfile on; tcp_nopush on; }"
        )
        site = nginx_site(app.url.split("//", 1)[1], port, dirs["cache"], dirs["files"], static)
        with running_nginx(site, port, workers=2) as nginx:
            yield Setup(
                nginx.url,
                _register_path(nginx.url, large),
                _register_path(nginx.url, small),
                {"static_large": "/static-bench/large.bin"},
            )


# -- slow readers --------------------------------------------------------------------------


class SlowReaders:
    """``n`` connections reading ``path`` at about ``rate`` bytes/s each (one thread, bounded)."""

    def __init__(self, url: str, path: str, n: int, rate: int = 4096) -> None:
        host, port = url.split("//", 1)[1].split(":")
        self.socks: List[socket.socket] = []
        self.rate = rate
        self.received = 0
        self.failed = 0
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            sock.connect((host, int(port)))
            sock.sendall(request)
            sock.setblocking(False)
            self.socks.append(sock)

    def tick(self, seconds: float) -> None:
        """Read about ``rate * seconds`` bytes from each connection, then sleep the rest."""
        t0 = time.perf_counter()
        want = max(1, int(self.rate * seconds))
        # Non-blocking reads, not select(): a long test run may hold descriptors past 1024.
        for sock in self.socks:
            try:
                data = sock.recv(want)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self.failed += 1
                continue
            self.received += len(data)
        time.sleep(max(0.0, seconds - (time.perf_counter() - t0)))

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


def small_latencies(
    url: str, path: str, count: int, timeout: float, give_up: int = 5
) -> List[float]:
    """Seconds of up to ``count`` sequential small GETs; a failed one counts ``timeout``.

    After ``give_up`` failures the rest are not sent (the list is then shorter).
    """
    out: List[float] = []
    for _ in range(count):
        if sum(1 for v in out if v >= timeout) >= give_up:
            break
        t0 = time.perf_counter()
        try:
            answer = fetch(url, path, timeout=timeout)
            ok = answer.status == 200
        except (OSError, TimeoutError):
            ok = False
        out.append(time.perf_counter() - t0 if ok else timeout)
    return out


def _pct(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def slow_clients(
    setup: Setup, n_slow: int, count: int, timeout: float, warm_s: float = 1.0
) -> Dict[str, Any]:
    """Small-request latencies idle, then while ``n_slow`` slow readers hold the large item.

    The slow readers are ticked by a thread for the whole measurement (bounded
    by ``count * timeout``); returns p50/p99 in ms, timeouts, and the p99 ratio.
    """
    idle = small_latencies(setup.url, setup.small, count, timeout)
    readers = SlowReaders(setup.url, setup.large, n_slow)
    stop = time.perf_counter() + warm_s + count * timeout + 5
    done = False

    def drive() -> None:
        while not done and time.perf_counter() < stop:
            readers.tick(0.25)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        driver = pool.submit(drive)
        time.sleep(warm_s)
        loaded = small_latencies(setup.url, setup.small, count, timeout)
        done = True
        driver.result()
    received = readers.received
    readers.close()

    def summary(values: List[float]) -> Dict[str, Any]:
        return {
            "p50_ms": round(_pct(values, 0.5) * 1000, 2),
            "p99_ms": round(_pct(values, 0.99) * 1000, 2),
            "timeouts": sum(1 for v in values if v >= timeout),
            "sent": len(values),
        }

    idle_s, loaded_s = summary(idle), summary(loaded)
    return {
        "slow_readers": n_slow,
        "requests": count,
        "timeout_s": timeout,
        "idle": idle_s,
        "loaded": loaded_s,
        "p99_ratio": round(loaded_s["p99_ms"] / max(idle_s["p99_ms"], 1e-3), 2),
        "slow_bytes_received": received,
    }


# -- speed ---------------------------------------------------------------------------------


def parallel_mb_s(url: str, path: str, n: int, size: int) -> float:
    """Aggregate MB/s of ``n`` parallel whole downloads of ``path``."""
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        got = list(pool.map(lambda _: fetch(url, path, timeout=600).nbytes, range(n)))
    seconds = time.perf_counter() - t0
    if any(nbytes != size for nbytes in got):
        raise ConnectionError(f"short download: {got}")
    return n * size / seconds / 1e6


def speed(setup: Setup, size: int, n: int, runs: int) -> Dict[str, Any]:
    """Offload vs static, interleaved ``runs`` times; medians and their ratio."""
    rows: Dict[str, List[float]] = {"offload": [], "static": []}
    for _ in range(runs):
        rows["offload"].append(parallel_mb_s(setup.url, setup.large, n, size))
        rows["static"].append(parallel_mb_s(setup.url, setup.extra["static_large"], n, size))
    medians = {k: round(statistics.median(v), 1) for k, v in rows.items()}
    return {
        "size": size,
        "parallel": n,
        "runs": runs,
        "mb_s": medians,
        "all_mb_s": {k: [round(x, 1) for x in v] for k, v in rows.items()},
        "ratio": round(medians["offload"] / medians["static"], 3),
    }


# -- report --------------------------------------------------------------------------------


def markdown(result: Dict[str, Any]) -> str:
    lines = [
        "| Configuration | slow readers | idle p50 / p99 (ms) | loaded p50 / p99 (ms) | "
        "timeouts | p99 ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, row in result["slow_clients"].items():
        idle, loaded = row["idle"], row["loaded"]
        lines.append(
            f"| {kind} | {row['slow_readers']} | {idle['p50_ms']} / {idle['p99_ms']} | "
            f"{loaded['p50_ms']} / {loaded['p99_ms']} | {loaded['timeouts']}/{loaded['sent']} | "
            f"{row['p99_ratio']}x |"
        )
    sp = result.get("speed")
    if sp:
        lines += [
            "",
            f"| {sp['parallel']} parallel downloads of {sp['size'] / GIB:g} GiB | MB/s (median "
            f"of {sp['runs']}) |",
            "|---|---:|",
            f"| nginx offload (X-Accel-Redirect) | {sp['mb_s']['offload']} |",
            f"| nginx static location, same file | {sp['mb_s']['static']} |",
            f"| ratio | {sp['ratio']}x |",
        ]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the machinery")
    parser.add_argument("--slow", type=int, default=64, help="slow readers (default 64)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", choices=["slow", "speed"], help="run one experiment only")
    args = parser.parse_args(argv)
    large = 64 * MIB if args.quick else GIB
    count, timeout = (20, 3.0) if args.quick else (200, 5.0)
    result: Dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "slow_clients": {},
    }
    with tempfile.TemporaryDirectory(prefix="dfc-bench-nginx-") as tmp:
        kinds = ("nginx-offload",) if args.only == "speed" else KINDS
        for kind in kinds:
            root = Path(tmp) / kind
            root.mkdir()
            with started(kind, root, large) as setup:
                if args.only != "speed":
                    print(f"[bench.nginx] slow clients: {kind}", file=sys.stderr, flush=True)
                    result["slow_clients"][kind] = slow_clients(setup, args.slow, count, timeout)
                if kind == "nginx-offload" and args.only != "slow":
                    print("[bench.nginx] speed", file=sys.stderr, flush=True)
                    runs = 1 if args.quick else 3
                    result["speed"] = speed(setup, large, 16, runs)
    text = markdown(result)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (args.out / f"nginx-{stamp}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
