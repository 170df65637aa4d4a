"""Hand large items from child processes to the serving process through files.

Pickling a large payload onto a ``multiprocess.Manager().Queue()`` copies it
twice (child -> manager -> server). Instead, the child writes the content to a
file in a *spool directory* and puts only the file's name on the queue; the
serving process takes ownership of the file and deletes it when the item goes.

Nothing is left behind:

- a file is named ``<server token>-<writer pid>-<random>.item``; the serving
  process periodically deletes its files whose writer died without handing
  them over (:func:`sweep`), after draining the queue once more, so a file
  whose name is already queued is never taken for an orphan;
- the spool directory is ``dfc-spool-<pid>-*`` in the temporary directory,
  removed when the process that created it exits normally; directories of
  processes that died (``SIGKILL``) are removed by the next :func:`create_spool`
  on the host.
"""

from __future__ import annotations

import atexit
import errno
import functools
import os
import re
import secrets
import shutil
import tempfile
from typing import IO, Callable, List

from ._lifecycle import on_sigterm

__all__ = [
    "SPOOL_MIN_BYTES",
    "OwnedPath",
    "create_spool",
    "orphans",
    "spool_write",
]

#: Content at least this large goes through a spool file rather than the queue.
SPOOL_MIN_BYTES = 1 << 20
_PREFIX = "dfc-spool-"
_DIR_RE = re.compile(rf"{_PREFIX}(\d+)-")
_FILE_RE = re.compile(r"([0-9a-f]+)-(\d+)-[0-9a-f]+\.item")
_COPY_CHUNK = 1 << 20


class OwnedPath(str):
    """The path of a spool file owned by the serving process: deleted with its item."""

    def discard(self) -> None:
        """Delete the file (already gone is fine)."""
        try:
            os.unlink(self)
        except FileNotFoundError:
            pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _remove_tree_if_mine(path: str, pid: int) -> None:
    # atexit handlers are inherited by forked children; only the creator removes.
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def create_spool() -> str:
    """Create this process's spool directory; reap those of dead processes first.

    Raises:
        OSError: the temporary directory is not writable.
    """
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        names = []
    for name in names:
        match = _DIR_RE.match(name)
        if match and not _pid_alive(int(match.group(1))):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    pid = os.getpid()
    path = tempfile.mkdtemp(prefix=f"{_PREFIX}{pid}-", dir=root)
    atexit.register(_remove_tree_if_mine, path, pid)
    on_sigterm(functools.partial(_remove_tree_if_mine, path, pid))  # SIGTERM skips atexit
    return path


def spool_write(spool: str, server_token: str, data: IO[bytes], head: bytes) -> str:
    """Write ``head`` then the rest of ``data`` to a new spool file; return its path.

    Arguments:
        spool: the spool directory of the serving process.
        server_token: token of the process that will own the file.
        data: the rest of the content (read to its end).
        head: content already read from ``data``.

    Raises:
        OSError: the file could not be written; nothing is left behind.
    """
    name = f"{server_token}-{os.getpid()}-{secrets.token_hex(8)}.item"
    path = os.path.join(spool, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(fd, "wb", closefd=True) as out:
            out.write(head)
            shutil.copyfileobj(data, out, _COPY_CHUNK)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    return path


def orphans(spool: str, server_token: str, owned: Callable[[str], bool]) -> List[str]:
    """Spool files for ``server_token`` whose writer is dead and that are not owned."""
    try:
        names = os.listdir(spool)
    except OSError:
        return []
    found = []
    for name in names:
        match = _FILE_RE.fullmatch(name)
        if not match or match.group(1) != server_token:
            continue
        path = os.path.join(spool, name)
        if not owned(path) and not _pid_alive(int(match.group(2))):
            found.append(path)
    return found
