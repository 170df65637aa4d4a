"""The guard on leftovers (``tests/leak_guard.py``) on small inner runs of pytest."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

import psutil
import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/task"), reason="reads the process tree from /proc"
)

#: Inner runs load only the plugin under test (the installed ones, Dash's among them, take
#: seconds to import).
BARE = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

TESTS = """
import os
import subprocess
import sys
import tempfile


def test_clean(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.terminate()
    proc.wait()
    tempfile.TemporaryDirectory(prefix="dfc-tidy-").cleanup()


SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_leaves_a_process():
    subprocess.Popen(SLEEP)
    print("RUN", os.environ["DFC_TEST_RUN"])


def test_leaves_an_orphan():
    # A grandchild whose parent exits at once: re-parented, no longer a descendant.
    code = f"import subprocess; subprocess.Popen({SLEEP!r})"
    subprocess.run([sys.executable, "-c", code], check=True)
    print("RUN", os.environ["DFC_TEST_RUN"])


def test_leaves_a_folder():
    print("TMP", tempfile.mkdtemp(prefix="dfc-left-"))
"""


def run_inner(tmp_path: Path, *selection: str) -> subprocess.CompletedProcess:
    """An inner pytest run, with the guard, of the tests above (``-k`` selection)."""
    (tmp_path / "test_inner.py").write_text(TESTS)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-p", "tests.leak_guard", f"--rootdir={tmp_path}", str(tmp_path / "test_inner.py"),
         *selection],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **BARE},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def marked_alive(run_output: str) -> List[int]:
    """Processes carrying the mark of the inner run (its tests printed it) still alive."""
    run = re.findall(r"RUN ([0-9a-f]+)", run_output)[0]
    alive = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.environ().get("DFC_TEST_RUN") == run:
                alive.append(process.pid)
    return alive


def test_guard_is_quiet_when_nothing_is_left(tmp_path: Path) -> None:
    result = run_inner(tmp_path, "-k", "clean")
    assert result.returncode == 0, result.stdout
    assert "left behind" not in result.stdout


def test_guard_fails_on_a_process_and_names_its_test(tmp_path: Path) -> None:
    result = run_inner(tmp_path, "-k", "clean or leaves_a_process")
    assert result.returncode == 1, result.stdout
    assert "left behind: FAILED" in result.stdout
    assert "started by test_inner.py::test_leaves_a_process" in result.stdout
    assert "test_clean" not in result.stdout.split("left behind")[1]
    assert marked_alive(result.stdout) == []  # and it stopped it


def test_guard_finds_an_orphan_by_its_mark(tmp_path: Path) -> None:
    result = run_inner(tmp_path, "-k", "leaves_an_orphan")
    assert result.returncode == 1, result.stdout
    assert "started by test_inner.py::test_leaves_an_orphan" in result.stdout
    leftover = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "time.sleep(60)" in " ".join(p.info["cmdline"] or [])
    ]
    assert all(os.environ.get("DFC_TEST_RUN") != p.environ().get("DFC_TEST_RUN") for p in leftover)


def test_guard_fails_on_a_folder_and_removes_the_run_directory(tmp_path: Path) -> None:
    before = set(os.listdir(tempfile.gettempdir()))
    result = run_inner(tmp_path, "-k", "leaves_a_folder")
    assert result.returncode == 1, result.stdout
    assert "made by test_inner.py::test_leaves_a_folder" in result.stdout
    made = re.findall(r"TMP (\S+)", result.stdout)[0]
    assert Path(made).name.startswith("dfc-left-")
    assert not Path(made).exists() and not Path(made).parent.exists()
    assert set(os.listdir(tempfile.gettempdir())) - before <= {p.name for p in tmp_path.parents}
