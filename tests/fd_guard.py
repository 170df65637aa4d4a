"""A guard on the test process's file descriptors (pytest hooks, imported by ``conftest``).

A long run of the suite once held more than 1024 descriptors (caches kept
alive by a framework's module-level caches, each holding its SQLite index
open), past what ``select()``-based code in a test or library accepts. The
guard counts ``/proc/self/fd`` when each test module starts and ends (after a
collection), lists the modules that grew the most when the run as a whole
grew more than :data:`WARN_GROWTH`, and fails the run beyond
:data:`FAIL_GROWTH`. Only on systems with ``/proc/self/fd``.
"""

from __future__ import annotations

import gc
import os
from typing import Dict, List, Optional, Tuple

import pytest

#: Growth over the run that gets the per-module listing in the summary.
WARN_GROWTH = 100
#: Growth over the run that fails it (half the usual 1024 soft limit).
FAIL_GROWTH = 512
_FD_DIR = "/proc/self/fd"


def _count() -> Optional[int]:
    try:
        return len(os.listdir(_FD_DIR))
    except OSError:
        return None


class _Ledger:
    """Descriptor counts at the run's start and at each module's start and end."""

    def __init__(self) -> None:
        self.start: Optional[int] = None
        self.module: Optional[str] = None
        self.module_start = 0
        self.growth: Dict[str, int] = {}

    def enter(self, module: str) -> None:
        if module == self.module:
            return
        self.leave()
        count = _count()
        if count is not None:
            self.module, self.module_start = module, count

    def leave(self) -> None:
        if self.module is None:
            return
        gc.collect()
        count = _count()
        if count is not None:
            self.growth[self.module] = self.growth.get(self.module, 0) + count - self.module_start
        self.module = None

    def total(self) -> Optional[int]:
        count = _count()
        if self.start is None or count is None:
            return None
        return count - self.start

    def worst(self, n: int = 8) -> List[Tuple[str, int]]:
        return sorted(self.growth.items(), key=lambda kv: -kv[1])[:n]


_ledger = _Ledger()


def pytest_sessionstart(session: pytest.Session) -> None:
    _ledger.start = _count()


def pytest_runtest_setup(item: pytest.Item) -> None:
    module = getattr(item, "module", None)
    if module is not None:
        _ledger.enter(module.__name__)


#: xdist's controller: ``(worker, growth, worst modules)`` of each worker (they run the tests).
_workers: List[Tuple[str, int, List[Tuple[str, int]]]] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _ledger.leave()
    growth = _ledger.total()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports and fails the run
        workeroutput["dfc_fd_growth"] = (growth, _ledger.worst())
        return
    worst = max([growth or 0] + [grown for _, grown, _ in _workers])
    if worst > FAIL_GROWTH and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist's controller: take a worker's descriptor growth."""
    output = getattr(node, "workeroutput", None) or {}
    growth, worst = output.get("dfc_fd_growth", (None, []))
    if growth is not None:
        worker = str(getattr(getattr(node, "gateway", None), "id", "?"))
        _workers.append((worker, growth, worst))


def _report(
    terminalreporter: pytest.TerminalReporter, who: str, growth: int, worst: List[Tuple[str, int]]
) -> None:
    verdict = "FAILED" if growth > FAIL_GROWTH else "warning"
    terminalreporter.write_sep("=", f"file descriptors: {verdict}", red=True)
    terminalreporter.write_line(
        f"{who} holds {growth} more descriptors than when the run started "
        f"(fails beyond {FAIL_GROWTH}). Growth per module:"
    )
    for module, grown in worst:
        terminalreporter.write_line(f"  {grown:+5d}  {module}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    growth = _ledger.total()
    if growth is not None and growth > WARN_GROWTH and not _workers:
        _report(terminalreporter, "The test process", growth, _ledger.worst())
    for worker, grown, worst in _workers:
        if grown > WARN_GROWTH:
            _report(terminalreporter, f"The test process of worker {worker}", grown, worst)
