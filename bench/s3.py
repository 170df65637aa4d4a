"""Downloads from ``CacheS3`` (streamed through the app, or redirected) against ``CacheFile``.

Run by hand (not part of the test suite; about 4 minutes, a 1 GiB temporary file, a Ceph
cluster holding up to ~3 GiB in memory)::

    export PYTHONPATH=$PWD
    .venv/bin/python -m bench.s3                      # 1 GiB, 3 interleaved rounds
    .venv/bin/python -m bench.s3 --size-mib 16 --parallel-mib 8 --rounds 1   # smoke run

The store is a single-node Ceph radosgw started for the run (``tests.support.radosgw``: one
``memstore`` OSD, objects in its memory) on 127.0.0.1. Three servers, each
``bench.s3_app:create_app()`` under ``gunicorn -w 1 --threads 4 -k gthread``:

- ``file``: a ``CacheFile`` (the item is the source file, sent with ``sendfile``);
- ``s3-stream``: ``CacheS3(redirect=False)``, the app reads the object with one ranged ``GET``
  and sends its bytes;
- ``s3-redirect``: ``CacheS3(redirect=True)`` on the same bucket: a passive type
  (``application/octet-stream`` here) is answered with a 307 to a presigned URL, which the
  client follows (the bytes come from radosgw).

An item of ``size`` bytes (and one of ``parallel_size``) is registered once by path on
``file`` and on ``s3-stream`` (the ``s3-redirect`` server serves the same uid: the two share
the bucket). Cases, run round-robin ``rounds`` times: one download of the big item on each
server; ``parallel`` simultaneous downloads of the smaller one on each server. The client is
:func:`bench.client.fetch` (raw socket, ``recv_into`` into one buffer): a 307 is followed
with a second ``fetch`` of its ``Location``.

Measures: throughput (MiB/s, from the first request to the last body byte), the app worker's
CPU seconds per download (``utime + stime`` of ``/proc/<pid>/stat``, every thread) and
radosgw's. Then, once each in a fresh process, ``register`` of a ``writer`` of ``size`` bytes of
CSV into ``CacheS3`` (``part_size`` 8 MB): RSS growth (``VmRSS`` sampled every 5 ms during the
register, peak minus the value just before; target <= 64 MiB; also the ``ru_maxrss`` growth,
which stays 0 when the imports peaked higher) and time. The JSON goes to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

if __package__ in (None, ""):  # `python bench/s3.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

import multiprocess

from bench.client import fetch
from bench.server import result_head
from bench.uploads import VmRssSampler, cpu_seconds, finish, load_note, save
from tests.support.radosgw import REGION, RadosGateway, radosgw_cluster
from tests.support.servers import Server, start_server

__all__ = ["download", "main", "run", "s3_env", "write_source"]

MiB = 1 << 20
RESULTS = Path(__file__).resolve().parent / "results"
CASES = ("file", "s3-stream", "s3-redirect")
#: The RSS growth (MiB) the writer case must stay within.
WRITER_TARGET_MIB = 64


def _log(message: str) -> None:
    print(f"[s3 {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def download(url: str) -> Tuple[int, bool]:
    """GET ``url`` (following one redirect); ``(body bytes, whether it was redirected)``.

    Raises:
        RuntimeError: an answer other than 200 (or 307 then 200).
    """
    parts = urlsplit(url)
    base, target = f"{parts.scheme}://{parts.netloc}", f"{parts.path}?{parts.query}"
    got = fetch(base, target, timeout=600)
    redirected = got.status in (302, 303, 307)
    if redirected:
        location = urlsplit(got.headers["location"])
        got = fetch(
            f"{location.scheme}://{location.netloc}",
            f"{location.path}?{location.query}",
            timeout=600,
        )
    if got.status != 200:
        raise RuntimeError(f"GET {url} answered {got.status}")
    return got.nbytes, redirected


class Target:
    """One server: its URL, its worker's pid, and the uid of each item on it."""

    def __init__(self, name: str, server: Server) -> None:
        self.name, self.server = name, server
        self.pid = int(server.stats()["pid"])

    def url(self, address: str) -> str:
        """The full URL of ``address`` (``/cached-data?uid=...``) on this server."""
        return self.server.url + address


def s3_env(gateway: RadosGateway, bucket: str) -> Dict[str, str]:
    """The environment of a ``bench.s3_app`` server whose cache is a ``CacheS3`` on ``bucket``."""
    return {
        "DFC_APP_CACHE": "s3",
        "AWS_ACCESS_KEY_ID": gateway.access_key,
        "AWS_SECRET_ACCESS_KEY": gateway.secret_key,
        "DFC_APP_S3_BUCKET": bucket,
        "DFC_APP_S3_ENDPOINT": gateway.endpoint_url,
    }


@contextlib.contextmanager
def servers(tmp: Path, gateway: RadosGateway, bucket: str) -> Iterator[Dict[str, Target]]:
    """The three servers of the bench, started; stopped on exit."""
    started: Dict[str, Target] = {}
    credentials = s3_env(gateway, bucket)
    envs = {
        "file": {"DFC_APP_CACHE": "file", "DFC_APP_DIR": str(tmp / "cache")},
        "s3-stream": dict(credentials, BENCH_S3_REDIRECT="0"),
        "s3-redirect": dict(credentials, BENCH_S3_REDIRECT="1"),
    }
    try:
        for name, env in envs.items():
            server = start_server("bench.s3_app:create_app()", threads=4, env=env)
            started[name] = Target(name, server)
        yield started
    finally:
        for target in started.values():
            target.server.stop()


def write_source(path: Path, size: int) -> None:
    """Write ``size`` random bytes (one 8 MiB random block repeated) to ``path``."""
    block = os.urandom(8 * MiB)
    with open(path, "wb") as out:
        for offset in range(0, size, len(block)):
            out.write(block[: min(len(block), size - offset)])


def _register(target: Target, path: Path) -> str:
    """Register the server-side ``path``; its address (``/cached-data?uid=...``)."""
    response = target.server.register_response(path=str(path), name=path.name)
    return response.text


def _one_download(target: Target, rgw: int, url: str) -> Dict[str, Any]:
    cpu0, rgw0, t0 = cpu_seconds(target.pid), cpu_seconds(rgw), time.perf_counter()
    nbytes, redirected = download(url)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "bytes": nbytes,
        "worker_cpu": cpu_seconds(target.pid) - cpu0,
        "rgw_cpu": cpu_seconds(rgw) - rgw0,
        "redirected": redirected,
    }


def _parallel(target: Target, rgw: int, url: str, count: int) -> Dict[str, Any]:
    cpu0, rgw0, t0 = cpu_seconds(target.pid), cpu_seconds(rgw), time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        done = list(pool.map(download, [url] * count))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "bytes": sum(n for n, _ in done),
        "worker_cpu": cpu_seconds(target.pid) - cpu0,
        "rgw_cpu": cpu_seconds(rgw) - rgw0,
        "redirected": all(r for _, r in done),
    }


def _summary(samples: List[Dict[str, Any]], per: int) -> Dict[str, Any]:
    """Medians of the samples (``per``: downloads in one sample, for CPU per download)."""
    median = statistics.median(s["seconds"] for s in samples)
    nbytes = samples[0]["bytes"]
    return {
        "median_seconds": round(median, 3),
        "median_mib_s": round(nbytes / MiB / median, 1),
        "best_mib_s": round(nbytes / MiB / min(s["seconds"] for s in samples), 1),
        "worker_cpu_per_download": round(
            statistics.median(s["worker_cpu"] for s in samples) / per, 3
        ),
        "rgw_cpu_per_download": round(statistics.median(s["rgw_cpu"] for s in samples) / per, 3),
        "redirected": all(s["redirected"] for s in samples),
        "seconds": [round(s["seconds"], 3) for s in samples],
    }


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _writer_case(options: Dict[str, Any], size: int, conn: Any) -> None:
    """In a fresh process: register a writer of ``size`` bytes of CSV into ``CacheS3``."""
    import dash_file_cache as dfc
    from bench.writers import _blocks, write_csv

    os.environ.update(options.pop("env"))
    cache = dfc.CacheS3(**options)
    service = dfc.ServiceData(cache)
    cache.client  # noqa: B018 - the client (and botocore's models) belong to the baseline
    _blocks()
    before = _peak_rss()
    t0 = time.perf_counter()
    with VmRssSampler(os.getpid()) as rss:
        address = service.register(lambda f: write_csv(f, size), file_name="big.csv")
    seconds = time.perf_counter() - t0
    uid = address.split("uid=", 1)[1].split("&", 1)[0]
    _info, loader = cache.load(uid)
    stream: Any = loader()  # an S3ContentStream: its end is the object's size
    with stream:
        stored = stream.seek(0, 2)
    cache.remove(uid)
    conn.send(
        {
            "seconds": seconds,
            "growth": rss.peak - rss.before,
            "maxrss_growth": _peak_rss() - before,
            "stored": stored,
        }
    )
    conn.close()


def writer_rss(gateway: RadosGateway, bucket: str, size: int, runs: int) -> Dict[str, Any]:
    """Peak RSS growth and time of registering a ``size``-byte writer, ``runs`` fresh processes."""
    context = multiprocess.get_context("spawn")
    samples = []
    for _ in range(runs):
        options = {
            "bucket": bucket,
            "endpoint_url": gateway.endpoint_url,
            "region": REGION,
            "timeout": 60,
            "env": {
                "AWS_ACCESS_KEY_ID": gateway.access_key,
                "AWS_SECRET_ACCESS_KEY": gateway.secret_key,
            },
        }
        parent, child = context.Pipe()
        proc = context.Process(target=_writer_case, args=(options, size, child))
        proc.start()
        try:
            got: Dict[str, Any] = parent.recv()
        finally:
            proc.join(600)
        if proc.exitcode != 0 or got["stored"] != size:
            raise RuntimeError(f"writer: exit {proc.exitcode}, stored {got.get('stored')}")
        samples.append(got)
    growth = max(s["growth"] for s in samples) / MiB
    return {
        "median_seconds": round(statistics.median(s["seconds"] for s in samples), 2),
        "median_mib_s": round(size / MiB / statistics.median(s["seconds"] for s in samples), 1),
        "max_rss_growth_mib": round(growth, 1),
        "rss_growth_mib": [round(s["growth"] / MiB, 1) for s in samples],
        "maxrss_growth_mib": [round(s["maxrss_growth"] / MiB, 1) for s in samples],
        "target_mib": WRITER_TARGET_MIB,
        "met": growth <= WRITER_TARGET_MIB,
    }


def run(
    size_mib: int, parallel_mib: int, parallel: int, rounds: int, writer_runs: int, tmp: Path
) -> Dict[str, Any]:
    """Every case, ``rounds`` times round-robin, then the writer case."""
    size, small = size_mib * MiB, parallel_mib * MiB
    big_path, small_path = tmp / "big.bin", tmp / "small.bin"
    write_source(big_path, size)
    write_source(small_path, small)
    (tmp / "cache").mkdir()
    result = result_head(
        size_mib=size_mib, parallel_mib=parallel_mib, parallel=parallel, rounds=rounds
    )
    loads: List[float] = []
    raw: Dict[str, List[Dict[str, Any]]] = {}
    # Deleted objects stay in memstore until radosgw's garbage collection (hours): room for all.
    with radosgw_cluster(memory=(1 + writer_runs) * size + 2 * small + (1 << 30)) as gateway:
        bucket = f"bench-{secrets.token_hex(4)}"
        gateway.client().create_bucket(Bucket=bucket)
        rgw = gateway.procs["rgw"].pid
        with servers(tmp, gateway, bucket) as targets:
            t0 = time.perf_counter()  # CacheFile keeps the path: the time is CacheS3's
            addresses = {
                name: (_register(targets[name], big_path), _register(targets[name], small_path))
                for name in ("file", "s3-stream")
            }
            result["register_path_s3_seconds"] = round(time.perf_counter() - t0, 2)
            addresses["s3-redirect"] = addresses["s3-stream"]
            for round_ in range(rounds):
                _log(f"round {round_ + 1}/{rounds} (load {os.getloadavg()[0]:.2f})")
                for name in CASES:
                    target, (big, little) = targets[name], addresses[name]
                    loads.append(os.getloadavg()[0])
                    raw.setdefault(f"{name}/single", []).append(
                        _one_download(target, rgw, target.url(big))
                    )
                    raw.setdefault(f"{name}/parallel", []).append(
                        _parallel(target, rgw, target.url(little), parallel)
                    )
        for key, samples in raw.items():
            expected = size if key.endswith("single") else small * parallel
            if any(s["bytes"] != expected for s in samples):
                raise RuntimeError(f"{key}: got {[s['bytes'] for s in samples]} bytes")
        result["cases"] = {
            key: _summary(samples, parallel if key.endswith("parallel") else 1)
            for key, samples in raw.items()
        }
        _log("writer")
        result["writer"] = writer_rss(gateway, bucket, size, writer_runs)
    finish(result, loads)
    return result


def markdown(result: Dict[str, Any]) -> str:
    """The medians as a Markdown table, then the writer's row."""
    size, small, count = result["size_mib"], result["parallel_mib"], result["parallel"]
    lines = [
        "| case | server | MiB/s median (best) | app worker CPU s / download "
        "| radosgw CPU s / download | redirected |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for key, row in result["cases"].items():
        name, kind = key.split("/")
        label = f"1 x {size} MiB" if kind == "single" else f"{count} x {small} MiB at once"
        lines.append(
            f"| {label} | {name} | {row['median_mib_s']:,.1f} ({row['best_mib_s']:,.1f}) "
            f"| {row['worker_cpu_per_download']} | {row['rgw_cpu_per_download']} "
            f"| {'yes' if row['redirected'] else 'no'} |"
        )
    writer = result["writer"]
    lines += [
        "",
        f"register of a {size} MiB writer into CacheS3: peak RSS growth "
        f"{writer['max_rss_growth_mib']} MiB (target <= {writer['target_mib']} MiB: "
        f"{'met' if writer['met'] else 'NOT met'}), {writer['median_seconds']} s "
        f"({writer['median_mib_s']} MiB/s); register by path of {size} + {small} MiB: "
        f"{result['register_path_s3_seconds']} s.",
        load_note(result),
    ]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--parallel-mib", type=int, default=64)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writer-runs", type=int, default=2)
    parser.add_argument("--tmp", type=Path, default=None, help="where temporary files go")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dfc-bench-s3-", dir=args.tmp) as tmp:
        result = run(
            args.size_mib, args.parallel_mib, args.parallel, args.rounds, args.writer_runs,
            Path(tmp),
        )  # fmt: skip
    save(args.out, "s3", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
