"""A guard on what the tests leave behind: processes and temporary folders (a pytest plugin).

Loaded early (``-p tests.leak_guard`` in ``pyproject.toml``), once per test
process (each ``xdist`` worker has its own), it:

- gives the run a private temporary directory (``TMPDIR`` and
  :data:`tempfile.tempdir`), so that the folders a test makes, and those of the
  processes it starts, are told apart from other runs on the machine and from
  the other workers; the directory is removed when the process exits (and,
  should it be killed, by the next run);
- marks each test's processes: ``DFC_TEST_NODE`` (the test's id) and
  ``DFC_TEST_RUN`` are in the environment while a test runs, so every process
  started with it carries them, even one re-parented to init;
- notes, around each test, the processes this process started
  (:func:`psutil.Process.children`) and the ``dfc-*``/``pymp-*`` folders that
  appeared in the temporary directory;
- at the end of the session fails the run if any of those processes (or any
  process carrying this run's mark) is still alive, or any of those folders is
  still there, naming the test that made it; then stops the processes (SIGTERM,
  then SIGKILL), so the run leaves nothing behind even when it fails.

Processes that end with this one by design are not counted: the
``multiprocess``/``multiprocessing`` resource tracker and fork server, and
this process's own ``pymp-*`` folder (removed at its exit).
"""

from __future__ import annotations

import atexit
import contextlib
import fnmatch
import os
import shutil
import sys
import tempfile
import time
import uuid
from typing import Dict, Generator, List, Optional, Set, Tuple

import psutil
import pytest

#: Names of the temporary folders that must not outlive the run.
PATTERNS = ("dfc-*", "pymp-*")
#: Environment variables that mark the processes a test starts.
NODE_VAR = "DFC_TEST_NODE"
RUN_VAR = "DFC_TEST_RUN"
#: Seconds a leftover process has, at the end of the session, to end by itself.
GRACE = 3.0
#: Command-line parts of helper processes that end with the process that started them.
_HELPERS = ("resource_tracker", "forkserver", "semaphore_tracker")

_Key = Tuple[int, float]  # (pid, create time): a process, robust to pid reuse


def _key(process: psutil.Process) -> Optional[_Key]:
    try:
        return process.pid, process.create_time()
    except psutil.Error:
        return None


def _is_helper(process: psutil.Process) -> bool:
    try:
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return True  # gone (or a zombie): nothing to stop
    return any(part in cmdline for part in _HELPERS)


def _children(pid: int) -> List[int]:
    """The children of ``pid`` from ``/proc`` (each thread's list), cheaply."""
    found: List[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
            found.extend(int(child) for child in f.read().split())
    return found


def descendant_pids() -> Set[int]:
    """The pids of every living process this one started, and those they started.

    Read from ``/proc/PID/task/TID/children`` (a fraction of a millisecond,
    so it can run around every test); through psutil where that is missing.
    """
    if not os.path.exists(f"/proc/{os.getpid()}/task"):
        with contextlib.suppress(psutil.Error):
            return {child.pid for child in psutil.Process().children(recursive=True)}
        return set()
    found: Set[int] = set()
    todo = _children(os.getpid())
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(_children(pid))
    return found


def _reap(root: str) -> None:
    """Remove the directories of test processes that were killed (an interrupted run)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(root):
            parts = name.split("-")
            if len(parts) == 3 and parts[0] == "dfct" and parts[1].isdigit():
                if not psutil.pid_exists(int(parts[1])):
                    shutil.rmtree(os.path.join(root, name), ignore_errors=True)


class _Ledger:
    """What each test started: processes by key, folders by name, with the test's id."""

    def __init__(self) -> None:
        self.run = uuid.uuid4().hex
        self.tmp: Optional[str] = None
        self.processes: Dict[_Key, str] = {}
        self.folders: Dict[str, str] = {}
        self.leftovers: List[str] = []

    # -- the private temporary directory -------------------------------------------------
    def make_tmp(self) -> None:
        # pytest's own tmp_path stays where it was: paths below it stay short
        # enough for the Unix sockets some tests make there.
        root = tempfile.gettempdir()
        os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", root)
        _reap(root)
        self.tmp = tempfile.mkdtemp(prefix=f"dfct-{os.getpid()}-", dir=root)
        os.environ["TMPDIR"] = self.tmp
        tempfile.tempdir = self.tmp

    def remove_tmp(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def folders_now(self) -> Set[str]:
        if self.tmp is None:
            return set()
        try:
            names = os.listdir(self.tmp)
        except OSError:
            return set()
        return {n for n in names if any(fnmatch.fnmatchcase(n, p) for p in PATTERNS)}

    def own_folders(self) -> Set[str]:
        """Folders this process removes when it exits: its ``pymp-*`` and spool folders.

        ``CacheQueue`` keeps one spool folder per cache, ``dfc-spool-<pid>-*``,
        for the life of the process that serves it (see ``caches/_spool.py``).
        """
        own = {n for n in self.folders_now() if n.startswith(f"dfc-spool-{os.getpid()}-")}
        for name in ("multiprocess.process", "multiprocessing.process"):
            module = sys.modules.get(name)
            config = getattr(getattr(module, "_current_process", None), "_config", {})
            if config.get("tempdir"):
                own.add(os.path.basename(config["tempdir"]))
        return own

    # -- processes ----------------------------------------------------------------------------
    def note(self, nodeid: str, before: Set[int], before_folders: Set[str]) -> None:
        for pid in descendant_pids() - before:
            with contextlib.suppress(psutil.Error):
                key = _key(psutil.Process(pid))
                if key is not None:
                    self.processes.setdefault(key, nodeid)
        for name in self.folders_now() - before_folders:
            self.folders.setdefault(name, nodeid)

    def marked(self) -> Dict[_Key, str]:
        """Processes carrying this run's mark (children, and orphans re-parented elsewhere)."""
        found: Dict[_Key, str] = {}
        me = os.getpid()
        for process in psutil.process_iter():
            if process.pid == me:
                continue
            try:
                env = process.environ()
            except psutil.Error:
                continue
            if env.get(RUN_VAR) == self.run and env.get(NODE_VAR):
                key = _key(process)
                if key is not None:
                    found[key] = env[NODE_VAR]
        return found

    def alive(self) -> Dict[_Key, Tuple[psutil.Process, str]]:
        candidates = {**self.marked(), **self.processes}
        living: Dict[_Key, Tuple[psutil.Process, str]] = {}
        for (pid, created), nodeid in candidates.items():
            try:
                process = psutil.Process(pid)
                if process.create_time() != created or process.status() == psutil.STATUS_ZOMBIE:
                    continue
            except psutil.Error:
                continue
            if not _is_helper(process):
                living[(pid, created)] = (process, nodeid)
        return living

    # -- the end of the session -------------------------------------------------------------
    def check(self) -> None:
        """Record what is left, then stop those processes and remove those folders."""
        deadline = time.monotonic() + GRACE
        living = self.alive()
        while living and time.monotonic() < deadline:
            time.sleep(0.1)
            living = self.alive()
        for process, nodeid in living.values():
            with contextlib.suppress(psutil.Error):
                what = " ".join(process.cmdline())[:160]
                self.leftovers.append(f"process {process.pid} ({what}) started by {nodeid}")
        processes = [process for process, _ in living.values()]
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.terminate()
        _, rest = psutil.wait_procs(processes, timeout=GRACE)
        for process in rest:
            with contextlib.suppress(psutil.Error):
                process.kill()
        for name in sorted(self.folders_now() - self.own_folders()):
            nodeid = self.folders.get(name, "no test (made outside every test)")
            self.leftovers.append(f"folder {name} made by {nodeid}")
            assert self.tmp is not None
            shutil.rmtree(os.path.join(self.tmp, name), ignore_errors=True)


_ledger = _Ledger()
# Registered at import, before ``multiprocess.util`` registers its own exit
# handler: handlers run last-in first-out, so this process's ``pymp-*``
# folder is removed by ``multiprocess`` before the whole directory is.
atexit.register(_ledger.remove_tmp)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        return  # xdist's controller runs no test: each worker has its own ledger
    os.environ[RUN_VAR] = _ledger.run
    _ledger.make_tmp()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    before, before_folders = descendant_pids(), _ledger.folders_now()
    os.environ[NODE_VAR] = item.nodeid
    try:
        yield
    finally:
        os.environ.pop(NODE_VAR, None)
        _ledger.note(item.nodeid, before, before_folders)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Session fixtures are torn down by now; the shared Redis would be stopped at exit.
    from tests.support.redis import close_shared_redis

    close_shared_redis()
    _ledger.check()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports and fails the run
        worker = os.environ.get("PYTEST_XDIST_WORKER", "a worker")
        workeroutput["dfc_leftovers"] = [f"{line} [{worker}]" for line in _ledger.leftovers]
    elif _ledger.leftovers and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist's controller: take a worker's findings (it ran the tests; this one reports)."""
    output = getattr(node, "workeroutput", None) or {}
    _ledger.leftovers.extend(output.get("dfc_leftovers", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ledger.leftovers:
        return
    terminalreporter.write_sep("=", "left behind: FAILED", red=True)
    terminalreporter.write_line(
        "Every process a test starts must be stopped, and every dfc-*/pymp-* folder it makes "
        "removed, by the end of the test (stopped and removed now):"
    )
    for line in _ledger.leftovers:
        terminalreporter.write_line(f"  {line}")
