"""0.2.0's ``LRUDict``: a thread-safe mapping keeping its ``maxsize`` most recent items.

Keys are in *priority order*, most recent first: iteration, ``index`` and
``back_index`` use it, ``popitem`` pops the most recent item, and a new key
beyond ``maxsize`` drops the eldest one (the last).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import ItemsView, KeysView, Mapping, MutableMapping, ValuesView
from typing import Any, Iterable, Iterator, Optional, Tuple

__all__ = ["LRUDict"]


class _Peek(Mapping):  # type: ignore[type-arg]
    """A live read-only view of an ``LRUDict`` whose reads do not reorder it."""

    def __init__(self, owner: LRUDict) -> None:
        self._owner = owner

    def __getitem__(self, key: Any) -> Any:
        return self._owner._items[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._owner)

    def __len__(self) -> int:
        return len(self._owner)


def _item_part(end: str, index: int, doc: str) -> Any:
    """A property giving the key (``index`` 0) or the value (1) of the item at ``end``
    (``"recent"`` or ``"eldest"``), read from its ``<end>_item`` property."""
    return property(lambda self: getattr(self, f"{end}_item")[index], doc=doc)


class LRUDict(MutableMapping):  # type: ignore[type-arg]
    """A mapping of at most ``maxsize`` items; setting a new key beyond it drops
    the least recently set or read one.

    ``LRUDict(data=(), *, maxsize=10, **kwargs)``, like ``dict(data, **kwargs)``;
    the last key of ``data`` is the most recent.

    Raises:
        ValueError: ``maxsize`` < 1 (naming it).
    """

    def __init__(self, *args: Any, maxsize: int = 10, **kwargs: Any) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be an int >= 1, got {maxsize!r}.")
        self._maxsize = maxsize
        # Stored eldest first: the end of the OrderedDict is the most recent key.
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.RLock()
        # As dict(data, **kwargs): a repeated key keeps its first place.
        self.update(OrderedDict(*args, **kwargs))

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None, maxsize: int = 10) -> LRUDict:
        """A new ``LRUDict`` with the keys of ``iterable``, each set to ``value``."""
        return cls(((key, value) for key in iterable), maxsize=maxsize)

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
        with self._lock:
            return iter(list(reversed(self._items)))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"LRUDict({dict(self._peek().items())!r}, maxsize={self._maxsize})"

    def __or__(self, other: Mapping) -> LRUDict:  # type: ignore[type-arg]
        merged = self.copy()
        merged.update(other)
        return merged

    def __ior__(self, other: Mapping) -> LRUDict:  # type: ignore[type-arg]
        self.update(other)
        return self

    # -- views and copies (reading them does not reorder) -------------------------------
    def _peek(self) -> _Peek:
        return _Peek(self)

    def keys(self) -> KeysView:  # type: ignore[type-arg]
        return KeysView(self._peek())

    def values(self) -> ValuesView:  # type: ignore[type-arg]
        return ValuesView(self._peek())

    def items(self) -> ItemsView:  # type: ignore[type-arg]
        return ItemsView(self._peek())

    def copy(self) -> LRUDict:
        """A shallow copy, same order and ``maxsize``."""
        with self._lock:
            return LRUDict(list(self._items.items()), maxsize=self._maxsize)

    def reversed(self) -> Iterator[Any]:
        """The keys, eldest first."""
        with self._lock:
            return iter(list(self._items))

    # -- priority order: index 0 is the most recent key ---------------------------------
    def _order(self) -> list:  # type: ignore[type-arg]
        return list(reversed(self._items))

    def _set_order(self, keys: list) -> None:  # type: ignore[type-arg]
        for key in reversed(keys):
            self._items.move_to_end(key)

    def back_index(self, idx: int) -> Any:
        """The key at priority index ``idx`` (negative counts from the eldest)."""
        with self._lock:
            return self._order()[idx]

    def index(self, key: Any) -> int:
        """The priority index of ``key`` (``ValueError`` if absent)."""
        with self._lock:
            return self._order().index(key)

    def reverse(self) -> None:
        """Reverse the priority order."""
        with self._lock:
            self._set_order(self._order()[::-1])

    def rotate(self, n: int = 1) -> None:
        """Rotate the priority order ``n`` steps towards lower priority (like
        ``deque.rotate``); a negative ``n`` rotates towards higher priority."""
        with self._lock:
            keys = self._order()
            if keys:
                n %= len(keys)
                self._set_order(keys[-n:] + keys[:-n] if n else keys)

    recent = _item_part("recent", 0, "The most recent key.")
    eldest = _item_part(
        "eldest", 0, "The eldest key: the one dropped when a new key arrives and the dict is full."
    )
    recent_val = _item_part("recent", 1, "The value of the most recent key.")
    eldest_val = _item_part("eldest", 1, "The value of the eldest key.")

    @property
    def recent_item(self) -> Tuple[Any, Any]:
        """``(key, value)`` of the most recent item (``IndexError`` when empty)."""
        with self._lock:
            key = self._last(True)
            return key, self._items[key]

    @property
    def eldest_item(self) -> Tuple[Any, Any]:
        """``(key, value)`` of the eldest item (``IndexError`` when empty)."""
        with self._lock:
            key = self._last(False)
            return key, self._items[key]

    def _last(self, recent: bool) -> Optional[Any]:
        if not self._items:
            raise IndexError("the LRUDict is empty")
        return next(reversed(self._items)) if recent else next(iter(self._items))

    def recent_popitem(self) -> Tuple[Any, Any]:
        """Remove and return the most recent item (what ``popitem`` does)."""
        with self._lock:
            if not self._items:
                raise KeyError("the LRUDict is empty")
            return self._items.popitem(last=True)

    def eldest_popitem(self) -> Tuple[Any, Any]:
        """Remove and return the eldest item."""
        with self._lock:
            if not self._items:
                raise KeyError("the LRUDict is empty")
            return self._items.popitem(last=False)

    def popitem(self) -> Tuple[Any, Any]:
        return self.recent_popitem()
