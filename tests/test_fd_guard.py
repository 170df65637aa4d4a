"""The descriptor guard of the run (``tests/fd_guard.py``) on a small inner run of pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fd_guard import FAIL_GROWTH, WARN_GROWTH
from tests.support.processes import ROOT

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd"
)

#: Inner runs load only the plugin under test (the installed ones, Dash's among them, take
#: seconds to import).
BARE = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

LEAKY = """
import os

HELD = []


def test_leaks():
    HELD.extend(os.open(os.devnull, os.O_RDONLY) for _ in range({n}))
"""


def run_leaking(tmp_path: Path, n: int) -> subprocess.CompletedProcess:
    """An inner pytest run, with the guard, of one test that leaks ``n`` descriptors."""
    (tmp_path / "test_leaky.py").write_text(LEAKY.format(n=n))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.fd_guard", "-p", "no:cacheprovider",
         str(tmp_path / "test_leaky.py")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **BARE},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_guard_is_quiet_without_growth(tmp_path: Path) -> None:
    result = run_leaking(tmp_path, 0)
    assert result.returncode == 0, result.stdout
    assert "file descriptors" not in result.stdout


def test_guard_lists_the_module_that_grew(tmp_path: Path) -> None:
    result = run_leaking(tmp_path, WARN_GROWTH + 20)
    assert result.returncode == 0, result.stdout
    assert "file descriptors: warning" in result.stdout
    assert "test_leaky" in result.stdout


def test_guard_fails_a_run_that_grew_too_much(tmp_path: Path) -> None:
    result = run_leaking(tmp_path, FAIL_GROWTH + 20)
    assert result.returncode == 1, result.stdout
    assert "file descriptors: FAILED" in result.stdout
    assert "test_leaky" in result.stdout
