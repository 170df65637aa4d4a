"""Run the benchmark: ``python -m bench.run [--quick] [--no-browser] [--out DIR]``.

One gunicorn server (``-w 1 --threads 16 -k gthread`` in the full run) on
127.0.0.1 serves sections 1-4; sections 5 and 6 each get a fresh server of the
same kind so their memory readings start from idle; section 7 runs in this
process; section 8 drives headless Chromium against another fresh server;
section 9 generates a CSV in fresh processes (``bench/writers.py``).
Files are random data in a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from bench.browser import section_browser
from bench.cases import (
    Plan,
    make_files,
    optional,
    section_dcc,
    section_memory_items,
    section_ondisk,
    section_parallel,
    section_range,
    section_register,
    section_rss,
)
from bench.report import evaluate_targets, markdown
from bench.server import GunicornServer, machine_info
from bench.writers import section_writers

__all__ = ["main", "run"]

RESULTS = Path(__file__).resolve().parent / "results"


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _timed(name: str, func: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
    _log(f"{name} ...")
    t0 = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    out = optional(func)
    out["section_seconds"] = round(time.perf_counter() - t0, 2)
    out["load_avg_before_after"] = [load_before, [round(x, 2) for x in os.getloadavg()]]
    _log(
        f"{name} done in {out['section_seconds']} s"
        + (f": {out['error']}" if "error" in out else "")
    )
    return out


def run(plan: Plan, browser: bool, tmp_root: Optional[str] = None) -> Dict[str, Any]:
    """Run every section; returns the JSON-able result (with the Markdown table)."""
    started = time.perf_counter()
    result: Dict[str, Any] = {
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "server": {
            "bind": "127.0.0.1",
            "workers": plan.workers,
            "threads": plan.threads,
            "worker_class": "gthread",
            "chunk_size_mb": 1,
        },
        "plan": plan.as_dict(),
    }
    tmp = Path(tempfile.mkdtemp(prefix="dfc-bench-", dir=tmp_root))
    sections: Dict[str, Any] = {}
    try:
        _log(f"writing test files in {tmp}")
        files = make_files(tmp, plan)
        with GunicornServer(plan.workers, plan.threads, tmp / "cache-main") as server:
            result["server"]["command"] = " ".join(server.command()[1:])
            sections["ondisk"] = _timed("1 on-disk", lambda: section_ondisk(server, files, plan))
            sections["memory_items"] = _timed(
                "2 in-memory items", lambda: section_memory_items(server, files, plan)
            )
            sections["range"] = _timed("3 ranges", lambda: section_range(server, files, plan))
            sections["parallel"] = _timed(
                "4 parallel", lambda: section_parallel(server, files, plan)
            )
        sections["rss"] = _timed(
            "5 worker RSS", lambda: section_rss(tmp / "cache-rss", files, plan)
        )
        sections["dcc"] = _timed(
            "6 dcc.send_file", lambda: section_dcc(tmp / "cache-dcc", files, plan)
        )
        sections["register"] = _timed("7 register", lambda: section_register(tmp, plan))
        sections["writers"] = _timed(
            "9 writers", lambda: section_writers(tmp, plan.writer_size, plan.writer_runs)
        )
        if browser:
            sections["browser"] = _timed(
                "8 browser",
                lambda: section_browser(
                    tmp / "cache-browser",
                    tmp,
                    files["big"],
                    plan.big,
                    plan.workers,
                    plan.threads,
                    plan.request_timeout,
                ),
            )
        else:
            sections["browser"] = {"skipped": "--no-browser"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["sections"] = sections
    result["targets"] = evaluate_targets(sections)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    result["table_md"] = markdown(result)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point; prints the table, writes JSON and Markdown."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few runs (smoke test)")
    parser.add_argument(
        "--browser",
        dest="browser",
        action="store_true",
        default=None,
        help="run the Chromium section (default: on, off with --quick)",
    )
    parser.add_argument("--no-browser", dest="browser", action="store_false")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the results")
    parser.add_argument("--tmp", default=None, help="parent of the temporary directory")
    args = parser.parse_args(argv)

    plan = Plan.quick() if args.quick else Plan()
    browser = (not args.quick) if args.browser is None else args.browser
    result = run(plan, browser, args.tmp)
    result["command"] = "python -m bench.run " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"bench-{'quick-' if args.quick else ''}{stamp}"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{name}.md").write_text(result["table_md"], encoding="utf-8")
    print(result["table_md"])
    met = [t for t in result["targets"] if t["met"] is False]
    print(
        f"JSON: {args.out / (name + '.json')}  ({result['duration_s']} s; "
        f"{len(met)} target(s) missed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
