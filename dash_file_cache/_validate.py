"""Argument checks shared by the caches and the service.

Each returns the value when it is acceptable, else raises with a message
naming the argument.
"""

from __future__ import annotations

import math
from typing import Optional

__all__ = ["check_bool", "check_int", "check_positive_int", "check_positive_number", "check_str"]


def check_int(name: str, value: object, minimum: int, maximum: Optional[int] = None) -> int:
    """Return ``value`` if it is an ``int`` in ``[minimum, maximum]``.

    Raises:
        TypeError: ``value`` is not an ``int`` (``bool`` is refused too).
        ValueError: ``value`` is out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}.")
    return value


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an ``int`` of at least 1 (see :func:`check_int`)."""
    return check_int(name, value, 1)


def check_positive_number(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is a finite number above 0.

    Raises:
        TypeError: ``value`` is not an ``int`` or ``float`` (``bool`` is refused).
        ValueError: ``value`` is not above 0, or not finite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool``.

    Raises:
        TypeError: ``value`` is not a ``bool``.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}.")
    return value


def check_str(name: str, value: object, non_empty: bool = False) -> str:
    """Return ``value`` if it is a ``str`` (and not empty when ``non_empty``).

    Raises:
        TypeError: ``value`` is not a ``str``.
        ValueError: ``value`` is empty and ``non_empty`` is set.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}.")
    if non_empty and not value:
        raise ValueError(f"{name} must not be empty.")
    return value
