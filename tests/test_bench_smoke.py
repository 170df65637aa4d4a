"""Smoke tests of the benchmarks: a quick or tiny run writes a JSON of the right shape.

No timing is asserted: the numbers of a quick run on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT

SECTIONS = [
    "ondisk", "memory_items", "range", "parallel", "rss", "dcc", "register", "writers", "browser",
]  # fmt: skip
TARGETS = [
    "ondisk", "range_last", "range_spread", "parallel", "rss", "dcc_time", "dcc_memory",
    "queue_child", "writer_rss",
]  # fmt: skip


def test_bench_quick_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--no-browser", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = list(out.glob("bench-quick-*.json"))
    assert len(files) == 1
    assert files[0].with_suffix(".md").is_file()
    result = json.loads(files[0].read_text(encoding="utf-8"))

    assert set(SECTIONS) <= set(result["sections"])
    for name in SECTIONS[:-1]:
        assert "error" not in result["sections"][name], result["sections"][name]
    assert result["sections"]["browser"] == {"skipped": "--no-browser"}
    assert [t["id"] for t in result["targets"]] == TARGETS
    for target in result["targets"]:
        assert isinstance(target["value"], float)
        assert isinstance(target["met"], bool)
    assert result["server"]["bind"] == "127.0.0.1"
    assert result["machine"]["nproc"] >= 1
    sections = result["sections"]
    for where in ("first", "middle", "last"):
        assert sections["range"][where]["ours_median_ms"] > 0
    assert sections["dcc"]["response_bytes"] > result["plan"]["mid"]
    for cache in ("CachePlain", "CacheQueue", "CacheFile"):
        assert set(sections["register"][cache]) >= {str(s) for s in result["plan"]["reg_sizes"]}
    writers = sections["writers"]
    for case in ("writer_only", "writer", "bytesio"):
        assert writers[case]["median_s"] > 0
    assert result["table_md"].startswith("| Measure |")
    assert "| Measure |" in proc.stdout


def test_bench_finds_chromium_like_the_browser_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.browser import chromium_paths

    monkeypatch.setenv("DASH_TEST_CHROMEPATH", "/opt/chrome/chrome")
    monkeypatch.setenv("DASH_TEST_CHROMEDRIVER", "/opt/chrome/chromedriver")
    assert chromium_paths() == ("/opt/chrome/chrome", "/opt/chrome/chromedriver")
    monkeypatch.delenv("DASH_TEST_CHROMEPATH")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FileNotFoundError, match="DASH_TEST_CHROMEPATH"):
        chromium_paths()


@pytest.mark.xdist_group("radosgw")  # with the other Ceph clusters of the run, one at a time
@pytest.mark.skipif(not shutil.which("radosgw"), reason="Ceph's radosgw is not installed")
def test_bench_s3_tiny_writes_json(tmp_path: Path) -> None:
    """``bench.s3`` on 8 MiB: every case downloads every byte, the writer's figures are there."""
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.s3", "--size-mib", "8", "--parallel-mib", "2",
         "--parallel", "2", "--rounds", "1", "--writer-runs", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("s3-*.json")
    result = json.loads(found.read_text(encoding="utf-8"))
    assert set(result["cases"]) == {
        f"{case}/{kind}" for case in ("file", "s3-stream", "s3-redirect")
        for kind in ("single", "parallel")
    }  # fmt: skip
    for row in result["cases"].values():
        assert row["median_mib_s"] > 0 and row["worker_cpu_per_download"] >= 0
    assert not result["cases"]["s3-stream/single"]["redirected"]
    assert result["cases"]["s3-redirect/single"]["redirected"]
    assert result["cases"]["s3-redirect/parallel"]["redirected"]
    assert result["writer"]["rss_growth_mib"] and result["writer"]["target_mib"] == 64
    assert "| case | server |" in proc.stdout


@pytest.mark.xdist_group("radosgw")  # with the other Ceph clusters of the run, one at a time
@pytest.mark.skipif(not shutil.which("radosgw"), reason="Ceph's radosgw is not installed")
def test_bench_s3_uploads_tiny_writes_json(tmp_path: Path) -> None:
    """``bench.s3_uploads`` on 6 MiB: every case uploads (and checks) every byte; the direct
    case's app worker sends nothing while the through-the-app cases' does."""
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.s3_uploads", "--size-mib", "6", "--rounds", "1",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("s3-uploads-*.json")
    result = json.loads(found.read_text(encoding="utf-8"))
    cases = result["cases"]
    assert set(cases) == {
        f"{cache}/{chunk}" for cache in ("s3", "file") for chunk in ("8", "1", "all")
    } | {"direct/8"}
    for row in cases.values():
        assert row["median_mib_s"] > 0 and len(row["seconds"]) == 1
        assert row["worker_cpu_s"] >= 0 and row["rgw_cpu_s"] >= 0
    assert cases["s3/1"]["worker_cpu_s"] > 0 and cases["s3/1"]["rgw_cpu_s"] > 0
    assert cases["direct/8"]["presign_cpu_s"] > 0
    assert cases["direct/8"]["rgw_cpu_s"] > 0
    assert "| upload | MiB/s median (best) |" in proc.stdout


def test_bench_uploads_tiny_writes_json(tmp_path: Path) -> None:
    """``bench.uploads`` on 16 MiB with one ASGI backend: every case of it and of the peer
    uploads (the bench checks each finished upload's offset) and is in the JSON."""
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.uploads", "--size-mib", "16", "--rounds", "1",
         "--backends", "quart", "--warm-factor", "1", "--tmp", str(tmp_path), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("uploads-*.json")
    result = json.loads(found.read_text(encoding="utf-8"))
    assert result["warm_factor"] == 1
    kinds = ("ours", "plain", "plain-thread")
    assert set(result["cases"]) == {
        f"quart/{kind}/{chunk}" for kind in kinds for chunk in ("8", "64")
    } | {"tuspyserver/tuspyserver/8", "tuspyserver/tuspyserver/64"} | {
        "quart/tuspy/64",
        "tuspyserver/tuspy/64",
    }
    for row in result["cases"].values():
        assert row["median_mib_s"] > 0 and len(row["seconds"]) == 1
    assert "| quart | raw PATCH (ours), 8 MiB |" in proc.stdout
