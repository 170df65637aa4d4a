"""boto3 against obstore on a real S3 server: the calls ``CacheS3`` makes, timed.

Run by hand (not part of the test suite; about 3 minutes; obstore is not a dependency of the
project, install it for this run: ``pip install obstore``, Python >= 3.11)::

    export PYTHONPATH=$PWD
    .venv/bin/python -m bench.s3_clients                  # 256 MiB, 3 interleaved rounds
    .venv/bin/python -m bench.s3_clients --size-mib 16 --rounds 1 --small 50   # smoke run

The store is a single-node Ceph radosgw started for the run (``tests.support.radosgw``, objects
in the OSD's memory) on 127.0.0.1. Cases, each once per round, clients alternating:

- ``put``: ``size`` bytes in 8 MiB parts: boto3 with the calls ``CacheS3`` makes (create the
  multipart upload, ``upload_part`` one part after the other, complete); obstore's ``put`` of
  an iterator of the same parts with ``use_multipart=True`` (``max_concurrency`` 1, as ours,
  and obstore's default 12);
- ``get``: one ranged ``GET`` (``bytes=0-``) of that object, read in 256 KiB blocks (boto3:
  ``Body.read``; obstore: ``get(...).stream(min_chunk_size=...)``);
- ``small``: ``small`` ``HEAD`` then ``small`` ``GET`` of 200-byte sidecars (100 distinct keys).

Measures: wall seconds and this process's CPU seconds (user + system, every thread: obstore
runs its own Tokio threads in the process). Medians over the rounds. Also checked once, as
facts: conditional create (``If-None-Match: *``) and update (``If-Match``, with the ETag quoted
as the store returns it, then unquoted) through each client, and what a presigned ``GET`` URL
can carry. The JSON goes to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

if __package__ in (None, ""):  # `python bench/s3_clients.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

import requests

from bench.server import machine_info
from bench.uploads import save
from tests.support.radosgw import REGION, RadosGateway, radosgw_cluster

__all__ = ["main", "run"]

MiB = 1 << 20
PART = 8 * MiB
BLOCK = 256 * 1024
SIDECAR = b'{"info": {"name": "a.csv", "mime": "text/csv"}, "size": 1, "version": "x"}' * 3
RESULTS = Path(__file__).resolve().parent / "results"


def _log(message: str) -> None:
    print(f"[s3_clients {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parts(buffer: memoryview, size: int) -> Iterator[memoryview]:
    for offset in range(0, size, PART):
        start = offset % len(buffer)
        yield buffer[start : start + min(PART, size - offset)]


def _measure(func: Callable[[], Any]) -> Tuple[float, float]:
    """``(wall seconds, CPU seconds of this process)`` of ``func()``."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    func()
    return time.perf_counter() - t0, time.process_time() - cpu0


class Boto:
    """The boto3 calls of ``CacheS3``."""

    name = "boto3"

    def __init__(self, gateway: RadosGateway, bucket: str) -> None:
        self.client = gateway.client(read_timeout=120)
        self.bucket = bucket

    def put(self, key: str, buffer: memoryview, size: int) -> None:
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        done = []
        for number, part in enumerate(_parts(buffer, size), 1):
            etag = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number, Body=bytes(part)
            )["ETag"]
            done.append({"ETag": etag, "PartNumber": number})
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done}
        )

    def get(self, key: str, size: int) -> int:
        body = self.client.get_object(Bucket=self.bucket, Key=key, Range="bytes=0-")["Body"]
        got = 0
        while True:
            block = body.read(BLOCK)
            if not block:
                break
            got += len(block)
        body.close()
        return got

    def put_small(self, key: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=SIDECAR)

    def head(self, key: str) -> int:
        return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def get_small(self, key: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return bytes(body.read())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def facts(self, key: str) -> Dict[str, Any]:
        from botocore.exceptions import ClientError

        found: Dict[str, Any] = {}
        etag = self.client.put_object(Bucket=self.bucket, Key=key, Body=b"1", IfNoneMatch="*")[
            "ETag"
        ]
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"2", IfNoneMatch="*")
            found["create_refused_when_present"] = False
        except ClientError as exc:
            found["create_refused_when_present"] = exc.response["Error"]["Code"]
        for form, tag in (("quoted", etag), ("unquoted", etag.strip('"'))):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=b"3", IfMatch=tag)
                found[f"update_if_match_{form}"] = True
            except ClientError as exc:
                found[f"update_if_match_{form}"] = exc.response["Error"]["Code"]
        url = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": "text/csv",
                "ResponseContentDisposition": 'attachment; filename="a.csv"',
            },
            ExpiresIn=60,
        )
        answer = requests.get(url, timeout=10)
        found["presigned_overrides"] = [
            answer.status_code,
            answer.headers.get("Content-Type"),
            answer.headers.get("Content-Disposition"),
        ]
        return found


class Obstore:
    """obstore's functions doing the same (``concurrency`` parts in flight on ``put``)."""

    def __init__(self, gateway: RadosGateway, bucket: str, concurrency: int = 1) -> None:
        from obstore.store import S3Store

        self.store = S3Store(
            bucket,
            endpoint=gateway.endpoint_url,
            region=REGION,
            access_key_id=gateway.access_key,
            secret_access_key=gateway.secret_key,
            client_options={"allow_http": True, "timeout": "120s"},
        )
        self.concurrency = concurrency
        self.name = f"obstore-c{concurrency}"

    def put(self, key: str, buffer: memoryview, size: int) -> None:
        import obstore

        obstore.put(
            self.store,
            key,
            (bytes(p) for p in _parts(buffer, size)),
            use_multipart=True,
            chunk_size=PART,
            max_concurrency=self.concurrency,
        )

    def get(self, key: str, size: int) -> int:
        import obstore

        got = 0
        result = obstore.get(self.store, key, options={"range": (0, size)})
        for block in result.stream(min_chunk_size=BLOCK):
            got += len(block)
        return got

    def put_small(self, key: str) -> None:
        import obstore

        obstore.put(self.store, key, SIDECAR)

    def head(self, key: str) -> int:
        import obstore

        return int(obstore.head(self.store, key)["size"])

    def get_small(self, key: str) -> bytes:
        import obstore

        return bytes(obstore.get(self.store, key).bytes())

    def delete(self, key: str) -> None:
        import obstore

        obstore.delete(self.store, key)

    def facts(self, key: str) -> Dict[str, Any]:
        import obstore

        found: Dict[str, Any] = {}
        etag = str(obstore.put(self.store, key, b"1", mode="create")["e_tag"])
        try:
            obstore.put(self.store, key, b"2", mode="create")
            found["create_refused_when_present"] = False
        except Exception as exc:  # obstore's AlreadyExistsError
            found["create_refused_when_present"] = type(exc).__name__
        for form, tag in (("quoted", etag), ("unquoted", etag.strip('"'))):
            try:
                obstore.put(self.store, key, b"3", mode={"e_tag": tag})
                found[f"update_if_match_{form}"] = True
            except Exception as exc:  # obstore's PreconditionError
                found[f"update_if_match_{form}"] = type(exc).__name__
        url = obstore.sign(self.store, "GET", key, dt.timedelta(seconds=60))
        answer = requests.get(url, timeout=10)
        found["presigned_overrides"] = [
            answer.status_code,
            answer.headers.get("Content-Type"),
            "no response-content-type/disposition argument in obstore.sign",
        ]
        return found


def run(size_mib: int, rounds: int, small: int) -> Dict[str, Any]:
    """Every case for every client, ``rounds`` times round-robin; medians."""
    size = size_mib * MiB
    buffer = memoryview(os.urandom(64 * MiB))
    result: Dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "size_mib": size_mib,
        "rounds": rounds,
        "small": small,
    }
    raw: Dict[str, List[Tuple[float, float]]] = {}
    # Deleted objects stay in memstore until radosgw's garbage collection (hours): room for all.
    with radosgw_cluster(memory=3 * rounds * size + (1 << 30)) as gateway:
        bucket = f"bench-{secrets.token_hex(4)}"
        gateway.client().create_bucket(Bucket=bucket)
        clients: List[Any] = [
            Boto(gateway, bucket),
            Obstore(gateway, bucket, 1),
            Obstore(gateway, bucket, 12),
        ]
        sidecars = [f"item/{i:03d}" for i in range(100)]
        for key in sidecars:
            clients[0].put_small(key)
        result["facts"] = {c.name: c.facts(f"facts/{c.name}") for c in clients[:2]}
        for round_ in range(rounds):
            _log(f"round {round_ + 1}/{rounds} (load {os.getloadavg()[0]:.2f})")
            for client in clients:
                key = f"data/{client.name}/{round_}"
                raw.setdefault(f"{client.name}/put", []).append(
                    _measure(lambda c=client, k=key: c.put(k, buffer, size))  # type: ignore[misc]
                )
                got: List[int] = []
                raw.setdefault(f"{client.name}/get", []).append(
                    _measure(lambda c=client, k=key, g=got: g.append(c.get(k, size)))  # type: ignore[misc]
                )
                if got != [size]:
                    raise RuntimeError(f"{client.name} read {got} of {size} bytes")
                client.delete(key)
                if client.name == "obstore-c12":
                    continue  # the small calls do not depend on the put's concurrency

                def calls(c: Any = client) -> None:
                    for i in range(small):
                        c.head(sidecars[i % len(sidecars)])
                    for i in range(small):
                        c.get_small(sidecars[i % len(sidecars)])

                raw.setdefault(f"{client.name}/small", []).append(_measure(calls))
    result["cases"] = {
        key: {
            "median_seconds": round(statistics.median(s for s, _ in values), 3),
            "median_cpu_seconds": round(statistics.median(c for _, c in values), 3),
            "seconds": [round(s, 3) for s, _ in values],
            "cpu_seconds": [round(c, 3) for _, c in values],
        }
        for key, values in raw.items()
    }
    return result


def markdown(result: Dict[str, Any]) -> str:
    """The medians as a Markdown table (MiB/s for ``put``/``get``, per call for ``small``)."""
    size, small = result["size_mib"], result["small"]
    lines = [
        "| client | case | wall s | CPU s | rate |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for key, row in sorted(result["cases"].items(), key=lambda kv: kv[0].split("/")[::-1]):
        client, case = key.split("/")
        seconds, cpu = row["median_seconds"], row["median_cpu_seconds"]
        if case == "small":
            label = f"{small} HEAD + {small} GET of 200 B"
            rate = f"{1000 * seconds / (2 * small):.2f} ms/call"
        else:
            label = f"{case} {size} MiB" + (" (8 MiB parts)" if case == "put" else "")
            rate = f"{size / seconds:,.0f} MiB/s"
        lines.append(f"| {client} | {label} | {seconds} | {cpu} | {rate} |")
    lines.append("")
    for name, facts in result.get("facts", {}).items():
        lines.append(f"- {name}: {facts}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run(args.size_mib, args.rounds, args.small)
    save(args.out, "s3-clients", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
