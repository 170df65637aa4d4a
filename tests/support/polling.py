"""Polling: wait on a condition instead of sleeping a fixed time."""

from __future__ import annotations

import subprocess
import time
from typing import Callable, Optional, TypeVar

import requests

T = TypeVar("T")


def _poll(predicate: Callable[[], T], timeout: float, step: float) -> Optional[T]:
    """Call ``predicate`` until it returns something truthy; return that, or ``None``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; return whether it was."""
    return _poll(predicate, timeout, step) is not None


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy, and return it.

    Raises:
        AssertionError: nothing truthy within ``timeout`` seconds.
    """
    value = _poll(predicate, timeout, 0.05)
    if value is None:
        raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
    return value


def wait_http(
    url: str,
    timeout: float = 60.0,
    proc: Optional[subprocess.Popen] = None,
    status: Optional[int] = None,
) -> None:
    """Wait until ``url`` answers (with ``status``, if given).

    Raises:
        RuntimeError: ``proc`` exited first.
        TimeoutError: no answer within ``timeout`` seconds.
    """

    def answered() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            code = requests.get(url, timeout=5).status_code
        except requests.RequestException:
            return False
        return status is None or code == status

    if not wait_until(answered, timeout, 0.1):
        raise TimeoutError(url)
