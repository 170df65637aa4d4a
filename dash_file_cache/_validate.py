"""Argument checks shared by the caches and the service."""

from __future__ import annotations

__all__ = ["check_positive_int"]


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an ``int`` of at least 1.

    Raises:
        TypeError: ``value`` is not an ``int`` (``bool`` is refused too).
        ValueError: ``value`` is smaller than 1.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}.")
    return value
