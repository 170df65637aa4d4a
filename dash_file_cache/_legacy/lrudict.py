"""0.2.0's ``LRUDict``: a thread-safe mapping keeping its ``maxsize`` most recent items."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import MutableMapping
from typing import Any, Iterator, TypeVar

__all__ = ["LRUDict"]

K = TypeVar("K")
T = TypeVar("T")


class LRUDict(MutableMapping):  # type: ignore[type-arg]
    """A mapping of at most ``maxsize`` items; setting a new key beyond it drops
    the least recently set or read one.

    ``LRUDict(data=(), *, maxsize=10, **kwargs)``, like ``dict(data, **kwargs)``.

    Raises:
        ValueError: ``maxsize`` < 1 (naming it).
    """

    def __init__(self, *args: Any, maxsize: int = 10, **kwargs: Any) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be an int >= 1, got {maxsize!r}.")
        self._maxsize = maxsize
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.RLock()
        self.update(*args, **kwargs)

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @property
    def is_full(self) -> bool:
        return len(self._items) >= self._maxsize

    def move_to_recent(self, key: Any) -> None:
        """Mark ``key`` as the most recently used (``KeyError`` if absent)."""
        with self._lock:
            self._items.move_to_end(key)

    def __getitem__(self, key: Any) -> Any:
        with self._lock:
            value = self._items[key]
            self._items.move_to_end(key)
            return value

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)

    def __delitem__(self, key: Any) -> None:
        with self._lock:
            del self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"LRUDict({dict(self._items)!r}, maxsize={self._maxsize})"
