"""Scaled-down soak: 1,000 register/serve cycles through each cache with a small bound.

The full run is ``python -m bench.soak`` (10,000 cycles per cache); this runs
the same code, ten times shorter, and asserts the bounds:

- zero errors (every served byte checked, one-time items served once);
- memory: RSS growth after warm-up below a generous 32 MiB (each cycle moves
  up to 64 KiB, so keeping every item would grow it by about 30 MiB);
- item count never above the bound (``CachePlain``/``CacheQueue``: 16 items);
- ``CacheFile``: ``volume()`` never above ``size_limit``, and the real disk
  use of its directory bounded too: ``size_limit`` plus SQLite's write-ahead
  log (at most about 4 MiB) and directories.

Each soak runs in a fresh Python process, so that its RSS holds the soak alone and
not what the test worker's earlier tests left running or allocated.

No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from bench.soak import FILE_LIMIT, PLAIN_ITEMS
from tests.support.processes import ROOT

MB = 1 << 20
CYCLES = 1_000
SOAK = """
import json, sys
from pathlib import Path
from bench.soak import run_soak
print(json.dumps(run_soak(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), seed=42)))
"""


def soak_in_process(kind: str, cycles: int, workdir: Path) -> Dict[str, Any]:
    """``bench.soak.run_soak`` in a fresh interpreter; its result."""
    proc = subprocess.run(
        [sys.executable, "-c", SOAK, kind, str(cycles), str(workdir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("kind", ["plain", "queue", "file"])
def test_soak_bounded(kind: str, tmp_path: Path) -> None:
    """1,000 cycles: no error, flat memory, bounded items and disk."""
    result = soak_in_process(kind, CYCLES, tmp_path)
    summary = {k: v for k, v in result.items() if k != "samples"}
    assert result["errors"] == 0, summary
    assert result["cycles"] == CYCLES and result["requests"] > CYCLES
    assert result["rss_growth"] < 32 * MB, summary
    assert result["evicted_404"] > 0  # the bound really evicted
    if kind == "file":
        assert result["peak_volume"] <= FILE_LIMIT, summary
        assert result["peak_disk"] <= FILE_LIMIT + 8 * MB, summary
        assert result["peak_items"] < CYCLES // 4
    else:
        assert result["peak_items"] <= PLAIN_ITEMS, summary
