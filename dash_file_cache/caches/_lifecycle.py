"""What a process leaves behind: owner tags, reaping, and cleanup on SIGTERM.

A process stopped by SIGTERM with Python's default disposition dies without
running ``atexit`` (so without ``weakref.finalize`` callbacks): a development
server (``app.run()``) stopped that way would leave its temporary directories
and Manager processes behind. This module gives the caches three tools:

- an **owner tag** (pid and process start time) to put in a directory's name,
  so that a later process can tell whether the owner is still alive, even when
  the pid has been reused since;
- :func:`reap_dead_dirs`, which removes the directories of dead owners;
- :func:`on_sigterm`, a registry of cleanups run when SIGTERM arrives, through
  a handler installed only where it changes nothing else (see there).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
from typing import Any, Callable, Dict, Optional, Tuple

__all__ = [
    "SigtermCleanup",
    "on_sigterm",
    "owner_tag",
    "process_alive",
    "process_start_time",
    "reap_dead_dirs",
    "run_cleanups",
    "sigterm_seen",
    "watch_sigterm",
]

_TAG = re.compile(r"p(\d+)-s(\d+|x)-")


def process_start_time(pid: int) -> Optional[str]:
    """The start time of process ``pid`` in clock ticks since boot, as text.

    Read from ``/proc/<pid>/stat`` (Linux); ``None`` where there is no
    ``/proc`` or no such process. A zombie (dead, not yet waited for) counts
    as no process.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]  # field 22 of stat(5)


def process_alive(pid: int, start: Optional[str]) -> bool:
    """Whether process ``pid``, started at ``start`` (``None``: unknown), still runs.

    Errs towards "alive": without a start time to compare, any live process
    with that pid counts as the owner.
    """
    if pid <= 0:
        return True
    current = process_start_time(pid)
    if current is not None:
        return start is None or current == start
    if os.path.isdir("/proc"):  # Linux: no stat means no (live) process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def owner_tag(pid: Optional[int] = None) -> str:
    """``p<pid>-s<start time>-`` for this process (``x`` when unknown), a name part."""
    pid = os.getpid() if pid is None else pid
    return f"p{pid}-s{process_start_time(pid) or 'x'}-"


def reap_dead_dirs(parent: str, prefix: str) -> int:
    """Remove the directories ``<parent>/<prefix><owner tag>...`` whose owner is dead.

    Names without a tag, and those of live owners, are left alone; a directory
    that another reaper removes first is skipped. Returns how many were removed.
    """
    removed = 0
    try:
        names = os.listdir(parent)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(prefix):
            continue
        match = _TAG.match(name, len(prefix))
        if match is None:
            continue
        pid, start = int(match.group(1)), match.group(2)
        if process_alive(pid, None if start == "x" else start):
            continue
        path = os.path.join(parent, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            removed += not os.path.exists(path)
    return removed


# -- cleanup on SIGTERM ---------------------------------------------------------

_lock = threading.RLock()
_cleanups: Dict[int, Tuple[int, Callable[[], None]]] = {}  # id -> (registering pid, cleanup)
_next_id = 0


class SigtermCleanup:
    """A cleanup registered with :func:`on_sigterm`; :meth:`cancel` forgets it."""

    def __init__(self, ident: int) -> None:
        self._id = ident

    def cancel(self) -> None:
        """Forget the cleanup; restore the default handler when none is left."""
        with _lock:
            _cleanups.pop(self._id, None)
            if not _cleanups:
                _uninstall()


def on_sigterm(cleanup: Callable[[], None]) -> SigtermCleanup:
    """Run ``cleanup`` in this process if it receives SIGTERM.

    The handler is installed only if SIGTERM still has the default disposition
    (so a server's own handler, e.g. gunicorn's, is never replaced; those exit
    through ``sys.exit``, where ``atexit`` cleans up) and only from the main
    thread (Python allows no other). On SIGTERM it runs the cleanups registered
    by this very process (a forked child inherits the handler but never cleans
    up for its parent), restores the default disposition and sends SIGTERM
    again, so the process ends exactly as it would have without it. Nothing is
    raised: where no handler can be installed, the cleanup simply waits for
    ``atexit``.
    """
    global _next_id
    with _lock:
        _next_id += 1
        _cleanups[_next_id] = (os.getpid(), cleanup)
        _install()
        return SigtermCleanup(_next_id)


def _install() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        # Ours already (maybe inherited through fork), or the default: nothing else to keep.
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _handle_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        return


def _uninstall() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is _handle_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):
        return


def run_cleanups() -> None:
    """Run now the cleanups this process registered with :func:`on_sigterm`, then forget them.

    The newest run first, as ``atexit`` does; an exception in one is ignored.
    For a process that is ending when SIGTERM is not ours to catch: a server
    that holds its own handler while it loads the app (uvicorn's command
    line) stops gracefully on SIGTERM, then restores the default disposition
    and raises the signal again, so neither :func:`on_sigterm`'s handler nor
    ``atexit`` would run. Its lifespan's end, after :func:`sigterm_seen`, is
    the last Python code it runs (see ``services._asgi.lifespan_ended``).
    """
    pid = os.getpid()
    with _lock:
        mine = [(ident, entry) for ident, entry in _cleanups.items() if entry[0] == pid]
        for ident, _ in mine:
            del _cleanups[ident]
    for _, (_, cleanup) in reversed(mine):
        try:
            cleanup()
        except Exception:
            pass


def _handle_sigterm(signum: int, frame: Any) -> None:
    run_cleanups()
    # End as the default disposition would have: killed by SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


class _Watching:
    """A server's own SIGTERM handler, wrapped to note that the signal came."""

    def __init__(self, handler: Callable[[int, Any], Any]) -> None:
        self.handler = handler
        self.pid = os.getpid()
        self.seen = False

    def __call__(self, signum: int, frame: Any) -> Any:
        self.seen = True
        return self.handler(signum, frame)


def watch_sigterm() -> None:
    """Note SIGTERM from now on, also where a server's own handler catches it.

    That handler is wrapped, not replaced: it still runs, first thing. Only
    from the main thread; where SIGTERM has the default disposition or ours,
    nothing is needed (ours cleans up by itself). Nothing is raised.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        handler = signal.getsignal(signal.SIGTERM)
        ours = handler is _handle_sigterm or isinstance(handler, _Watching)
        if callable(handler) and not ours:
            signal.signal(signal.SIGTERM, _Watching(handler))
    except (ValueError, OSError):
        return


def sigterm_seen() -> bool:
    """Whether SIGTERM reached this process since :func:`watch_sigterm`."""
    try:
        handler = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        return False
    return isinstance(handler, _Watching) and handler.pid == os.getpid() and handler.seen


def _default_in_forked_child() -> None:
    """A forked child (background job, Manager) gets SIGTERM's default disposition back.

    It has nothing of its own to clean up yet, and a Python-level handler would delay its
    death until its main thread runs Python code again (a job cancelled in a long C call).
    """
    try:
        handler = signal.getsignal(signal.SIGTERM)
        if handler is _handle_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        elif isinstance(handler, _Watching):  # the server's own, as it was
            signal.signal(signal.SIGTERM, handler.handler)
    except (ValueError, OSError):
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_default_in_forked_child)
