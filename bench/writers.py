"""Section 9: memory and time of generating a large CSV and registering it in ``CacheFile``.

Three ways to produce the same ``plan.writer_size`` bytes of CSV text, each run
in a fresh process (so its peak RSS, ``ru_maxrss``, belongs to that case alone):

- ``writer_only``: the writer writes into ``/dev/null`` (its own cost: rows and
  UTF-8 encoding), no cache;
- ``writer``: ``service.register(writer, file_name="big.csv")`` into a
  ``CacheFile`` (the bytes go straight into the item's content file);
- ``bytesio``: the usual pattern before writers: the writer writes into a
  ``TextIOWrapper`` over a ``BytesIO``, then ``service.register(buffer)``.

"Growth" is the process's peak RSS after the case minus its peak before it
(imports done, cache open). Cases are interleaved run by run.
"""

from __future__ import annotations

import io
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import multiprocess

import dash_file_cache as dfc

__all__ = ["CASES", "section_writers", "write_csv"]

MIB = 1 << 20
CASES = ("writer_only", "writer", "bytesio")
_BLOCK_ROWS = 2000


def _blocks() -> List[str]:
    """A few distinct blocks of CSV rows (about 64 KiB each), made once per process."""
    rng = random.Random(9)
    blocks = []
    for _ in range(8):
        rows = (
            f"{rng.randrange(10**9)},{rng.random():.6f},{rng.choice('abcdef') * 8}\n"
            for _ in range(_BLOCK_ROWS)
        )
        blocks.append("".join(rows))
    return blocks


def write_csv(out: Any, size: int) -> None:
    """Write exactly ``size`` bytes of CSV text (ASCII) into ``out``, block by block."""
    blocks = _blocks()
    written, i = 0, 0
    out.write("id,value,label\n")
    written += 15
    while written < size:
        block = blocks[i % len(blocks)]
        if written + len(block) > size:
            block = block[: size - written]
        out.write(block)
        written += len(block)
        i += 1


def _peak_rss() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_case(case: str, size: int, cache_dir: str, conn: Any) -> None:
    """One measurement, in a fresh process; sends its figures through ``conn``."""
    service = dfc.ServiceData(dfc.CacheFile(cache_dir))
    _blocks()  # warm: the generator's own buffers are part of the baseline
    before = _peak_rss()
    t0 = time.perf_counter()
    if case == "writer_only":
        with open("/dev/null", "w", encoding="utf-8") as null:
            write_csv(null, size)
        stored = size
    elif case == "writer":
        address = service.register(lambda f: write_csv(f, size), file_name="big.csv")
        stored = _stored_size(service, address)
    else:
        buffer = io.BytesIO()
        text = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
        write_csv(text, size)
        text.flush()
        address = service.register(buffer, file_name="big.csv", mime_type="text/csv")
        stored = _stored_size(service, address)
        text.detach()
    seconds = time.perf_counter() - t0
    conn.send(
        {"seconds": seconds, "peak_before": before, "peak_after": _peak_rss(), "stored": stored}
    )
    conn.close()


def _stored_size(service: dfc.ServiceData, address: str) -> int:
    _info, loader = service.cache.load(address.split("uid=", 1)[1].split("&", 1)[0])
    content = loader()  # a path, or an open handle on the content file
    if isinstance(content, str):
        return Path(content).stat().st_size
    with content:
        return os.fstat(content.fileno()).st_size


def _measure(case: str, size: int, tmp: Path) -> Dict[str, Any]:
    context = multiprocess.get_context("spawn")
    cache_dir = tempfile.mkdtemp(prefix=f"writers-{case}-", dir=tmp)
    parent, child = context.Pipe()
    proc = context.Process(target=_run_case, args=(case, size, cache_dir, child))
    proc.start()
    try:
        got: Dict[str, Any] = parent.recv()
    finally:
        proc.join(600)
        shutil.rmtree(cache_dir, ignore_errors=True)
    if proc.exitcode != 0 or got["stored"] != size:
        raise RuntimeError(f"writers/{case}: exit {proc.exitcode}, stored {got.get('stored')}")
    got["growth"] = max(0, got["peak_after"] - got["peak_before"])
    return got


def section_writers(tmp: Path, size: int, runs: int) -> Dict[str, Any]:
    """Measure the three cases ``runs`` times each, interleaved; medians per case."""
    samples: Dict[str, List[Dict[str, Any]]] = {case: [] for case in CASES}
    for _ in range(runs):
        for case in CASES:
            samples[case].append(_measure(case, size, tmp))
    out: Dict[str, Any] = {"size": size, "runs": runs}
    for case, values in samples.items():
        out[case] = {
            "median_s": statistics.median(v["seconds"] for v in values),
            "growth_median": statistics.median(v["growth"] for v in values),
            "growth_max": max(v["growth"] for v in values),
            "peak_max": max(v["peak_after"] for v in values),
            "seconds": [round(v["seconds"], 4) for v in values],
        }
    own = out["writer_only"]["growth_max"]
    out["writer_over_own_mib"] = (out["writer"]["growth_max"] - own) / MIB
    out["bytesio_over_own_mib"] = (out["bytesio"]["growth_max"] - own) / MIB
    out["time_ratio_writer_to_bytesio"] = out["writer"]["median_s"] / out["bytesio"]["median_s"]
    return out


def main() -> None:
    """``python -m bench.writers [SIZE_MIB] [RUNS]``: this section alone, as JSON."""
    import json
    import sys

    size = int(sys.argv[1]) * MIB if len(sys.argv) > 1 else 1024 * MIB
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tmp = Path(tempfile.mkdtemp(prefix="dfc-bench-writers-"))
    try:
        print(json.dumps(section_writers(tmp, size, runs), indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
