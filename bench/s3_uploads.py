"""Uploads into ``CacheS3`` through the app against ``CacheFile`` and against direct-to-store.

Run by hand (not part of the test suite; about 5 minutes, a 256 MiB temporary file, a Ceph
cluster holding up to ~6 GiB in memory)::

    export PYTHONPATH=$PWD
    .venv/bin/python -m bench.s3_uploads                   # 256 MiB, 3 interleaved rounds
    .venv/bin/python -m bench.s3_uploads --size-mib 8 --rounds 1   # smoke run

The store is a single-node Ceph radosgw started for the run (``tests.support.radosgw``: one
``memstore`` OSD, objects in its memory) on 127.0.0.1. Two servers, each
``bench.s3_app:create_app()`` taking tus uploads (``BENCH_UPLOADS=1``) under
``gunicorn -w 1 --threads 4 -k gthread``: ``s3`` (a ``CacheS3``, ``part_size`` 8 MB) and
``file`` (a ``CacheFile``, the one-host baseline).

Cases, run round-robin ``rounds`` times, each uploading the same ``size`` bytes from one file
(in the page cache):

- ``s3/8``, ``s3/1``, ``s3/all`` and the same on ``file``: ``tuspy`` (``tusclient``) through
  the app, in ``PATCH``\\ es of 8 MiB, of 1 MiB, or the whole file in one ``PATCH`` (what
  ``CachedUpload`` sends without ``chunk_size``);
- ``direct/8``: what a direct-to-store upload would do, the app keeping only the state: a
  multipart upload of 8 MiB parts straight to radosgw, each part a plain ``requests.put`` to a
  presigned ``UploadPart`` URL, then ``CompleteMultipartUpload``. The bench plays the app's
  part (create, presign, complete, with boto3); the CPU seconds of those calls are reported as
  ``presign_cpu`` (the app's share of a direct upload; its worker sends no byte).

Measures per case: time from the first request to the last answer (MiB/s), the CPU seconds
(``utime + stime`` from ``/proc``) of the app worker's process tree (the ``s3`` server's for
``direct``), of radosgw and of the OSD, and the worker's RSS growth (``VmRSS`` sampled every
5 ms, peak minus the value before). Every upload is checked byte for byte afterwards (the item
downloaded through the app, or the object from the store). The JSON goes to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

if __package__ in (None, ""):  # `python bench/s3_uploads.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

import psutil
import requests

from bench.s3 import s3_env, write_source
from bench.server import result_head
from bench.uploads import VmRssSampler, cpu_seconds, finish, load_note, save, upload_tuspy
from tests.support.radosgw import RadosGateway, radosgw_cluster
from tests.support.servers import Server, start_server

__all__ = ["main", "run", "tree_cpu_seconds", "upload_direct"]

MiB = 1 << 20
RESULTS = Path(__file__).resolve().parent / "results"
#: ``(case, server, chunk MiB)``, in the order of a round (0: the whole file in one ``PATCH``).
CASES = [
    ("s3/8", "s3", 8), ("s3/1", "s3", 1), ("s3/all", "s3", 0),
    ("file/8", "file", 8), ("file/1", "file", 1), ("file/all", "file", 0),
]  # fmt: skip
DIRECT = ("direct/8", "s3", 8)
CREATION = "/cached-data/uploads"


def _log(message: str) -> None:
    print(f"[s3-uploads {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every process under it (all their threads)."""
    pids = [pid] + [child.pid for child in psutil.Process(pid).children(recursive=True)]
    total = 0.0
    for one in pids:
        with contextlib.suppress(OSError):  # a child gone meanwhile
            total += cpu_seconds(one)
    return total


def _digest(chunks: Iterator[bytes]) -> str:
    sha = hashlib.sha256()
    for chunk in chunks:
        sha.update(chunk)
    return sha.hexdigest()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fobj:
        yield from iter(lambda: fobj.read(8 * MiB), b"")


def upload_direct(client: Any, bucket: str, key: str, path: Path, part: int) -> Dict[str, float]:
    """Upload ``path`` to ``bucket``/``key``: multipart, each part PUT to a presigned URL.

    The create, presign and complete calls are the app's share: their CPU seconds (of this
    thread) are returned as ``presign_cpu``; the ``PUT``\\ s are the browser's.

    Raises:
        RuntimeError: a part's ``PUT`` was not answered 200.
    """
    spent = 0.0

    def app(func: Callable[..., Any], **kwargs: Any) -> Any:
        nonlocal spent
        t0 = time.thread_time()
        try:
            return func(**kwargs)
        finally:
            spent += time.thread_time() - t0

    upload = app(client.create_multipart_upload, Bucket=bucket, Key=key)["UploadId"]
    parts = []
    with requests.Session() as session, open(path, "rb") as fobj:
        for number, data in enumerate(iter(lambda: fobj.read(part), b""), 1):
            params = {"Bucket": bucket, "Key": key, "UploadId": upload, "PartNumber": number}
            url = app(
                client.generate_presigned_url, ClientMethod="upload_part", Params=params,
                ExpiresIn=300,
            )  # fmt: skip
            answer = session.put(url, data=data, timeout=120)
            if answer.status_code != 200:
                raise RuntimeError(f"part {number} answered {answer.status_code}: {answer.text}")
            parts.append({"PartNumber": number, "ETag": answer.headers["ETag"]})
    app(
        client.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=upload,
        MultipartUpload={"Parts": parts},
    )  # fmt: skip
    return {"presign_cpu": spent}


def _check_item(base: str, location: str, digest: str) -> None:
    """The finished upload's item, downloaded through the app, has ``digest``."""
    head = requests.head(location, headers={"Tus-Resumable": "1.0.0"}, timeout=60)
    address = head.headers.get("Cached-Address", "")
    if head.status_code != 200 or not address:
        raise RuntimeError(f"HEAD {location} answered {head.status_code}, no item")
    with requests.get(base + address, stream=True, timeout=120) as answer:
        answer.raise_for_status()
        got = _digest(answer.iter_content(MiB))
    if got != digest:
        raise RuntimeError(f"{location}: the item differs from the source")


def _check_object(client: Any, bucket: str, key: str, digest: str) -> None:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    if _digest(iter(lambda: body.read(MiB), b"")) != digest:
        raise RuntimeError(f"{key}: the object differs from the source")


class Bench:
    """The running servers and store of one run, and the samples taken so far."""

    def __init__(self, gateway: RadosGateway, bucket: str, servers: Dict[str, Server]) -> None:
        self.gateway, self.bucket, self.servers = gateway, bucket, servers
        self.client = gateway.client(read_timeout=120)
        self.pids = {name: int(server.stats()["pid"]) for name, server in servers.items()}
        self.samples: Dict[str, List[Dict[str, float]]] = {}

    def measure(self, case: str, server: str, func: Callable[[], Any]) -> Any:
        """Run ``func`` once, measured against ``server``'s worker; keep the sample."""
        pid, procs = self.pids[server], self.gateway.procs
        rgw, osd = procs["rgw"].pid, procs["osd"].pid
        before = (tree_cpu_seconds(pid), cpu_seconds(rgw), cpu_seconds(osd))
        with VmRssSampler(pid) as rss:
            t0 = time.perf_counter()
            got = func()
            seconds = time.perf_counter() - t0
        sample = {
            "seconds": seconds,
            "worker_cpu": tree_cpu_seconds(pid) - before[0],
            "rgw_cpu": cpu_seconds(rgw) - before[1],
            "osd_cpu": cpu_seconds(osd) - before[2],
            "rss_growth_mib": rss.growth_mib,
        }
        if isinstance(got, dict):
            sample.update(got)
        self.samples.setdefault(case, []).append(sample)
        return got

    def tus(self, case: str, server: str, chunk_mib: int, source: Path, digest: str) -> None:
        """One ``tuspy`` upload of ``source`` through ``server``, then its item checked."""
        base = self.servers[server].url
        chunk = chunk_mib * MiB or source.stat().st_size
        location = self.measure(case, server, lambda: upload_tuspy(base + CREATION, source, chunk))
        _check_item(base, location, digest)

    def direct(self, source: Path, digest: str) -> None:
        """One direct-to-store upload of ``source``, then its object checked."""
        case, server, chunk_mib = DIRECT
        key = f"direct/{secrets.token_hex(8)}"
        self.measure(
            case, server,
            lambda: upload_direct(self.client, self.bucket, key, source, chunk_mib * MiB),
        )  # fmt: skip
        _check_object(self.client, self.bucket, key, digest)


@contextlib.contextmanager
def started(tmp: Path, gateway: RadosGateway, bucket: str) -> Iterator[Dict[str, Server]]:
    """The ``s3`` and ``file`` servers, taking uploads; stopped on exit."""
    envs = {
        "s3": dict(s3_env(gateway, bucket), BENCH_UPLOADS="1"),
        "file": {"DFC_APP_CACHE": "file", "DFC_APP_DIR": str(tmp / "cache"), "BENCH_UPLOADS": "1"},
    }
    running: Dict[str, Server] = {}
    try:
        for name, env in envs.items():
            running[name] = start_server("bench.s3_app:create_app()", threads=4, env=env)
        yield running
    finally:
        for server in running.values():
            server.stop()


def _summary(samples: List[Dict[str, float]], size: int) -> Dict[str, Any]:
    """Medians of the samples of one case."""
    median = statistics.median(s["seconds"] for s in samples)
    gib = size / (1 << 30)

    def med(key: str) -> float:
        return statistics.median(s[key] for s in samples)

    row = {
        "median_seconds": round(median, 3),
        "median_mib_s": round(size / MiB / median, 1),
        "best_mib_s": round(size / MiB / min(s["seconds"] for s in samples), 1),
        "worker_cpu_s": round(med("worker_cpu"), 3),
        "worker_cpu_s_per_gib": round(med("worker_cpu") / gib, 2),
        "rgw_cpu_s": round(med("rgw_cpu"), 3),
        "osd_cpu_s": round(med("osd_cpu"), 3),
        "median_rss_growth_mib": round(med("rss_growth_mib"), 1),
        "max_rss_growth_mib": round(max(s["rss_growth_mib"] for s in samples), 1),
        "seconds": [round(s["seconds"], 3) for s in samples],
    }
    if "presign_cpu" in samples[0]:
        row["presign_cpu_s"] = round(med("presign_cpu"), 4)
    return row


def run(size_mib: int, rounds: int, tmp: Path) -> Dict[str, Any]:
    """Every case, ``rounds`` times round-robin."""
    size = size_mib * MiB
    source = tmp / "source.bin"
    write_source(source, size)
    digest = _digest(_file_chunks(source))
    (tmp / "cache").mkdir()
    result = result_head(size_mib=size_mib, rounds=rounds)
    loads: List[float] = []
    # Per round: the segments and the assembled object of three uploads (1 MiB PATCHes merge
    # their segments: about 1.8x), the direct object; memstore frees deleted objects late.
    with radosgw_cluster(memory=rounds * 8 * size + (1 << 30)) as gateway:
        bucket = f"bench-{secrets.token_hex(4)}"
        gateway.client().create_bucket(Bucket=bucket)
        with started(tmp, gateway, bucket) as servers:
            bench = Bench(gateway, bucket, servers)
            for round_ in range(rounds):
                _log(f"round {round_ + 1}/{rounds} (load {os.getloadavg()[0]:.2f})")
                for case, server, chunk_mib in CASES:
                    loads.append(os.getloadavg()[0])
                    bench.tus(case, server, chunk_mib, source, digest)
                loads.append(os.getloadavg()[0])
                bench.direct(source, digest)
    result["cases"] = {case: _summary(s, size) for case, s in bench.samples.items()}
    finish(result, loads)
    return result


def markdown(result: Dict[str, Any]) -> str:
    """The medians as a Markdown table."""
    labels = {
        "s3/8": "tuspy → app → CacheS3, 8 MiB PATCHes",
        "s3/1": "tuspy → app → CacheS3, 1 MiB PATCHes",
        "file/8": "tuspy → app → CacheFile, 8 MiB PATCHes",
        "file/1": "tuspy → app → CacheFile, 1 MiB PATCHes",
        "s3/all": "tuspy → app → CacheS3, one PATCH",
        "file/all": "tuspy → app → CacheFile, one PATCH",
        "direct/8": "direct to radosgw, presigned 8 MiB parts",
    }
    lines = [
        "| upload | MiB/s median (best) | app worker CPU s (per GiB) | radosgw CPU s "
        "| OSD CPU s | app RSS growth MiB median / max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case, row in result["cases"].items():
        cpu = f"{row['worker_cpu_s']} ({row['worker_cpu_s_per_gib']})"
        if "presign_cpu_s" in row:
            cpu += f"; presign/complete {row['presign_cpu_s']}"
        lines.append(
            f"| {labels.get(case, case)} | {row['median_mib_s']:,.1f} ({row['best_mib_s']:,.1f}) "
            f"| {cpu} | {row['rgw_cpu_s']} | {row['osd_cpu_s']} "
            f"| {row['median_rss_growth_mib']} / {row['max_rss_growth_mib']} |"
        )
    lines += [
        "",
        f"{result['size_mib']} MiB per upload, medians of {result['rounds']} rounds. "
        + load_note(result),
    ]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tmp", type=Path, default=None, help="where temporary files go")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dfc-bench-s3-uploads-", dir=args.tmp) as tmp:
        result = run(args.size_mib, args.rounds, Path(tmp))
    save(args.out, "s3-uploads", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
