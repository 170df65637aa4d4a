"""Uploads over loopback: our tus endpoint against a plain route and against tuspyserver.

Run by hand (not part of the test suite; about 6 minutes, ~1 GiB of temporary files at a time)::

    export PYTHONPATH=$PWD
    .venv/bin/python -m bench.uploads                 # 1 GiB, 5 interleaved rounds
    .venv/bin/python -m bench.uploads --size-mib 64 --rounds 1    # smoke run
    .venv/bin/python -m bench.uploads --backends fastapi,quart --rounds 3   # a subset
    .venv/bin/python -m bench.uploads --cold          # without the scratch write (warm_pages)

Servers (all on 127.0.0.1, one worker each, started at once and left idle between runs):
``bench.uploads_app:create_app()`` (a Dash app with a ``CacheFile`` service) on Flask under
``gunicorn -w 1 --threads 4 -k gthread``, on FastAPI and on Quart under ``uvicorn`` (one
process); and ``tuspyserver`` on FastAPI under ``uvicorn`` (the peer).

Cases, one upload each, run round-robin (every case once per round, so load spikes hit them
alike): on each backend, raw tus ``PATCH``es of 8 MiB and of 64 MiB on one kept-alive
connection (``ours``) against ``PUT /bench/plain`` of the same pieces streamed into a file by
the same server stack (``plain``: the machine's limit; on FastAPI and Quart also ``plain-thread``,
each block written in the loop's executor as our endpoint must, off the event loop);
``tuspyserver`` with the same ``PATCH``es.
Then once per server: ``tuspy`` (``tusclient``) with 64 MiB chunks. The client sends slices of one
64 MiB random buffer (tuspy reads a 1 GiB file in the page cache).

Measures: throughput (MiB/s, from the creation ``POST`` to the last answer), and the worker's
RSS growth (``VmRSS`` of ``/proc/<pid>/status`` sampled every 5 ms in a thread; growth = peak
minus the value just before the upload). Medians (and the largest growth) over the rounds;
``ours / plain`` ratios per backend and chunk size. The JSON goes to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, cast
from urllib.parse import parse_qs, urlsplit

if __package__ in (None, ""):  # `python bench/uploads.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from bench.server import machine_info
from tests.support.servers import Server, app_env, start_server

__all__ = ["VmRssSampler", "finish", "load_note", "main", "run", "save"]

MiB = 1 << 20
RESULTS = Path(__file__).resolve().parent / "results"
BACKENDS = [("flask", "gunicorn"), ("fastapi", "uvicorn"), ("quart", "uvicorn")]
CHUNKS_MIB = [8, 64]
TUS = {"Tus-Resumable": "1.0.0"}


def _log(message: str) -> None:
    print(f"[uploads {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def vm_rss(pid: int) -> int:
    """``VmRSS`` of ``pid`` in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fobj:
            for line in fobj:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class VmRssSampler:
    """Peak ``VmRSS`` of one process, sampled in a thread every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval = pid, interval
        self.before = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, vm_rss(self.pid))

    def __enter__(self) -> VmRssSampler:
        self.before = self.peak = vm_rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, vm_rss(self.pid))

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / MiB


class Http:
    """One kept-alive HTTP/1.1 connection to ``base`` (``http://127.0.0.1:port``)."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=300)

    def call(
        self, method: str, path: str, headers: Dict[str, str], body: Any = b""
    ) -> Tuple[int, Dict[str, str], bytes]:
        headers = dict(headers, **{"Content-Length": str(len(body))})
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def close(self) -> None:
        self.conn.close()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _pieces(buffer: memoryview, size: int, chunk: int) -> Iterator[Tuple[int, memoryview]]:
    for offset in range(0, size, chunk):
        start = offset % len(buffer)
        yield offset, buffer[start : start + min(chunk, size - offset)]


def upload_tus(base: str, creation: str, buffer: memoryview, size: int, chunk: int) -> str:
    """Raw tus: create, then ``PATCH`` every piece; the upload's URL path."""
    http_ = Http(base)
    try:
        headers = dict(TUS, **{"Upload-Length": str(size), "Upload-Metadata": "filename YS5iaW4="})
        status, answer, _ = http_.call("POST", creation, headers)
        if status != 201:
            raise RuntimeError(f"creation answered {status}")
        location = _path(answer["location"])
        for offset, piece in _pieces(buffer, size, chunk):
            patch = dict(TUS, **{"Upload-Offset": str(offset)})
            patch["Content-Type"] = "application/offset+octet-stream"
            status, answer, body = http_.call("PATCH", location, patch, piece)
            if status != 204:
                raise RuntimeError(f"PATCH at {offset} answered {status}: {body[:200]!r}")
        return location
    finally:
        http_.close()


def upload_plain(
    base: str, name: str, buffer: memoryview, size: int, chunk: int, thread: bool = False
) -> None:
    """``PUT /bench/plain`` of every piece, appended to one file (``thread``: off the loop)."""
    http_ = Http(base)
    try:
        for offset, piece in _pieces(buffer, size, chunk):
            query = f"name={name}&append={'1' if offset else '0'}&thread={'1' if thread else '0'}"
            status, _, body = http_.call("PUT", f"/bench/plain?{query}", {}, piece)
            if status != 200:
                raise RuntimeError(f"plain PUT answered {status}: {body[:200]!r}")
    finally:
        http_.close()


def upload_tuspy(creation_url: str, path: Path, chunk: int) -> str:
    """``tusclient`` uploading the file at ``path``; the upload's URL."""
    from tusclient.client import TusClient

    with open(path, "rb") as fobj:
        uploader = TusClient(creation_url).uploader(
            file_stream=fobj, chunk_size=chunk, metadata={"filename": "a.bin"}
        )
        uploader.upload()
        return str(uploader.url)


def cached_uid(base: str, location: str, size: int) -> str:
    """``HEAD`` the finished upload: its item's uid (checks offset and length)."""
    http_ = Http(base)
    try:
        status, answer, _ = http_.call("HEAD", _path(location), TUS)
    finally:
        http_.close()
    if status != 200 or answer.get("upload-offset") != str(size):
        raise RuntimeError(f"HEAD answered {status}, offset {answer.get('upload-offset')}")
    address = answer.get("cached-address", "")
    return parse_qs(urlsplit(address).query).get("uid", [""])[0]


class Target:
    """One server under test: its base URL, worker pid, upload and cleanup."""

    def __init__(self, name: str, server: Server, creation: str, store: Path) -> None:
        self.name, self.server, self.creation, self.store = name, server, creation, store
        self.pid = int(server.stats()["pid"])
        self.ours = name != "tuspyserver"

    def clean(self, location: str, size: int) -> None:
        """Remove what an upload left (our item, or tuspyserver's files)."""
        if self.ours:
            uid = cached_uid(self.server.url, location, size)
            http_ = Http(self.server.url)
            try:
                http_.call("POST", f"/bench/remove?uid={uid}", {})
            finally:
                http_.close()
        else:
            for entry in (self.store / "tuspy").iterdir():
                if entry.is_file():
                    entry.unlink()


def warm_pages(folder: Path, buffer: memoryview, size: int) -> None:
    """Write ``size`` bytes to a scratch file in ``folder`` and delete it: memory just freed.

    On this VM the guest reports free memory to the host (``virtio_balloon``), and touching
    a page freed more than about two seconds ago costs a fault in the host: writing 1 GiB into
    the page cache then takes ~2.4 s of system CPU instead of ~0.22 s. Whichever case runs
    right after another case's file was deleted would get the cheap pages, and the order of
    the cases would decide the ratio. Every case is preceded by this, so all start alike.
    Only freed page-cache pages help (anonymous memory freed just before does not), and the
    host takes them back while the case runs (about 1.2 GiB in 3 s), so :func:`run` makes the
    scratch file a few times the upload's size: a slower case must not lose its cheap pages
    before it ends.
    """
    scratch = folder / "warm.bin"
    with open(scratch, "wb") as out:
        for _, piece in _pieces(buffer, size, 64 * MiB):
            out.write(piece)
    scratch.unlink()


def cpu_times(pid: int) -> Tuple[float, float]:
    """``(user, system)`` CPU seconds ``pid`` has used (all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fobj:
        fields = fobj.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used (all its threads)."""
    return sum(cpu_times(pid))


def timed(pid: int, func: Callable[[], Any]) -> Tuple[float, float, float, float, Any]:
    """``(seconds, RSS growth MiB, worker CPU s, of which user, result)`` of ``func``.

    User CPU is the Python stack's own work; system CPU also holds the page faults of
    :func:`warm_pages`'s note, which depend on the machine more than on the code.
    """
    user0, system0 = cpu_times(pid)
    with VmRssSampler(pid) as rss:
        t0 = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - t0
    user1, system1 = cpu_times(pid)
    user = user1 - user0
    return seconds, rss.growth_mib, user + system1 - system0, user, result


@contextlib.contextmanager
def servers(tmp: Path, backends: Optional[List[str]] = None) -> Iterator[List[Target]]:
    """Every server of the bench (or those of ``backends``, and tuspyserver), started;
    stopped on exit."""
    started: List[Server] = []
    targets: List[Target] = []
    try:
        for backend, kind in BACKENDS:
            if backends is not None and backend not in backends:
                continue
            folder = tmp / backend
            (folder / "cache").mkdir(parents=True)
            env = app_env("file", backend, folder / "cache")
            env["BENCH_PLAIN_DIR"] = str(folder)
            server = start_server("bench.uploads_app:create_app()", server=kind, threads=4, env=env)
            started.append(server)
            targets.append(Target(backend, server, "/cached-data/uploads", folder))
        folder = tmp / "tuspyserver"
        folder.mkdir()
        env = {"BENCH_PLAIN_DIR": str(folder)}
        server = start_server("bench.uploads_app:create_tuspy()", server="uvicorn", env=env)
        started.append(server)
        targets.append(Target("tuspyserver", server, "/files", folder))
        yield targets
    finally:
        for server in started:
            server.stop()


def _summary(
    times: List[float], growths: List[float], cpus: List[float], users: List[float], size: int
) -> Dict[str, Any]:
    median = statistics.median(times)
    return {
        "seconds": [round(t, 3) for t in times],
        "worker_cpu_seconds": [round(c, 2) for c in cpus],
        "median_worker_cpu_seconds": round(statistics.median(cpus), 2),
        "median_worker_user_cpu_seconds": round(statistics.median(users), 2),
        "best_mib_s": round(size / MiB / min(times), 1),
        "rss_growth_mib": [round(g, 1) for g in growths],
        "median_seconds": round(median, 3),
        "median_mib_s": round(size / MiB / median, 1),
        "median_rss_growth_mib": round(statistics.median(growths), 1),
        "max_rss_growth_mib": round(max(growths), 1),
    }


def run(
    size_mib: int,
    rounds: int,
    tmp: Path,
    warm: bool = True,
    warm_factor: float = 3.0,
    backends: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """Every case, ``rounds`` times round-robin, then tuspy once per server.

    ``warm``: precede each case with :func:`warm_pages` of ``warm_factor`` times the upload
    (``--cold`` turns it off). ``backends``: only these (and tuspyserver); ``None``: all.
    """
    size = size_mib * MiB
    scratch = int(size * warm_factor) // MiB * MiB
    buffer = memoryview(os.urandom(64 * MiB))
    source = tmp / "source.bin"
    with open(source, "wb") as out:
        for _, piece in _pieces(buffer, size, 64 * MiB):
            out.write(piece)
    result: Dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "size_mib": size_mib,
        "rounds": rounds,
        "warm_pages": warm,
        "warm_factor": warm_factor,
        "uptime_before": _uptime(),
    }
    loads: List[float] = []
    raw: Dict[str, Tuple[List[float], List[float], List[float], List[float]]] = {}
    with servers(tmp, backends) as targets:
        for round_ in range(rounds):
            _log(f"round {round_ + 1}/{rounds} (load {os.getloadavg()[0]:.2f})")
            for target in targets:
                for chunk_mib in CHUNKS_MIB:
                    chunk = chunk_mib * MiB
                    cases: List[Tuple[str, Callable[[], Any]]] = [
                        (
                            "ours" if target.ours else "tuspyserver",
                            cast(
                                Callable[[], Any],
                                lambda t=target, c=chunk: upload_tus(
                                    t.server.url, t.creation, buffer, size, c
                                ),
                            ),
                        )
                    ]
                    if target.ours:
                        name = f"plain-{target.name}"
                        cases.append(
                            (
                                "plain",
                                cast(
                                    Callable[[], Any],
                                    lambda t=target, c=chunk, n=name: upload_plain(
                                        t.server.url, n, buffer, size, c
                                    ),
                                ),
                            )
                        )
                    if target.ours and not target.name.startswith("flask"):
                        cases.append(
                            (
                                "plain-thread",
                                cast(
                                    Callable[[], Any],
                                    lambda t=target, c=chunk, n=name: upload_plain(
                                        t.server.url, n, buffer, size, c, thread=True
                                    ),
                                ),
                            )
                        )
                    for kind, func in cases:
                        if warm:
                            warm_pages(tmp, buffer, scratch)
                        loads.append(os.getloadavg()[0])
                        seconds, growth, cpu, user, location = timed(target.pid, func)
                        key = f"{target.name}/{kind}/{chunk_mib}"
                        for values, value in zip(
                            raw.setdefault(key, ([], [], [], [])), (seconds, growth, cpu, user)
                        ):
                            values.append(value)
                        if kind.startswith("plain"):
                            (target.store / f"plain-{target.name}").unlink()
                        else:
                            target.clean(location, size)
        for target in targets:
            _log(f"tuspy -> {target.name}")
            url = target.server.url + target.creation
            if warm:
                warm_pages(tmp, buffer, scratch)
            seconds, growth, cpu, user, location = timed(
                target.pid,
                cast(Callable[[], Any], lambda u=url: upload_tuspy(u, source, 64 * MiB)),
            )
            raw[f"{target.name}/tuspy/64"] = ([seconds], [growth], [cpu], [user])
            target.clean(location, size)
    result["cases"] = {key: _summary(t, g, c, u, size) for key, (t, g, c, u) in raw.items()}
    finish(result, loads)
    return result


def _user_ratio(plain: Dict[str, Any], ours: Dict[str, Any]) -> str:
    ours_user = ours["median_worker_user_cpu_seconds"]
    if not ours_user:
        return "-"
    return f"{plain['median_worker_user_cpu_seconds'] / ours_user:.2f}x"


def markdown(result: Dict[str, Any]) -> str:
    """The results as Markdown tables (ratios: ours over the plain route, same chunk)."""
    cases = result["cases"]
    lines = [
        "| server | client, chunk | MiB/s median (best) | ours / plain "
        "| worker CPU s median (user) | CPU plain / ours (user) | RSS growth MiB median / max |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    client = {
        "ours": "raw PATCH (ours)",
        "plain": "plain PUT",
        "plain-thread": "plain PUT, written off the loop",
        "tuspyserver": "raw PATCH",
    }
    for key, row in cases.items():
        name, kind, chunk = key.split("/")
        ratio = cpu_ratio = ""
        plain = cases.get(f"{name}/plain/{chunk}")
        if kind == "ours" and plain:
            ratio = f"{row['median_mib_s'] / plain['median_mib_s']:.2f}x"
            ratio += f" ({row['best_mib_s'] / plain['best_mib_s']:.2f}x)"
            cpu_ratio = (
                f"{plain['median_worker_cpu_seconds'] / row['median_worker_cpu_seconds']:.2f}x"
                f" ({_user_ratio(plain, row)})"
            )
            off_loop = cases.get(f"{name}/plain-thread/{chunk}")
            if off_loop:
                ratio += f"; off-loop {row['median_mib_s'] / off_loop['median_mib_s']:.2f}x"
                cpu = off_loop["median_worker_cpu_seconds"] / row["median_worker_cpu_seconds"]
                cpu_ratio += f"; off-loop {cpu:.2f}x"
        lines.append(
            f"| {name} | {client.get(kind, kind)}, {chunk} MiB "
            f"| {row['median_mib_s']:,.1f} ({row['best_mib_s']:,.1f}) | {ratio} "
            f"| {row['median_worker_cpu_seconds']} ({row['median_worker_user_cpu_seconds']}) "
            f"| {cpu_ratio} "
            f"| {row['median_rss_growth_mib']} / {row['max_rss_growth_mib']} |"
        )
    lines.append("")
    lines.append(
        f"Load (1-min average) during the runs: {result['load_1min_during']}; "
        f"before: `{result['uptime_before']}`; after: `{result['uptime_after']}`."
    )
    return "\n".join(lines)


def finish(result: Dict[str, Any], loads: List[float]) -> None:
    """Add the load seen during the run (1-minute averages) and ``uptime`` now to ``result``."""
    result["load_1min_during"] = {
        "min": round(min(loads), 2),
        "median": round(statistics.median(loads), 2),
        "max": round(max(loads), 2),
    }
    result["uptime_after"] = _uptime()


def load_note(result: Dict[str, Any]) -> str:
    """The sentence saying the load :func:`finish` added to ``result``."""
    return (
        f"Load (1-min average) during the runs: {result['load_1min_during']}; "
        f"after: `{result['uptime_after']}`."
    )


def save(out: Path, prefix: str, result: Dict[str, Any], table: str) -> None:
    """Write ``result`` (JSON) and ``table`` (Markdown) to ``out``, dated; print the table."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (out / f"{stem}.md").write_text(table + "\n")
    print(table)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tmp", type=Path, default=None, help="where temporary files go")
    parser.add_argument(
        "--cold", action="store_true", help="no scratch write before each case (see warm_pages)"
    )
    parser.add_argument(
        "--warm-factor", type=float, default=3.0, help="scratch file size / upload size"
    )
    parser.add_argument(
        "--backends", default="", help="comma-separated subset of flask,fastapi,quart"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="dfc-bench-uploads-", dir=args.tmp))
    try:
        result = run(
            args.size_mib,
            args.rounds,
            tmp,
            warm=not args.cold,
            warm_factor=args.warm_factor,
            backends=[b for b in args.backends.split(",") if b] or None,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    save(args.out, "uploads", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
