"""The measurements, one function per section of the report.

Every function returns a JSON-able dict; times are seconds unless a key says
``_ms``, sizes are bytes unless a key says ``_mib``.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, cast
from urllib.parse import quote

import flask
import multiprocess

import dash_file_cache as dfc

from .client import Fetched, fetch
from .server import GunicornServer, RssSampler

__all__ = [
    "Plan",
    "make_files",
    "section_dcc",
    "section_memory_items",
    "section_ondisk",
    "section_parallel",
    "section_range",
    "section_register",
    "section_rss",
]

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Plan:
    """Sizes and repetition counts of a run (the full run by default)."""

    big: int = GIB
    mid: int = 256 * MIB
    par_size: int = 64 * MIB
    par_n: int = 16
    range_size: int = MIB
    small: int = MIB
    runs: int = 9
    mid_runs: int = 3
    range_runs: int = 15
    range_runs_send_file: int = 5
    par_runs: int = 7
    small_per_thread: int = 30
    dcc_runs: int = 2
    reg_sizes: Tuple[int, ...] = (MIB, 64 * MIB)
    reg_runs: Tuple[int, ...] = (20, 5)
    queue_runs: int = 3
    workers: int = 1
    threads: int = 16
    request_timeout: float = 300.0
    writer_size: int = GIB
    writer_runs: int = 3

    @classmethod
    def quick(cls) -> Plan:
        """A tiny run that checks the machinery, not the numbers."""
        return cls(
            big=8 * MIB,
            mid=2 * MIB,
            par_size=MIB,
            par_n=4,
            range_size=64 * KIB,
            small=64 * KIB,
            runs=2,
            mid_runs=1,
            range_runs=3,
            range_runs_send_file=2,
            par_runs=1,
            small_per_thread=3,
            dcc_runs=1,
            reg_sizes=(64 * KIB, MIB),
            reg_runs=(3, 2),
            queue_runs=1,
            threads=4,
            request_timeout=60.0,
            writer_size=8 * MIB,
            writer_runs=1,
        )

    def as_dict(self) -> Dict[str, Any]:
        """The plan for the JSON report."""
        return asdict(self)


def _median(values: List[float]) -> float:
    return float(statistics.median(values))


def _mib_s(nbytes: int, seconds: float) -> float:
    return nbytes / MIB / seconds if seconds > 0 else float("inf")


def make_files(tmp: Path, plan: Plan) -> Dict[str, Path]:
    """Random files (a 16 MiB random block repeated) in ``tmp``; returns them by role."""
    block = os.urandom(min(16 * MIB, plan.big))
    sizes = {"big": plan.big, "mid": plan.mid, "par": plan.par_size, "small": plan.small}
    files: Dict[str, Path] = {}
    for role, size in sizes.items():
        path = tmp / f"{role}-{size}.bin"
        with open(path, "wb") as fobj:
            left = size
            while left > 0:
                piece = block[: min(len(block), left)]
                fobj.write(piece)
                left -= len(piece)
        files[role] = path
    return files


def _send_file_addr(path: Path) -> str:
    """The ``flask.send_file`` route for ``path``."""
    return "/bench/send-file?path=" + quote(str(path))


def _get(server: GunicornServer, addr: str, plan: Plan, expect: int, **kw: Any) -> Fetched:
    """GET ``addr``; fail unless it answers 200/206 with ``expect`` body bytes."""
    got = fetch(server.url, addr, timeout=plan.request_timeout, **kw)
    if got.status not in (200, 206) or got.nbytes != expect:
        raise RuntimeError(f"GET {addr}: status {got.status}, {got.nbytes} of {expect} bytes")
    return got


def _alternate(
    runs: int, sides: Dict[str, Callable[[], float]], warmup: bool = True
) -> Dict[str, List[float]]:
    """Run each side ``runs`` times, interleaved (so drift hits both alike)."""
    if warmup:
        for run in sides.values():
            run()
    times: Dict[str, List[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, run in sides.items():
            times[name].append(run())
    return times


# -- 1. one large on-disk item --------------------------------------------------
def section_ondisk(server: GunicornServer, files: Dict[str, Path], plan: Plan) -> Dict[str, Any]:
    """Whole-file download of the big file: ours (path in CacheFile) vs ``send_file``."""
    path, size = files["big"], plan.big
    ours = server.register(path)["address"]
    times = _alternate(
        plan.runs,
        {
            "ours": lambda: _get(server, ours, plan, size).seconds,
            "send_file": lambda: _get(server, _send_file_addr(path), plan, size).seconds,
        },
    )
    med_ours, med_sf = _median(times["ours"]), _median(times["send_file"])
    return {
        "size": size,
        "runs": plan.runs,
        "ours_s": times["ours"],
        "send_file_s": times["send_file"],
        "ours_median_s": med_ours,
        "send_file_median_s": med_sf,
        "ours_mib_s": _mib_s(size, med_ours),
        "send_file_mib_s": _mib_s(size, med_sf),
        "ratio_ours_to_send_file": med_ours / med_sf,
        "best_ratio_ours_to_send_file": min(times["ours"]) / min(times["send_file"]),
    }


# -- 2. in-memory and cached-on-disk items ------------------------------------------
def section_memory_items(
    server: GunicornServer, files: Dict[str, Path], plan: Plan
) -> Dict[str, Any]:
    """The mid-size file as a ``BytesIO`` in CachePlain and in CacheFile, and by path."""
    path, size = files["mid"], plan.mid
    variants = {
        "plain_bytesio": server.register(path, cache="plain", as_="bytes"),
        "file_bytesio": server.register(path, cache="file", as_="bytes"),
        "file_path": server.register(path, cache="file", as_="path"),
    }
    sides: Dict[str, Callable[[], float]] = {
        name: cast(
            Callable[[], float], lambda a=reg["address"]: _get(server, a, plan, size).seconds
        )
        for name, reg in variants.items()
    }
    sides["send_file"] = lambda: _get(server, _send_file_addr(path), plan, size).seconds
    times = _alternate(plan.mid_runs, sides)
    out: Dict[str, Any] = {"size": size, "runs": plan.mid_runs}
    for name, values in times.items():
        med = _median(values)
        out[name] = {"seconds": values, "median_s": med, "mib_s": _mib_s(size, med)}
        if name in variants:
            out[name]["register_s"] = variants[name]["seconds"]
    return out


# -- 3. ranges ------------------------------------------------------------------------
def section_range(server: GunicornServer, files: Dict[str, Path], plan: Plan) -> Dict[str, Any]:
    """Latency of one ``range_size`` range at the start, middle and end of the big file."""
    path, size, span = files["big"], plan.big, plan.range_size
    ours = server.register(path)["address"]
    offsets = {"first": 0, "middle": (size - span) // 2 // 4096 * 4096, "last": size - span}
    out: Dict[str, Any] = {"size": size, "range_size": span}
    with open(path, "rb") as fobj:
        for where, start in offsets.items():
            header = {"Range": f"bytes={start}-{start + span - 1}"}
            fobj.seek(start)
            expected = fobj.read(span)
            for name, addr in (("ours", ours), ("send_file", _send_file_addr(path))):
                check = _get(server, addr, plan, span, headers=header, keep_body=True)
                if check.status != 206 or check.body != expected:
                    raise RuntimeError(f"range {where} of {name}: wrong answer")
            runs = {"ours": plan.range_runs, "send_file": plan.range_runs_send_file}
            entry: Dict[str, Any] = {"start": start}
            for name, addr in (("ours", ours), ("send_file", _send_file_addr(path))):
                values = [
                    _get(server, addr, plan, span, headers=header).seconds * 1000
                    for _ in range(runs[name])
                ]
                entry[f"{name}_ms"] = values
                entry[f"{name}_median_ms"] = _median(values)
            out[where] = entry
    medians = [out[w]["ours_median_ms"] for w in offsets]
    out["ours_spread_ms"] = max(medians) - min(medians)
    return out


# -- 4. parallel downloads ----------------------------------------------------------------
def _parallel_once(
    server: GunicornServer,
    addr: str,
    plan: Plan,
    per_thread: int = 1,
    headers: Optional[Dict[str, str]] = None,
    expect: int = 0,
) -> Dict[str, Any]:
    """``par_n`` threads each making ``per_thread`` requests at once.

    Returns the wall time of the batch and the requests' latencies and times
    to the response headers.
    """
    expect = expect or plan.par_size
    barrier = threading.Barrier(plan.par_n)
    starts: List[float] = []
    ends: List[float] = []
    latencies: List[float] = []
    first_bytes: List[float] = []
    errors: List[BaseException] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            barrier.wait(30)
            t0 = time.perf_counter()
            for _ in range(per_thread):
                got = _get(server, addr, plan, expect, headers=headers)
                with lock:
                    latencies.append(got.seconds)
                    first_bytes.append(got.first_byte_s)
            with lock:
                starts.append(t0)
                ends.append(time.perf_counter())
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(plan.par_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(plan.request_timeout)
    if errors or len(ends) != plan.par_n:
        raise RuntimeError(f"parallel requests failed: {errors[:1]}")
    latencies.sort()
    return {
        "wall_s": max(ends) - min(starts),
        "requests": len(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
        "max_ms": latencies[-1] * 1000,
        "first_byte_max_ms": max(first_bytes) * 1000,
    }


def section_parallel(server: GunicornServer, files: Dict[str, Path], plan: Plan) -> Dict[str, Any]:
    """Aggregate throughput of ``par_n`` parallel downloads: ours vs ``send_file``.

    Also ``par_n``-way concurrent one-byte ``Range`` requests, which isolate
    the per-request cost (lookup, headers) from the byte copying.
    """
    path = files["par"]
    ours = server.register(path)["address"]
    addrs = {"ours": ours, "send_file": _send_file_addr(path)}
    one_byte = {"Range": "bytes=0-0"}
    batches: Dict[str, List[Dict[str, Any]]] = {name: [] for name in addrs}
    small: Dict[str, List[Dict[str, Any]]] = {name: [] for name in addrs}
    for addr in addrs.values():  # warm-up
        _parallel_once(server, addr, plan)
        _parallel_once(server, addr, plan, 2, one_byte, 1)
    for _ in range(plan.par_runs):
        for name, addr in addrs.items():
            batches[name].append(_parallel_once(server, addr, plan))
            small[name].append(
                _parallel_once(server, addr, plan, plan.small_per_thread, one_byte, 1)
            )
    total = plan.par_n * plan.par_size
    out: Dict[str, Any] = {"n": plan.par_n, "size": plan.par_size, "runs": plan.par_runs}
    for name in addrs:
        rates = [_mib_s(total, b["wall_s"]) for b in batches[name]]
        out[f"{name}_mib_s"] = rates
        out[f"{name}_median_mib_s"] = _median(rates)
        out[f"{name}_best_mib_s"] = max(rates)
        out[f"{name}_first_byte_max_ms"] = [b["first_byte_max_ms"] for b in batches[name]]
        out[f"{name}_small"] = {
            "per_thread": plan.small_per_thread,
            "req_s_median": _median([b["requests"] / b["wall_s"] for b in small[name]]),
            "p99_ms_median": _median([b["p99_ms"] for b in small[name]]),
            "max_ms_median": _median([b["max_ms"] for b in small[name]]),
        }
    out["ratio_ours_to_send_file"] = out["ours_median_mib_s"] / out["send_file_median_mib_s"]
    out["best_ratio_ours_to_send_file"] = out["ours_best_mib_s"] / out["send_file_best_mib_s"]
    return out


# -- 5. worker memory while streaming --------------------------------------------------------
def _sampled_get(
    server: GunicornServer, pid: int, addr: str, plan: Plan, size: int
) -> Dict[str, Any]:
    """Download ``addr`` while sampling the worker's RSS (after a short settle)."""
    time.sleep(0.3)
    with RssSampler([pid]) as rss:
        got = _get(server, addr, plan, size)
    return {
        "seconds": got.seconds,
        "idle_rss": rss.idle,
        "peak_rss": rss.peak,
        "growth": rss.growth,
        "samples": rss.samples,
    }


def section_rss(cache_dir: Path, files: Dict[str, Path], plan: Plan) -> Dict[str, Any]:
    """Peak RSS of a fresh worker streaming the big file (then the mid one, by path and
    as a CachePlain ``BytesIO``)."""
    with GunicornServer(plan.workers, plan.threads, cache_dir) as server:
        pid = int(server.info()["pid"])
        big = server.register(files["big"])["address"]
        small = server.register(files["small"])["address"]
        # Warm the code paths (imports, first-request setup) with small bodies.
        _get(server, small, plan, plan.small)
        _get(
            server, big, plan, plan.range_size, headers={"Range": f"bytes=0-{plan.range_size - 1}"}
        )
        out: Dict[str, Any] = {"fresh_server": True, "chunk_size": MIB}
        out["big_path"] = _sampled_get(server, pid, big, plan, plan.big)
        out["big_path"]["size"] = plan.big
        mid = server.register(files["mid"])["address"]
        out["mid_path"] = _sampled_get(server, pid, mid, plan, plan.mid)
        out["mid_path"]["size"] = plan.mid
        mem = server.register(files["mid"], cache="plain", as_="bytes")["address"]
        out["mid_plain_bytesio"] = _sampled_get(server, pid, mem, plan, plan.mid)
        out["mid_plain_bytesio"]["size"] = plan.mid
    return out


# -- 6. dcc.send_file through the callback JSON -----------------------------------------------
def _dcc_payload(path: Path) -> bytes:
    """The POST body Dash's renderer sends when the ``dcc-go`` button is clicked."""
    return json.dumps(
        {
            "output": "dcc-dl.data",
            "outputs": {"id": "dcc-dl", "property": "data"},
            "inputs": [{"id": "dcc-go", "property": "n_clicks", "value": 1}],
            "changedPropIds": ["dcc-go.n_clicks"],
            "state": [{"id": "dcc-path", "property": "data", "value": str(path)}],
        }
    ).encode()


def section_dcc(cache_dir: Path, files: Dict[str, Path], plan: Plan) -> Dict[str, Any]:
    """``dcc.send_file`` of the mid file via the Dash callback, in a fresh server."""
    body = _dcc_payload(files["mid"])
    headers = {"Content-Type": "application/json"}
    with GunicornServer(plan.workers, plan.threads, cache_dir) as server:
        pid = int(server.info()["pid"])
        # Warm Dash's callback machinery with a tiny file (layout and a callback).
        fetch(server.url, "/_dash-layout", timeout=60)
        tiny = _dcc_payload(files["small"])
        fetch(server.url, "/_dash-update-component", method="POST", headers=headers, body=tiny)
        time.sleep(0.3)
        seconds: List[float] = []
        nbytes = 0
        with RssSampler([pid]) as rss:
            for _ in range(plan.dcc_runs):
                got = fetch(
                    server.url,
                    "/_dash-update-component",
                    method="POST",
                    headers=headers,
                    body=body,
                    timeout=plan.request_timeout,
                )
                if got.status != 200:
                    raise RuntimeError(f"dcc.send_file callback answered {got.status}")
                seconds.append(got.seconds)
                nbytes = got.nbytes
    return {
        "size": plan.mid,
        "runs": plan.dcc_runs,
        "seconds": seconds,
        "median_s": _median(seconds),
        "response_bytes": nbytes,
        "response_to_file": nbytes / plan.mid,
        "idle_rss": rss.idle,
        "peak_rss": rss.peak,
        "growth": rss.growth,
    }


# -- 7. register latency -----------------------------------------------------------------------
def _register_child(service: dfc.ServiceData, payload: bytes, conn: Any) -> None:
    """In a child process: register, then report the address and when it returned."""
    t0 = time.monotonic()
    addr = service.register(io.BytesIO(payload), mime_type="application/octet-stream")
    t1 = time.monotonic()
    conn.send((addr, t1 - t0, t1))
    conn.close()


def _queue_child_latency(
    service: dfc.ServiceData, client: Any, payload: bytes, timeout: float
) -> Dict[str, float]:
    parent, child = multiprocess.Pipe(duplex=False)
    proc = multiprocess.Process(target=_register_child, args=(service, payload, child))
    proc.start()
    try:
        if not parent.poll(timeout):
            raise TimeoutError("child did not register in time")
        addr, reg_s, returned = parent.recv()
        tries = 0
        deadline = time.monotonic() + timeout
        while True:
            tries += 1
            resp = client.get(addr, headers={"Range": "bytes=0-0"})
            if resp.status_code == 206:
                servable = time.monotonic()
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{addr} not servable: {resp.status_code}")
            time.sleep(0.001)
    finally:
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
    return {"register_s": reg_s, "to_servable_s": servable - returned, "tries": tries}


def section_register(tmp: Path, plan: Plan) -> Dict[str, Any]:
    """``register`` latency of a ``BytesIO`` per cache, and CacheQueue's child-to-servable."""
    manager = multiprocess.Manager()
    try:
        caches: Dict[str, dfc.CacheAbstract] = {
            "CachePlain": dfc.CachePlain(4),
            "CacheQueue": dfc.CacheQueue(4, manager.Queue()),
            "CacheFile": dfc.CacheFile(tmp / "register-cache"),
        }
        out: Dict[str, Any] = {}
        for name, cache in caches.items():
            service = dfc.ServiceData(cache)
            app = flask.Flask(f"bench-{name}")
            service.serve(app)
            entry: Dict[str, Any] = {}
            for size, runs in zip(plan.reg_sizes, plan.reg_runs):
                source = io.BytesIO(os.urandom(size))
                values = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    service.register(source, mime_type="application/octet-stream")
                    values.append((time.perf_counter() - t0) * 1000)
                entry[str(size)] = {"ms": values, "median_ms": _median(values)}
            if name == "CacheQueue":
                client = app.test_client()
                child: Dict[str, Any] = {}
                for size in plan.reg_sizes:
                    payload = os.urandom(size)
                    runs_out = [
                        _queue_child_latency(service, client, payload, plan.request_timeout)
                        for _ in range(plan.queue_runs)
                    ]
                    child[str(size)] = {
                        "runs": runs_out,
                        "register_median_ms": _median([r["register_s"] * 1000 for r in runs_out]),
                        "to_servable_median_ms": _median(
                            [r["to_servable_s"] * 1000 for r in runs_out]
                        ),
                        # From the child's register call to the address being servable.
                        "total_median_ms": _median(
                            [(r["register_s"] + r["to_servable_s"]) * 1000 for r in runs_out]
                        ),
                        "max_tries": max(r["tries"] for r in runs_out),
                    }
                entry["child_process"] = child
            out[name] = entry
        return out
    finally:
        manager.shutdown()


def optional(func: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
    """Run a section; a failure becomes ``{"error": ...}`` instead of ending the run."""
    try:
        return func()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
