"""A ``multiprocess`` Manager that never outlives the process that started it.

``multiprocess.Manager()`` shuts its server process down when the creating
process exits normally. Killed by a signal (SIGTERM with the default handler,
SIGKILL, the OOM killer), the creator leaves the Manager running as an orphan
(parent pid 1). :func:`start_manager` starts one that also stops then.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any

import multiprocess
from multiprocess.managers import SyncManager

from ._lifecycle import on_sigterm

__all__ = ["manager_queue", "start_manager"]

_POLL_SECONDS = 0.2


def _exit_with_parent(parent_pid: int) -> None:
    """In the Manager's process: end it as soon as ``parent_pid`` is no longer its parent.

    When the parent dies, the process is re-parented (to init or a subreaper),
    so ``os.getppid()`` changes; polling it works on every POSIX system.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_POLL_SECONDS)
        os._exit(0)  # only proxies' state lives here; nothing to flush

    threading.Thread(target=watch, name="dfc-exit-with-parent", daemon=True).start()


def start_manager(ctx: Any = None) -> SyncManager:
    """Start a ``multiprocess`` Manager bound to this process's life.

    Its server process stops when this process exits (as with
    ``multiprocess.Manager()``), when this process receives SIGTERM (if
    SIGTERM had its default handler; see the README's "Background callbacks")
    and, within a fraction of a second, when this process dies in any other way
    (SIGKILL included). Call ``shutdown()`` to stop it earlier.

    Arguments:
        ctx: a ``multiprocess`` context (e.g. ``multiprocess.get_context("spawn")``);
            the default context by default.

    Raises:
        OSError: the Manager process could not be started.
    """
    manager = SyncManager(ctx=ctx or multiprocess.get_context())
    manager.start(_exit_with_parent, (os.getpid(),))
    # ``shutdown`` is a finalizer that refers to the Manager's process, not to the Manager.
    on_term = on_sigterm(manager.shutdown)
    weakref.finalize(manager, on_term.cancel)
    return manager


def manager_queue() -> Any:
    """A queue of a new :func:`start_manager` Manager, for ``CacheQueue``.

    Pass the function itself as the queue factory,
    ``CacheQueue(16, dfc.manager_queue)``: the cache calls it in the serving
    process (at the latest in ``service.serve(app)``). The queue keeps its
    Manager alive.
    """
    return start_manager().Queue()
